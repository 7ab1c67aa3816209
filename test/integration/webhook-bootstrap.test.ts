// The self-signed certificate bootstrap against a real kube-apiserver: the Secret is made once,
// both webhook configurations of the manifests get the CA, and the certificate verifies for the
// Service's names with that CA.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/localcluster/assets.ts";
import { type ControlPlane, startControlPlane } from "../../src/localcluster/control-plane.ts";

const run = promisify(execFile);
let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane({ snapshotCRDs: false });
  await cp.kubectl(["create", "namespace", "vol-system"]);
  await cp.kubectl(["apply", "-f", path.join(repoRoot, "manifests/base/webhook-configurations.yaml")]);
});
afterAll(async () => {
  await cp?.stop();
});

const bootstrap = (outDir: string) =>
  run(
    process.execPath,
    [
      path.join(repoRoot, "cmd/vol-webhook/main.ts"),
      "bootstrap-certs",
      "--namespace=vol-system",
      "--secret=vol-webhook-tls",
      "--service=vol-webhook",
      "--webhook-configuration=vol-webhook",
      `--out-dir=${outDir}`,
      `--kubeconfig=${cp.kubeconfig}`,
    ],
    { timeout: 60_000 },
  );

describe("vol-webhook bootstrap-certs", () => {
  it("makes the Secret once, writes the files and fills both caBundles", async () => {
    const first = await bootstrap(cp.session.path("pod-1"));
    expect(JSON.parse(first.stdout)).toMatchObject({ created: true });
    const second = await bootstrap(cp.session.path("pod-2"));
    expect(JSON.parse(second.stdout)).toMatchObject({ created: false, patched: [] });
    const crt1 = await readFile(cp.session.path("pod-1/tls.crt"), "utf8");
    expect(await readFile(cp.session.path("pod-2/tls.crt"), "utf8")).toBe(crt1);

    for (const kind of ["mutatingwebhookconfiguration", "validatingwebhookconfiguration"]) {
      const { stdout } = await cp.kubectl(["get", kind, "vol-webhook", "-o", "json"]);
      const cfg = JSON.parse(stdout) as { webhooks: { clientConfig: { caBundle?: string } }[] };
      const bundles = new Set(cfg.webhooks.map((w) => w.clientConfig.caBundle));
      expect(bundles.size).toBe(1);
      const ca = Buffer.from([...bundles][0] ?? "", "base64").toString("utf8");
      const caFile = cp.session.path(`${kind}-ca.pem`);
      await writeFile(caFile, ca);
      const verify = await run("openssl", [
        "verify",
        "-CAfile",
        caFile,
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "vol-webhook.vol-system.svc",
        cp.session.path("pod-1/tls.crt"),
      ]);
      expect(verify.stdout).toMatch(/OK/);
    }
  });

  it("exits 2 naming the missing flags", async () => {
    const err = await run(process.execPath, [
      path.join(repoRoot, "cmd/vol-webhook/main.ts"),
      "bootstrap-certs",
    ]).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(
      /missing --namespace, --secret, --service, --webhook-configuration, --out-dir/,
    );
  });
});
