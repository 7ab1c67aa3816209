// A light connection to the API server for long-running servers (the webhook): the server URL,
// TLS material and a bearer token, from a kubeconfig (kubectl's precedence) or the in-cluster
// service account. It reads the common kubeconfig forms itself (certificate, key, CA, token,
// tokenFile, inline *-data) and loads @kubernetes/client-node — some 80 MB of code — only for
// users with exec or auth-provider plugins.
import { existsSync, readFileSync, statSync } from "node:fs";
import type { RequestOptions } from "node:https";
import os from "node:os";
import path from "node:path";
import { load } from "js-yaml";
import type { ConnectOptions } from "./client.ts";

export interface Connection {
  /** https://host:port (no trailing slash). */
  server: string;
  /** Adds TLS material and credentials to request options (fresh: token files rotate). */
  apply(opts: RequestOptions): Promise<void>;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

interface KubeconfigFile {
  "current-context"?: string;
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
  contexts?: { name: string; context: { cluster?: string; user?: string; namespace?: string } }[];
}

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

function kubeconfigPath(explicit?: string): string | undefined {
  if (explicit) return explicit;
  const env = process.env.KUBECONFIG?.split(path.delimiter).find((p) => p && existsSync(p));
  if (env) return env;
  const home = path.join(os.homedir(), ".kube", "config");
  return existsSync(home) ? home : undefined;
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
  return {
    server,
    async apply(opts) {
      opts.ca = ca;
      opts.headers = { ...opts.headers, authorization: `Bearer ${token()}` };
    },
  };
}

/** The connection kubectl would use for these options. */
export async function connect(opts: ConnectOptions = {}): Promise<Connection> {
  const file = kubeconfigPath(opts.kubeconfig);
  if (!file) return inCluster();
  const cfg = (load(readFileSync(file, "utf8")) ?? {}) as KubeconfigFile;
  const ctxName = opts.context ?? cfg["current-context"];
  const ctx = cfg.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`context "${ctxName ?? ""}" does not exist in the kubeconfig ${file}`);
  const cluster = cfg.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== "string") {
    throw new Error(`cluster "${ctx.cluster ?? ""}" of context "${ctxName}" has no server in ${file}`);
  }
  const user = cfg.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (user.exec || user["auth-provider"]) {
    // Plugins: let the full client do it.
    const { KubeConfig } = await import("@kubernetes/client-node");
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    if (opts.context) kc.setCurrentContext(opts.context);
    return { server: String(cluster.server).replace(/\/$/, ""), apply: (o) => kc.applyToHTTPSOptions(o) };
  }
  const dir = path.dirname(file);
  const material = (data: unknown, ref: unknown): Buffer | undefined => {
    if (typeof data === "string" && data) return Buffer.from(data, "base64");
    if (typeof ref === "string" && ref) return readFileSync(path.resolve(dir, ref));
    return undefined;
  };
  const ca = material(cluster["certificate-authority-data"], cluster["certificate-authority"]);
  const cert = material(user["client-certificate-data"], user["client-certificate"]);
  const key = material(user["client-key-data"], user["client-key"]);
  const insecure = cluster["insecure-skip-tls-verify"] === true;
  const tokenFile =
    typeof user.tokenFile === "string" ? freshFile(path.resolve(dir, user.tokenFile)) : undefined;
  const token = typeof user.token === "string" ? user.token : undefined;
  const basic =
    typeof user.username === "string" ? `${user.username}:${String(user.password ?? "")}` : undefined;
  const tlsServerName =
    typeof cluster["tls-server-name"] === "string" ? cluster["tls-server-name"] : undefined;
  return {
    server: cluster.server.replace(/\/$/, ""),
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
