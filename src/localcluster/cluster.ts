// The local cluster with real nodes, as `npm run cluster:up`, `npm run demo` and the end-to-end
// tests run it: etcd, kube-apiserver, kube-controller-manager and kube-scheduler, then N nodes
// (each a containerd and a kubelet of its own, see node.ts, with its data folder on a
// loop-mounted btrfs), the images imported into every node, and the whole system installed
// from manifests/ as it ships, through the local overlay (manifests/overlays/local):
// `kubectl apply -k`. Done when every pod in vol-system is Ready and every node's kubelet lists
// the driver in its CSINode.
//
// stop() takes it down in the order that leaves nothing behind: pods that use volumes, then
// the system's pods (so the driver unpublishes them), kubelets, containers, containerds, the
// control plane; then mounts, loop devices, cgroups, bridges, and what kubelets changed on the
// host (host.sh). A crash of the owning process runs the same clean-up through the session's
// watchdog.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { assets, repoRoot } from "./assets.ts";
import { type ControlPlane, startControlPlane } from "./control-plane.ts";
import { type BuiltImage, clusterImages } from "./images/images.ts";
import { leftoversUnder, mountLoopFs } from "./loopfs.ts";
import { type RealNode, startNode } from "./node.ts";
import { type ServiceProxy, startServiceProxy } from "./service-proxy.ts";
import { waitUntil } from "./session.ts";

const run = promisify(execFile);

export const DRIVER = "vol.kubectl.io";
export const SYSTEM_NAMESPACE = "vol-system";
/** The overlay the local cluster installs (manifests/ as shipped plus what this machine needs). */
export const LOCAL_OVERLAY = path.join(repoRoot, "manifests/overlays/local");
const HOST_SH = path.join(import.meta.dirname, "host.sh");

export interface ClusterOptions {
  /** Number of real nodes (default 2). */
  nodes?: number;
  /** Size of each node's loop-mounted btrfs (default 8 GiB, sparse). */
  dataBytes?: number;
  parentDir?: string;
  log?: (line: string) => void;
}

export interface Cluster {
  cp: ControlPlane;
  kubeconfig: string;
  server: string;
  nodes: RealNode[];
  kubectl(args: string[], input?: string): Promise<{ stdout: string; stderr: string }>;
  /** Seconds from the start to every system pod Ready. */
  readySeconds: number;
  stop(): Promise<void>;
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const count = opts.nodes ?? 2;
  if (!Number.isInteger(count) || count < 1 || count > 16) {
    throw new Error(`--nodes ${count}: a local cluster has 1 to 16 nodes`);
  }
  const bins = await assets("kubelet", "containerd", "ctr", "containerd-shim-runc-v2", "kubectl");
  log("building or reusing the images (pause, busybox, the upstream sidecars, kubectl-vol)");
  const imagesP = clusterImages(log);
  imagesP.catch(() => undefined);
  log("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler");
  const cp = await startControlPlane({
    controllerManager: true,
    scheduler: true,
    parentDir: opts.parentDir,
    realNodes: true,
    // Cross-namespace data sources are alpha and off by default; on here, so the webhook's
    // namespace rule meets them as a cluster that enabled them would send them.
    apiserverArgs: ["--feature-gates=CrossNamespaceVolumeDataSource=true"],
  });
  const { session, kubectl } = cp;
  const nodes: RealNode[] = [];
  let proxy: ServiceProxy | undefined;
  let stopping: Promise<void> | undefined;
  // A second call waits for the first.
  const stop = (): Promise<void> => {
    stopping ??= stopNow();
    return stopping;
  };
  const stopNow = async (): Promise<void> => {
    await drain(kubectl, log).catch((err: Error) => log(`drain: ${err.message}`));
    await proxy?.close();
    for (const n of nodes) await n.stop().catch((err: Error) => log(`node ${n.name}: ${err.message}`));
    await cp.stop();
  };
  try {
    // Given back last (clean-up runs in reverse order), after every node is gone.
    session.onCleanup(`bash ${HOST_SH} release ${process.pid}`);
    // One loopback address per node, and one for the webhook Service (service-proxy.ts).
    const { stdout } = await run("bash", [
      HOST_SH,
      "acquire",
      String(process.pid),
      String(count + 1),
      ...KUBELET_SYSCTLS,
    ]);
    const all = stdout.split("\n").filter(Boolean);
    const serviceIp = all[count] as string;
    const ips = all.slice(0, count);
    const images = await imagesP;
    const id = randomBytes(3).toString("hex");
    await Promise.all(
      ips.map(async (ip, index) => {
        const fs = await mountLoopFs(session, "btrfs", {
          name: `node-${ip}-data`,
          sizeBytes: opts.dataBytes ?? 8 * 2 ** 30,
        });
        const node = await startNode(
          session,
          { ip, id: `${id}${index}`, index, dataDir: fs.mountpoint, server: cp.server, ca: cp.ca },
          bins,
          log,
        );
        nodes.push(node);
        await importImages(node, images, log);
        await node.startKubelet();
      }),
    );
    nodes.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
    await waitUntil(
      `${count} nodes Ready`,
      async () => {
        const { stdout: out } = await kubectl(["get", "nodes", "-o", "json"]);
        const items = (JSON.parse(out) as { items: NodeObj[] }).items;
        return items.filter(isReady).length === count;
      },
      90_000,
      () =>
        nodes
          .map((n) => `kubelet ${n.name}:\n${tailOf(session.path(`node-${n.name}-kubelet.log`))}`)
          .join("\n"),
    );
    log(`${count} nodes Ready (${secs(t0)})`);

    await install(cp, count, serviceIp, log);
    proxy = await startServiceProxy(cp, {
      listen: serviceIp,
      port: 443,
      namespace: SYSTEM_NAMESPACE,
      selector: "app.kubernetes.io/name=vol-webhook",
      targetPort: 8443,
    });
    await waitForSystem(cp, nodes, log);
    const readySeconds = (Date.now() - t0) / 1000;
    log(`all system pods Ready in ${readySeconds.toFixed(1)} s`);
    return {
      cp,
      kubeconfig: cp.kubeconfig,
      server: cp.server,
      nodes,
      kubectl,
      readySeconds,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

function secs(t0: number): string {
  return `${((Date.now() - t0) / 1000).toFixed(1)} s`;
}

function tailOf(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

interface NodeObj {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string }[] };
}

function isReady(n: NodeObj): boolean {
  return n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

async function importImages(node: RealNode, images: BuiltImage[], log: (l: string) => void): Promise<void> {
  const t0 = Date.now();
  for (const img of images) await node.ctr(["images", "import", "--local", img.archive]);
  log(`node ${node.name}: ${images.length} images imported (${secs(t0)})`);
}

/**
 * The shipped kustomization through the local overlay, with the two things only known at run
 * time: the apiserver's port (a ConfigMap the overlay's pods read) and the address of the
 * webhook Service (a kustomization in the cluster's folder on top of the overlay).
 */
async function install(
  cp: ControlPlane,
  nodeCount: number,
  serviceIp: string,
  log: (l: string) => void,
): Promise<void> {
  const port = new URL(cp.server).port;
  const ns = {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: SYSTEM_NAMESPACE },
  };
  await cp.kubectl(["apply", "-f", "-"], JSON.stringify(ns));
  const cm = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "vol-local-apiserver", namespace: SYSTEM_NAMESPACE },
    data: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: port },
  };
  await cp.kubectl(["apply", "-f", "-"], JSON.stringify(cm));
  const dir = cp.session.path("install");
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, "kustomization.yaml"),
    `# Made by the local cluster: manifests/overlays/local, with this cluster's webhook address.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${path.relative(dir, LOCAL_OVERLAY)}
patches:
  - target: { kind: Service, name: vol-webhook }
    patch: '[{"op": "replace", "path": "/spec/externalName", "value": "${serviceIp}"}]'
`,
  );
  log(`kubectl apply -k ${path.relative(repoRoot, LOCAL_OVERLAY)} (the webhook Service at ${serviceIp})`);
  await cp.kubectl(["apply", "-k", dir]);
  if (nodeCount === 1) {
    // Each webhook and vol-controller replica binds its node's address: one node has room for one.
    await cp.kubectl([
      "scale",
      "deployment/vol-webhook",
      "deployment/vol-controller",
      "-n",
      SYSTEM_NAMESPACE,
      "--replicas=1",
    ]);
  }
}

async function waitForSystem(cp: ControlPlane, nodes: RealNode[], log: (l: string) => void): Promise<void> {
  const t0 = Date.now();
  const describe = async (): Promise<string> => {
    const r = await cp
      .kubectl(["get", "pods", "-n", SYSTEM_NAMESPACE, "-o", "wide"])
      .catch((e: Error) => ({ stdout: e.message }));
    const ev = await cp
      .kubectl(["get", "events", "-n", SYSTEM_NAMESPACE, "--sort-by=.lastTimestamp"])
      .catch((e: Error) => ({ stdout: e.message }));
    return `${r.stdout}\n${ev.stdout.split("\n").slice(-20).join("\n")}`;
  };
  let last = "";
  await waitUntil(
    "every pod in vol-system Ready",
    async () => {
      const { stdout } = await cp.kubectl(["get", "pods", "-n", SYSTEM_NAMESPACE, "-o", "json"]);
      const pods = (
        JSON.parse(stdout) as {
          items: { status?: { conditions?: { type: string; status: string }[] } }[];
        }
      ).items;
      const ready = pods.filter((p) =>
        p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      );
      // 1 driver pod per node, 2 snapshot-controllers, 2 webhooks and 2 vol-controllers (1 each
      // on a single node).
      const want = nodes.length + 2 + 2 * Math.min(2, nodes.length);
      const line = `${ready.length}/${Math.max(want, pods.length)} system pods Ready`;
      if (line !== last) {
        log(`${line} (${secs(t0)})`);
        last = line;
      }
      return pods.length >= want && ready.length === pods.length;
    },
    180_000,
    () => "",
    500,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${await describe()}`);
  });
  await waitUntil(
    `the driver ${DRIVER} registered with every kubelet (CSINode)`,
    async () => {
      const { stdout } = await cp.kubectl(["get", "csinodes", "-o", "json"]);
      const items = (JSON.parse(stdout) as { items: { spec?: { drivers?: { name: string }[] | null } }[] })
        .items;
      return items.filter((c) => c.spec?.drivers?.some((d) => d.name === DRIVER)).length === nodes.length;
    },
    60_000,
  );
}

/**
 * Deletes every pod outside vol-system and kube-system and waits until they are gone (their
 * volumes unpublished by the driver), then the system's workloads.
 */
async function drain(kubectl: Cluster["kubectl"], log: (l: string) => void): Promise<void> {
  const { stdout } = await kubectl(["get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}"]);
  const namespaces = stdout.split(/\s+/).filter((n) => n && n !== SYSTEM_NAMESPACE && n !== "kube-system");
  for (const ns of namespaces) {
    await kubectl(["delete", "pods", "--all", "-n", ns, "--wait=true", "--timeout=60s", "--grace-period=1"]);
  }
  log("workload pods deleted; removing the system's pods");
  await kubectl([
    "delete",
    "daemonsets,deployments",
    "--all",
    "-n",
    SYSTEM_NAMESPACE,
    "--wait=true",
    "--timeout=60s",
  ]);
  await kubectl([
    "delete",
    "pods",
    "--all",
    "-n",
    SYSTEM_NAMESPACE,
    "--wait=true",
    "--timeout=60s",
    "--grace-period=2",
  ]);
}

/** The host-wide settings kubelets change (host.sh saves and restores them). */
export const KUBELET_SYSCTLS = [
  "vm.overcommit_memory",
  "vm.panic_on_oom",
  "kernel.panic",
  "kernel.panic_on_oops",
  "kernel.keys.root_maxkeys",
  "kernel.keys.root_maxbytes",
] as const;

/** Where host.sh keeps what it saved and who uses the host (its KUBECTL_VOL_HOST_STATE). */
const HOST_STATE = process.env.KUBECTL_VOL_HOST_STATE ?? "/run/kubectl-vol-host";

export async function readSysctls(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const s of KUBELET_SYSCTLS) out[s] = (await run("sysctl", ["-n", s])).stdout.trim();
  return out;
}

/**
 * The host's own values of the kubelets' sysctls, what they must be once no cluster runs: while
 * one does, the values host.sh saved before its first node (the live ones are the kubelets');
 * else the live ones.
 */
export async function hostSysctls(): Promise<Record<string, string>> {
  const live = await readSysctls();
  const saved = existsSync(path.join(HOST_STATE, "sysctl.saved"))
    ? readFileSync(path.join(HOST_STATE, "sysctl.saved"), "utf8")
    : "";
  for (const line of saved.split("\n")) {
    const [k, v] = line.split("=", 2);
    if (k && v !== undefined && k in live) live[k] = v.trim();
  }
  return live;
}

/**
 * What a stopped cluster would have left behind on this machine: processes, mounts and loop
 * devices under its folder, its cgroups and bridges, sysctls not put back. Empty after a clean
 * stop; `sessionDir` is the stopped cluster's folder, `before` the host's sysctls (hostSysctls)
 * before it started,
 * `nodeIds` its nodes' ids (RealNode.id).
 */
export async function hostLeftovers(
  sessionDir: string,
  before: Record<string, string>,
  nodeIds?: readonly string[],
): Promise<string[]> {
  // With the stopped cluster's node ids, only its own cgroups and bridge count (another cluster
  // may be running on this machine meanwhile); without them, any of ours does.
  const mine = (name: string, prefix: string) =>
    !nodeIds || nodeIds.some((id) => name === `${prefix}${id}` || name.startsWith(`${prefix}${id}-`));
  const found = await leftoversUnder(sessionDir);
  const ps = await run("ps", ["-eo", "pid,args"]);
  for (const line of ps.stdout.split("\n"))
    if (line.includes(sessionDir)) found.push(`process: ${line.trim()}`);
  const cg = await run("bash", ["-c", "ls -d /sys/fs/cgroup/*/kubectl-vol-* 2>/dev/null || true"]);
  for (const d of cg.stdout.split("\n").filter(Boolean))
    if (mine(path.basename(d), "kubectl-vol-")) found.push(`cgroup: ${d}`);
  const links = await run("ip", ["-o", "link", "show"]);
  for (const l of links.stdout.split("\n")) {
    const m = l.match(/^\d+: (kvol[^:@]*)/);
    if (m?.[1] && mine(m[1], "kvol")) found.push(`bridge: ${m[1]}`);
  }
  // Another cluster on this machine keeps the kubelets' sysctls until it stops too.
  const users = path.join(HOST_STATE, "users");
  if (!existsSync(users) || readdirSync(users).length === 0) {
    const now = await readSysctls();
    for (const [k, v] of Object.entries(before))
      if (now[k] !== v) found.push(`sysctl: ${k}=${now[k]} (was ${v})`);
  }
  return found;
}
