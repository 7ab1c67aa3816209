// Paths of the real upstream parts (etcd, kube-apiserver, ...), built and cached by scripts/bins.sh.
import { execFile } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export type AssetName =
  | "etcd"
  | "kube-apiserver"
  | "kube-controller-manager"
  | "kube-scheduler"
  | "kubectl"
  | "kubelet"
  | "containerd"
  | "ctr"
  | "containerd-shim-runc-v2"
  | "kubelet-proto"
  | "csi-sanity"
  | "csi-provisioner"
  | "csi-resizer"
  | "csi-snapshotter"
  | "snapshot-controller"
  | "snapshot-crds"
  | "cert-manager-crds"
  | "csi-proto";

const partOf: Record<AssetName, string> = {
  etcd: "etcd",
  "kube-apiserver": "kube",
  "kube-controller-manager": "kube",
  "kube-scheduler": "kube",
  kubectl: "kube",
  kubelet: "kube",
  containerd: "containerd",
  ctr: "containerd",
  "containerd-shim-runc-v2": "containerd",
  "kubelet-proto": "kubelet-proto",
  "csi-sanity": "csi-sanity",
  "csi-provisioner": "sidecars",
  "csi-resizer": "sidecars",
  "csi-snapshotter": "sidecars",
  "snapshot-controller": "sidecars",
  "snapshot-crds": "crds",
  "cert-manager-crds": "cert-manager-crds",
  "csi-proto": "csi-proto",
};

/** The cache of built parts and images (KUBECTL_VOL_CACHE, else ~/.cache/kubectl-vol), as scripts/bins.sh has it. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.KUBECTL_VOL_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "kubectl-vol")
  );
}

const known = new Map<string, string>();

/** Parses the `name=path` lines scripts/bins.sh prints. Pure, for tests. */
export function parseAssetLines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return out;
}

/** Ensures the named parts exist (building them on first use) and returns their paths. */
export async function assets<N extends AssetName>(...names: N[]): Promise<Record<N, string>> {
  const missing = [...new Set(names.filter((n) => !known.has(n)).map((n) => partOf[n]))];
  if (missing.length > 0) {
    const { stdout } = await promisify(execFile)(
      "bash",
      [path.join(repoRoot, "scripts/bins.sh"), ...missing],
      {
        maxBuffer: 16 << 20,
        timeout: 80 * 60_000,
      },
    ).catch((err: Error & { stderr?: string }) => {
      throw new Error(
        `building the upstream parts (${missing.join(", ")}) failed: ${err.stderr?.slice(-2000) ?? err.message}`,
      );
    });
    for (const [k, v] of parseAssetLines(stdout)) known.set(k, v);
  }
  const result = {} as Record<N, string>;
  for (const n of names) {
    const p = known.get(n);
    if (!p) throw new Error(`scripts/bins.sh did not report a path for ${n}`);
    result[n] = p;
  }
  return result;
}
