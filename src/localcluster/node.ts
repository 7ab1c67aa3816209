// One real node of the local cluster: its own containerd and kubelet, in a mount namespace (and
// a UTS namespace, for a host name of its own) where the node's folders are bound over the stock paths (/var/lib/kubelet,
// /var/lib/kubectl-vol, /run/containerd, ...), so an unmodified DaemonSet with the usual hostPaths
// works on every node while all of them share this machine. A node is named after its loopback
// address (127.0.0.N), which becomes its InternalIP; its kubelet listens there.
//
// What a node leaves on the host is registered with the session before it exists, and removed
// on every exit path: the processes (in the node's cgroups: containers and shims included), the
// cgroups, the CNI bridge, loop devices of block volumes, the node's folders.
import { statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { exec } from "../driver/exec.ts";
import type { CA } from "./certs.ts";
import { PAUSE_IMAGE } from "./images/images.ts";
import { type Proc, type Session, waitUntil } from "./session.ts";

/** Stock host paths each node namespace binds its own folder over (host.sh creates them). */
export const NODE_PATHS = [
  "/var/lib/kubelet",
  "/var/lib/cni",
  "/run/containerd",
  "/var/log/containers",
  "/var/log/pods",
] as const;
export const DATA_PATH = "/var/lib/kubectl-vol";

const CGROUP_ROOT = "/sys/fs/cgroup";

export interface NodeBins {
  kubelet: string;
  containerd: string;
  ctr: string;
  "containerd-shim-runc-v2": string;
}

export interface NodeSpec {
  /** 127.0.0.N: the node's name and address. */
  ip: string;
  /** A short id, unique on this machine while the cluster runs (cgroup and bridge names). */
  id: string;
  /** Index of the node in its cluster (pod subnet 10.88.<index+...>.0/24 inside its bridge). */
  index: number;
  /** The folder holding the node's data (bound over /var/lib/kubectl-vol). */
  dataDir: string;
  server: string;
  ca: CA;
}

export interface RealNode {
  readonly name: string;
  /** Names its cgroups (`kubectl-vol-<id>`, `-runtime`) and its CNI bridge (`kvol<id>`). */
  readonly id: string;
  readonly ip: string;
  readonly dir: string;
  readonly dataDir: string;
  /** `ctr` against this node's containerd (namespace k8s.io). */
  ctr(args: string[]): Promise<string>;
  /** Runs a command inside the node's mount namespace (sees its /var/lib/kubelet). */
  nsexec(cmd: string, args: string[]): Promise<string>;
  startKubelet(): Promise<void>;
  stopKubelet(): Promise<void>;
  readonly kubeletRunning: boolean;
  /** Stops kubelet, every container of the node, then containerd. */
  stop(): Promise<void>;
}

function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers, named ones, unified). */
async function hierarchies(): Promise<string[]> {
  const { stdout } = await exec("bash", ["-c", `ls -1 ${CGROUP_ROOT}`]);
  return stdout.split("\n").filter(Boolean);
}

/** Shell: kill every process in the cgroup subtrees named `names`, then remove the cgroups. */
export function cgroupCleanupCommand(names: string[]): string {
  const dirs = names.map((n) => `${CGROUP_ROOT}/*/${n}`).join(" ");
  return (
    `for i in $(seq 20); do ` +
    `p=$(cat $(find ${dirs} -name cgroup.procs 2>/dev/null) 2>/dev/null | sort -u); ` +
    `[ -z "$p" ] && break; kill -KILL $p 2>/dev/null; sleep 0.2; done; ` +
    `for d in ${dirs}; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done; true`
  );
}

async function makeCgroups(names: string[]): Promise<void> {
  for (const h of await hierarchies()) {
    for (const n of names) {
      const dir = path.join(CGROUP_ROOT, h, n);
      await mkdir(dir, { recursive: true });
      if (h === "cpuset") {
        // A new v1 cpuset has no CPUs and no memory nodes until given the parent's.
        for (const f of ["cpuset.cpus", "cpuset.mems"]) {
          const { stdout } = await exec("cat", [path.join(CGROUP_ROOT, h, f)]);
          await writeFile(path.join(dir, f), stdout.trim());
        }
      }
    }
  }
}

export async function startNode(
  session: Session,
  spec: NodeSpec,
  bins: NodeBins,
  log: (l: string) => void,
): Promise<RealNode> {
  const name = spec.ip;
  const dir = session.path("nodes", name);
  const rootDir = path.join(dir, "root");
  for (const p of NODE_PATHS) await mkdir(path.join(rootDir, p), { recursive: true });
  const cdDir = path.join(dir, "containerd");
  await mkdir(path.join(cdDir, "root"), { recursive: true });
  await mkdir(path.join(cdDir, "state"), { recursive: true });
  const cniConfDir = path.join(dir, "cni", "net.d");
  await mkdir(cniConfDir, { recursive: true });
  const sock = path.join(dir, "containerd.sock");

  // Registered before they exist, run in reverse: processes, cgroups, bridge, loop devices.
  const kubeletCg = `kubectl-vol-${spec.id}`;
  const runtimeCg = `kubectl-vol-${spec.id}-runtime`;
  const bridge = `kvol${spec.id}`.slice(0, 15);
  // Loop devices of block volumes: the driver's (backed by files on the node's data file
  // system) and the kubelet's, found by the backing file's device, whatever path they were
  // attached by inside the node's namespace.
  const st = statSync(spec.dataDir);
  const majmin = `${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)}`;
  session.onCleanup(
    `for d in $(losetup -n -l -O NAME,BACK-MAJ:MIN,BACK-FILE 2>/dev/null | awk -v m=${majmin} -v p=${shq(dir)} '$2==m || index($3,p)==1 {print $1}'); do losetup -d "$d"; done`,
  );
  session.onCleanup(`ip link del ${bridge} 2>/dev/null; true`);
  session.onCleanup(cgroupCleanupCommand([kubeletCg, runtimeCg]));
  await makeCgroups([kubeletCg, runtimeCg]);

  // Node credentials as the Node authorizer and NodeRestriction expect them.
  const cred = await spec.ca.issue(`node-${name}`, {
    cn: `system:node:${name}`,
    org: "system:nodes",
    client: true,
  });
  const kubeconfig = path.join(dir, "kubelet.kubeconfig");
  await writeFile(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: ${spec.server}, certificate-authority: ${spec.ca.cert}}
users:
- name: node
  user: {client-certificate: ${cred.cert}, client-key: ${cred.key}}
contexts:
- name: local
  context: {cluster: local, user: node}
current-context: local
`,
  );

  await writeFile(
    path.join(cniConfDir, "10-kubectl-vol.conflist"),
    JSON.stringify({
      cniVersion: "1.0.0",
      name: `kvol-${spec.id}`,
      plugins: [
        {
          type: "bridge",
          bridge,
          // No gateway and no masquerading: pod traffic stays on the node's bridge.
          isGateway: false,
          ipMasq: false,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: `10.88.${spec.index + 1}.0/24` }]],
            dataDir: path.join(dir, "cni", "ipam"),
          },
        },
      ],
    }),
  );

  const runcRoot = path.join(cdDir, "runc");
  await writeFile(
    path.join(dir, "containerd.toml"),
    `version = 3
root = ${JSON.stringify(path.join(cdDir, "root"))}
state = ${JSON.stringify(path.join(cdDir, "state"))}
temp = ${JSON.stringify(path.join(cdDir, "tmp"))}
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.erofs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${JSON.stringify(sock)}
[ttrpc]
  address = ${JSON.stringify(`${sock}.ttrpc`)}
[debug]
  address = ${JSON.stringify(path.join(dir, "containerd-debug.sock"))}
  level = "info"
[metrics]
  address = ""

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = ${JSON.stringify(path.join(cdDir, "opt"))}
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = "overlayfs"
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = ${JSON.stringify(PAUSE_IMAGE)}
  [plugins.'io.containerd.cri.v1.runtime']
    # root here lacks CAP_SYS_RESOURCE: without this every sandbox fails to start.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    enable_cdi = false
    cdi_spec_dirs = []
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = "runc"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = "/usr/sbin/runc"
          SystemdCgroup = false
          Root = ${JSON.stringify(runcRoot)}
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ["/usr/lib/cni"]
      conf_dir = ${JSON.stringify(cniConfDir)}
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
`,
  );

  const kubeletConfig = path.join(dir, "kubelet.yaml");
  await writeFile(
    kubeletConfig,
    `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${spec.ip}
port: 10250
readOnlyPort: 0
healthzBindAddress: ${spec.ip}
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${spec.ca.cert}}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://${sock}
cgroupDriver: cgroupfs
cgroupRoot: /${kubeletCg}
# This machine is on cgroup v1 (hybrid); 1.35+ refuses it unless told.
failCgroupV1: false
failSwapOn: false
# Leave the host's iptables alone (the chains are hints for other components only).
makeIPTablesUtilChains: false
resolvConf: /etc/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
volumeStatsAggPeriod: 10s
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
`,
  );

  // The namespace holder: binds the node's folders over the stock paths, then waits.
  const ready = path.join(dir, "ns-ready");
  const binds = [...NODE_PATHS.map((p) => [path.join(rootDir, p), p]), [spec.dataDir, DATA_PATH]]
    .map(([from, to]) => `mount --bind ${shq(from as string)} ${shq(to as string)}`)
    .join("; ");
  const holder = session.start(`node-${name}-ns`, "unshare", [
    "--mount",
    "--uts",
    "--propagation",
    "slave",
    "--",
    "bash",
    "-c",
    `set -e; hostname ${shq(name)}; ${binds}; mount --make-rshared /var/lib/kubelet; mount --make-rshared ${DATA_PATH}; touch ${shq(ready)}; exec sleep infinity`,
  ]);
  await waitUntil(
    `the mount namespace of node ${name}`,
    async () => {
      if (!holder.running) throw new Error(`node ${name}: the namespace holder exited:\n${holder.logTail()}`);
      return await exec("test", ["-e", ready]).then(
        () => true,
        () => false,
      );
    },
    10_000,
  );
  const holderPid = holder.child.pid as number;
  // The node's mount namespace, and its UTS namespace: its own host name, which hostNetwork pods
  // see (leader election takes a replica's identity from it).
  const nsenter = ["nsenter", `--mount=/proc/${holderPid}/ns/mnt`, `--uts=/proc/${holderPid}/ns/uts`, "--"];
  // Processes go into the node's cgroup in every hierarchy before they exec (shims inherit it).
  const joinCg = async (cg: string): Promise<string> =>
    (await hierarchies()).map((h) => `echo $$ > ${CGROUP_ROOT}/${h}/${cg}/cgroup.procs`).join("; ");

  const shimDir = path.dirname(bins["containerd-shim-runc-v2"]);
  const env = { ...process.env, PATH: `${shimDir}:/usr/sbin:/usr/bin:/sbin:/bin` };
  log(`node ${name}: starting containerd`);
  const containerd = session.start(
    `node-${name}-containerd`,
    "bash",
    [
      "-c",
      `${await joinCg(runtimeCg)}; exec ${nsenter.join(" ")} ${shq(bins.containerd)} --config ${shq(path.join(dir, "containerd.toml"))}`,
    ],
    { env },
  );
  const ctr = async (args: string[]): Promise<string> =>
    (await exec(bins.ctr, ["--address", sock, "--namespace", "k8s.io", ...args], { timeoutMs: 120_000 }))
      .stdout;
  await waitUntil(
    `containerd of node ${name}`,
    async () => {
      if (!containerd.running) throw new Error(`containerd of node ${name} exited:\n${containerd.logTail()}`);
      return ctr(["version"]).then(
        () => true,
        () => false,
      );
    },
    30_000,
    () => containerd.logTail(),
  );

  let kubelet: Proc | undefined;
  const node: RealNode = {
    name,
    id: spec.id,
    ip: spec.ip,
    dir,
    dataDir: spec.dataDir,
    ctr,
    async nsexec(cmd, args) {
      return (await exec("nsenter", [`--mount=/proc/${holderPid}/ns/mnt`, "--", cmd, ...args])).stdout;
    },
    get kubeletRunning() {
      return kubelet?.running ?? false;
    },
    async startKubelet() {
      if (kubelet?.running) return;
      log(`node ${name}: starting kubelet`);
      kubelet = session.start(
        `node-${name}-kubelet`,
        "bash",
        [
          "-c",
          `exec ${nsenter.join(" ")} ${shq(bins.kubelet)} --config=${shq(kubeletConfig)} --kubeconfig=${shq(kubeconfig)} --hostname-override=${name} --v=2`,
        ],
        { env },
      );
      const k = kubelet;
      await sleep(200);
      if (!k.running) throw new Error(`kubelet of node ${name} exited at once:\n${k.logTail()}`);
    },
    async stopKubelet() {
      await kubelet?.stop(15_000);
    },
    async stop() {
      await kubelet?.stop(15_000);
      await exec("bash", ["-c", cgroupCleanupCommand([kubeletCg])]).catch(() => undefined);
      await containerd.stop(10_000);
      await exec("bash", ["-c", cgroupCleanupCommand([runtimeCg])]).catch(() => undefined);
      await holder.stop(2_000);
    },
  };
  return node;
}
