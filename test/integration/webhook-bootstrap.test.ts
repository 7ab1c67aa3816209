// The self-signed certificate bootstrap against a real kube-apiserver: the Secret is made once
// (with the CA's key), both webhook configurations of the manifests get the CA, the certificate
// verifies for the Service's names with that CA, and one near its end is renewed from that CA.
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/localcluster/assets.ts";
import { type ControlPlane, startControlPlane } from "../../src/localcluster/control-plane.ts";
import { serviceNames } from "../../src/webhook/bootstrap.ts";
import { issueServing } from "../../src/webhook/selfsigned.ts";
import { clientKubeconfig } from "./webhook-process.ts";

const run = promisify(execFile);
const YEAR = 365 * 24 * 3600 * 1000;
let cp: ControlPlane;
/** A kubeconfig of the webhook's ServiceAccount (a client certificate with its user name). */
let podKubeconfig: string;
beforeAll(async () => {
  cp = await startControlPlane({ snapshotCRDs: false });
  await cp.kubectl(["create", "namespace", "vol-system"]);
  await cp.kubectl(["apply", "-f", path.join(repoRoot, "manifests/base/webhook-configurations.yaml")]);
  // The init container runs as the webhook's ServiceAccount with only the overlay's RBAC.
  await cp.kubectl([
    "apply",
    "-n",
    "vol-system",
    "-f",
    path.join(repoRoot, "manifests/overlays/self-signed/bootstrap-rbac.yaml"),
  ]);
  const client = await cp.ca.issue("bootstrap-client", {
    cn: "system:serviceaccount:vol-system:vol-webhook",
    client: true,
  });
  podKubeconfig = await clientKubeconfig(cp, cp.session.path("pod.kubeconfig"), { name: "sa", ...client });
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
      `--kubeconfig=${podKubeconfig}`,
    ],
    { timeout: 60_000 },
  );

describe("vol-webhook bootstrap-certs", () => {
  it("makes the Secret once, writes the files and fills both caBundles, with the overlay's RBAC alone", async () => {
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

  it("keeps the CA's key and renews a serving certificate near its end from it", async () => {
    const read = async () => {
      const { stdout } = await cp.kubectl([
        "-n",
        "vol-system",
        "get",
        "secret",
        "vol-webhook-tls",
        "-o",
        "json",
      ]);
      const data = (JSON.parse(stdout) as { data: Record<string, string> }).data;
      return Object.fromEntries(
        Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]),
      );
    };
    const before = await read();
    expect(Object.keys(before).sort()).toEqual(["ca.crt", "ca.key", "tls.crt", "tls.key"]);
    // Age the serving certificate: one from the same CA with a year left of five.
    const now = Date.now();
    const old = issueServing(
      {
        certPem: before["ca.crt"] ?? "",
        keyPem: before["ca.key"] ?? "",
        commonName: "kubectl-vol webhook CA",
      },
      {
        commonName: "vol-webhook.vol-system.svc",
        dnsNames: serviceNames("vol-webhook", "vol-system"),
        notBefore: new Date(now - 4 * YEAR),
        notAfter: new Date(now + YEAR),
      },
    );
    const b64 = (t: string) => Buffer.from(t).toString("base64");
    const patch = { data: { "tls.crt": b64(old.certPem), "tls.key": b64(old.keyPem) } };
    await cp.kubectl([
      "-n",
      "vol-system",
      "patch",
      "secret",
      "vol-webhook-tls",
      "--type=merge",
      "-p",
      JSON.stringify(patch),
    ]);
    const out = await bootstrap(cp.session.path("pod-3"));
    expect(JSON.parse(out.stdout)).toMatchObject({
      msg: "certificates ready",
      component: "vol-webhook",
      created: false,
      renewed: true,
      patched: [],
    });
    const after = await read();
    expect(after["ca.crt"]).toBe(before["ca.crt"]);
    expect(after["tls.crt"]).not.toBe(old.certPem);
    const served = await readFile(cp.session.path("pod-3/tls.crt"), "utf8");
    expect(served).toBe(after["tls.crt"]);
    expect(new X509Certificate(served).verify(new X509Certificate(before["ca.crt"] ?? "").publicKey)).toBe(
      true,
    );
    expect(Date.parse(new X509Certificate(served).validTo)).toBeGreaterThan(now + 4 * YEAR);
    // Written durably and privately: the key is the server's alone.
    expect((await stat(cp.session.path("pod-3/tls.key"))).mode & 0o777).toBe(0o600);
    // The next pod finds nothing to renew.
    const again = await bootstrap(cp.session.path("pod-4"));
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false, renewed: false });
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
