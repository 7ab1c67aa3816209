// The webhook as its own process for the integration tests: cmd/vol-webhook with a serving
// certificate of a test CA, running as the user "vol-webhook" bound to webhookClusterRole() only
// (so RBAC proves that role is enough), ready on /readyz.
import { writeFile } from "node:fs/promises";
import https from "node:https";
import path from "node:path";
import { repoRoot } from "../../src/localcluster/assets.ts";
import { createCA } from "../../src/localcluster/certs.ts";
import type { ControlPlane } from "../../src/localcluster/control-plane.ts";
import { freePort, type Proc, type Session, waitUntil } from "../../src/localcluster/session.ts";
import { WEBHOOK_NODE_FLAGS, webhookClusterRole } from "../../src/webhook/config.ts";

export interface WebhookProcess {
  proc: Proc;
  /** https://127.0.0.1:<port> */
  url: string;
  /** The CA that signed its serving certificate (PEM). */
  caPem: string;
}

/** A GET over HTTPS trusting `caPem`: the status and the body. */
export function httpsGet(url: string, caPem: string): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: caPem, timeout: 3000 }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

/** A kubeconfig at `file` for the control plane's server, as the user of a client certificate. */
export async function clientKubeconfig(
  cp: ControlPlane,
  file: string,
  user: { name: string; cert: string; key: string },
): Promise<string> {
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: cp.server, "certificate-authority": cp.ca.cert } }],
      users: [{ name: user.name, user: { "client-certificate": user.cert, "client-key": user.key } }],
      contexts: [{ name: "c", context: { cluster: "c", user: user.name } }],
      "current-context": "c",
    }),
  );
  return file;
}

/** kubectl against the control plane, to its end: the exit code and output, never throwing. */
export async function kubectlResult(
  cp: ControlPlane,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await cp.kubectl(args, input);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export async function startWebhook(cp: ControlPlane, session: Session): Promise<WebhookProcess> {
  const ca = await createCA(session.dir, "vol-webhook test CA");
  const serving = await ca.issue("webhook", { cn: "vol-webhook", sans: ["IP:127.0.0.1"] });
  const caPem = await ca.pem();
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const role = webhookClusterRole();
  const binding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "vol-webhook" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata?.name },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "vol-webhook" }],
  };
  await cp.kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({ apiVersion: "v1", kind: "List", items: [role, binding] }),
  );
  const client = await cp.ca.issue("vol-webhook-client", { cn: "vol-webhook", client: true });
  const kubeconfig = await clientKubeconfig(cp, session.path("webhook.kubeconfig"), {
    name: "vol-webhook",
    ...client,
  });
  const proc = session.start("vol-webhook", process.execPath, [
    ...WEBHOOK_NODE_FLAGS,
    path.join(repoRoot, "cmd/vol-webhook/main.ts"),
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    "--bind-address=127.0.0.1",
    `--port=${port}`,
    `--kubeconfig=${kubeconfig}`,
  ]);
  await waitUntil(
    "vol-webhook /readyz",
    async () => {
      if (!proc.running) throw new Error(`vol-webhook exited:\n${proc.logTail()}`);
      return (await httpsGet(`${url}/readyz`, caPem)).code === 200;
    },
    60_000,
    () => proc.logTail(),
  );
  return { proc, url, caPem };
}
