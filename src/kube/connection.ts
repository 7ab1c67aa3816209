// A light connection to the API server (the plugin and the webhook): the server URL, TLS
// material and a bearer token, from the kubeconfig kubectl would load (kubeconfig.ts) or the
// in-cluster service account. It reads the common kubeconfig forms itself (certificate, key, CA, token,
// tokenFile, inline *-data) and loads @kubernetes/client-node — some 80 MB of code — only for
// users with exec or auth-provider plugins.
import { readFileSync, statSync } from "node:fs";
import type { RequestOptions } from "node:https";
import path from "node:path";
import { isEmptyKubeconfig, loadKubeconfig } from "./kubeconfig.ts";

export interface ConnectOptions {
  /** --kubeconfig; else $KUBECONFIG (merged); else ~/.kube/config; else in-cluster. */
  kubeconfig?: string;
  /** --context */
  context?: string;
}

export interface Connection {
  /** https://host:port (no trailing slash). */
  server: string;
  /** The namespace of the context (the service account's in a cluster), if it names one. */
  namespace?: string;
  /** Adds TLS material and credentials to request options (fresh: token files rotate). */
  apply(opts: RequestOptions): Promise<void>;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** A file whose contents are re-read when its modification time changes. */
function freshFile(file: string): () => string {
  let mtime = -1;
  let text = "";
  return () => {
    try {
      const m = statSync(file).mtimeMs;
      if (m !== mtime) {
        text = readFileSync(file, "utf8").trim();
        mtime = m;
      }
    } catch {
      // keep the last good value
    }
    return text;
  };
}

function inCluster(): Connection {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) {
    throw new Error(
      "no kubeconfig found ($KUBECONFIG, ~/.kube/config) and not running in a cluster: pass --kubeconfig",
    );
  }
  const ca = readFileSync(path.join(SA_DIR, "ca.crt"));
  const token = freshFile(path.join(SA_DIR, "token"));
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let namespace: string | undefined;
  try {
    namespace = readFileSync(path.join(SA_DIR, "namespace"), "utf8").trim() || undefined;
  } catch {
    namespace = undefined;
  }
  return {
    server,
    namespace,
    async apply(opts) {
      opts.ca = ca;
      opts.headers = { ...opts.headers, authorization: `Bearer ${token()}` };
    },
  };
}

/** The connection kubectl would use for these options. */
export async function connect(opts: ConnectOptions = {}): Promise<Connection> {
  const { config: cfg, files, missing } = loadKubeconfig(opts.kubeconfig);
  if (isEmptyKubeconfig(cfg)) {
    if (process.env.KUBERNETES_SERVICE_HOST) return inCluster();
    const tried = missing.length ? ` (no kubeconfig at ${missing.join(", ")})` : "";
    throw new Error(
      `invalid configuration: no configuration has been provided${tried} and not running in a cluster: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config`,
    );
  }
  const where = files.length === 1 ? files[0] : files.join(path.delimiter);
  const ctxName = opts.context || cfg["current-context"];
  if (!ctxName) {
    throw new Error(
      `the kubeconfig ${where} has no current-context: pass --context or run 'kubectl config use-context'`,
    );
  }
  const ctx = cfg.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`context "${ctxName}" does not exist in the kubeconfig ${where}`);
  const cluster = cfg.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== "string") {
    throw new Error(`cluster "${ctx.cluster ?? ""}" of context "${ctxName}" has no server in ${where}`);
  }
  const namespace = ctx.namespace || undefined;
  const user = cfg.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (user.exec || user["auth-provider"]) {
    // Plugins: let the full client do it (on the merged kubeconfig, paths already absolute).
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromString(JSON.stringify(cfg));
    kc.setCurrentContext(ctxName);
    return {
      server: String(cluster.server).replace(/\/$/, ""),
      namespace,
      apply: (o) => kc.applyToHTTPSOptions(o),
    };
  }
  const material = (data: unknown, ref: unknown): Buffer | undefined => {
    if (typeof data === "string" && data) return Buffer.from(data, "base64");
    if (typeof ref === "string" && ref) return readFileSync(ref);
    return undefined;
  };
  const ca = material(cluster["certificate-authority-data"], cluster["certificate-authority"]);
  const cert = material(user["client-certificate-data"], user["client-certificate"]);
  const key = material(user["client-key-data"], user["client-key"]);
  const insecure = cluster["insecure-skip-tls-verify"] === true;
  const tokenFile = typeof user.tokenFile === "string" ? freshFile(user.tokenFile) : undefined;
  const token = typeof user.token === "string" ? user.token : undefined;
  const basic =
    typeof user.username === "string" ? `${user.username}:${String(user.password ?? "")}` : undefined;
  const tlsServerName =
    typeof cluster["tls-server-name"] === "string" ? cluster["tls-server-name"] : undefined;
  return {
    server: cluster.server.replace(/\/$/, ""),
    namespace,
    async apply(o) {
      if (ca) o.ca = ca;
      if (cert) o.cert = cert;
      if (key) o.key = key;
      if (insecure) o.rejectUnauthorized = false;
      if (tlsServerName) o.servername = tlsServerName;
      const bearer = tokenFile?.() || token;
      if (bearer) o.headers = { ...o.headers, authorization: `Bearer ${bearer}` };
      else if (basic) o.auth = basic;
    },
  };
}
