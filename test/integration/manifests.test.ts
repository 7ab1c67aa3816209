// The manifests install on a real kube-apiserver: every object passes the server's own
// validation (and the CRDs' schemas) in a server-side dry run, for the default install and for
// each overlay.
import { readdir } from "node:fs/promises";
import path from "node:path";
import { loadAllYaml } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assets, repoRoot } from "../../src/localcluster/assets.ts";
import { type ControlPlane, startControlPlane } from "../../src/localcluster/control-plane.ts";
import { WEBHOOK_ENV, WEBHOOK_NODE_FLAGS, webhookClusterRole } from "../../src/webhook/config.ts";

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
  const { "cert-manager-crds": dir } = await assets("cert-manager-crds");
  for (const f of (await readdir(dir)).filter((x) => x.endsWith(".yaml"))) {
    await cp.kubectl(["apply", "--server-side", "-f", path.join(dir, f)]);
  }
  await cp.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
  // Namespaced objects need their namespace to exist for a server-side dry run.
  await cp.kubectl(["create", "namespace", "vol-system"]);
});
afterAll(async () => {
  await cp?.stop();
});

const installs = [
  "manifests",
  "manifests/base",
  "manifests/overlays/self-signed",
  "manifests/overlays/cert-manager",
];

describe("manifests", () => {
  it.each(installs)("kubectl apply --dry-run=server -k %s succeeds", async (dir) => {
    const { stdout } = await cp.kubectl(["apply", "--dry-run=server", "-k", path.join(repoRoot, dir)]);
    expect(stdout).toMatch(/csidriver.storage.k8s.io\/vol.kubectl.io created \(server dry run\)/);
    expect(stdout).toMatch(/daemonset.apps\/vol-csi-node created \(server dry run\)/);
    expect(stdout).toMatch(
      /volumesnapshotclass.snapshot.storage.k8s.io\/vol-snapshots created \(server dry run\)/,
    );
    expect(stdout).toMatch(
      /validatingwebhookconfiguration.admissionregistration.k8s.io\/vol-webhook created/,
    );
    expect(stdout).toMatch(
      /customresourcedefinition.apiextensions.k8s.io\/snapshotschedules.vol.kubectl.io created \(server dry run\)/,
    );
    expect(stdout).toMatch(/deployment.apps\/vol-controller created \(server dry run\)/);
    if (dir.endsWith("cert-manager"))
      expect(stdout).toMatch(/certificate.cert-manager.io\/vol-webhook-tls created/);
  });

  it("pins every upstream image to a version tag", async () => {
    const { stdout } = await cp.kubectl(["kustomize", path.join(repoRoot, "manifests")]);
    const images = [...stdout.matchAll(/image: (\S+)/g)].map((m) => m[1] ?? "");
    // vol-csi, csi-provisioner, csi-snapshotter, csi-resizer, the webhook, snapshot-controller.
    expect(images.length).toBeGreaterThanOrEqual(6);
    for (const image of images) expect(image).toMatch(/:v\d+\.\d+\.\d+$/);
  });

  it("grants the webhook exactly what its caches watch", async () => {
    const { stdout } = await cp.kubectl(["kustomize", path.join(repoRoot, "manifests/base")]);
    const docs = loadAllYaml(stdout) as {
      kind: string;
      metadata: { name: string };
      rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    }[];
    const role = docs.find((d) => d.kind === "ClusterRole" && d.metadata.name === "vol-webhook");
    const flat = (rules: { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[] = []) =>
      rules
        .flatMap((r) =>
          (r.apiGroups ?? []).flatMap((g) =>
            (r.resources ?? []).map((res) => `${g}/${res}:${[...(r.verbs ?? [])].sort().join(",")}`),
          ),
        )
        .sort();
    expect(flat(role?.rules)).toEqual(flat(webhookClusterRole().rules));
  });

  it("runs the webhook with the Node flags and environment it is benchmarked with", async () => {
    const { stdout } = await cp.kubectl(["kustomize", path.join(repoRoot, "manifests/base")]);
    const docs = loadAllYaml(stdout) as {
      kind: string;
      metadata: { name: string };
      spec?: {
        template?: { spec?: { containers?: { name: string; env?: { name: string; value?: string }[] }[] } };
      };
    }[];
    const deployment = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "vol-webhook");
    const container = deployment?.spec?.template?.spec?.containers?.find((c) => c.name === "webhook");
    const env = Object.fromEntries((container?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toEqual({ NODE_OPTIONS: WEBHOOK_NODE_FLAGS.join(" "), ...WEBHOOK_ENV });
  });

  it("leaves kube-system and our own namespace out of the webhook", async () => {
    const { stdout } = await cp.kubectl(["kustomize", path.join(repoRoot, "manifests")]);
    expect(stdout).toMatch(/values:\s*\n\s*- kube-system/);
    expect(stdout).toMatch(/sideEffects: None/);
    // Every webhook fails open except the content labeller, which fails closed (see the file).
    expect(stdout.match(/failurePolicy: \w+/g)?.filter((p) => p !== "failurePolicy: Ignore")).toEqual([
      "failurePolicy: Fail",
    ]);
  });
});
