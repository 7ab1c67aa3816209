// The whole system on a local, kubelet-less cluster: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, the upstream snapshot-controller, and per simulated
// node our CSI driver with the upstream csi-provisioner and csi-snapshotter in node-deployment
// mode and csi-resizer; plus our admission webhook registered with the manifests' own webhook
// configurations. Node and CSINode objects are registered from NodeGetInfo as a kubelet does;
// where a kubelet would mount a volume into a pod, `mount()` calls the driver's node service
// through its socket exactly as a kubelet does.
import { mkdir } from "node:fs/promises";
import https from "node:https";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pointedAt, shippedConfigurations } from "../webhook/config.ts";
import { assets, repoRoot } from "./assets.ts";
import { type ControlPlane, startControlPlane } from "./control-plane.ts";
import { type CsiClient, connectCsi, MOUNT_CAP } from "./csi-client.ts";
import { type FsType, mountLoopFs } from "./loopfs.ts";
import { freePort, type Proc, waitUntil } from "./session.ts";

export const DRIVER = "vol.kubectl.io";

export interface SystemOptions {
  /** Simulated node names (default node-a, node-b). */
  nodes?: string[];
  /** Filesystem of each node's data dir: a loop-mounted btrfs/xfs/ext4, or a plain dir. */
  fs?: FsType | "dir";
  /** Start and register our admission webhook (default true). */
  webhook?: boolean;
  parentDir?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface SimNode {
  name: string;
  socket: string;
  dataDir: string;
  driver: Proc;
  csi: CsiClient;
}

export interface Mounted {
  path: string;
  node: string;
  volumeId: string;
  unmount(): Promise<void>;
}

export interface System {
  cp: ControlPlane;
  kubeconfig: string;
  nodes: SimNode[];
  kubectl(args: string[], input?: string): Promise<{ stdout: string; stderr: string }>;
  /** Publishes a Bound claim's volume on its node (as a kubelet does) and returns the path. */
  mount(namespace: string, claim: string, opts?: { readonly?: boolean }): Promise<Mounted>;
  /** Creates a pod using the claim, so a WaitForFirstConsumer claim gets a node and is provisioned. */
  consume(namespace: string, claim: string): Promise<void>;
  stop(): Promise<void>;
}

const node24 = process.execPath;

async function getJson<T>(kubectl: System["kubectl"], args: string[]): Promise<T> {
  return JSON.parse((await kubectl([...args, "-o", "json"])).stdout) as T;
}

export async function startSystem(opts: SystemOptions = {}): Promise<System> {
  const log = opts.log ?? (() => {});
  const names = opts.nodes ?? ["node-a", "node-b"];
  const bins = await assets(
    "csi-provisioner",
    "csi-snapshotter",
    "csi-resizer",
    "snapshot-controller",
    "csi-proto",
  );
  log("starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler");
  // Cross-namespace data sources are alpha and off by default; on here, so the webhook's
  // namespace rule meets them as a cluster that enabled them would send them.
  const cp = await startControlPlane({
    controllerManager: true,
    scheduler: true,
    parentDir: opts.parentDir,
    apiserverArgs: ["--feature-gates=CrossNamespaceVolumeDataSource=true"],
  });
  const { session, kubectl, kubeconfig } = cp;
  const nodes: SimNode[] = [];
  try {
    await kubectl(["apply", "-f", path.join(repoRoot, "manifests/base/csidriver.yaml")]);
    await kubectl(["apply", "-f", path.join(repoRoot, "manifests/base/classes.yaml")]);

    for (const name of names) {
      const dir = session.path("nodes", name);
      await mkdir(dir, { recursive: true });
      let dataDir = path.join(dir, "data");
      if (opts.fs && opts.fs !== "dir") {
        const fs = await mountLoopFs(session, opts.fs, {
          name: `${name}-${opts.fs}`,
          sizeBytes: 4 * 2 ** 30,
        });
        dataDir = fs.mountpoint;
      } else {
        await mkdir(dataDir, { recursive: true });
      }
      const socket = path.join(dir, "csi.sock");
      log(`node ${name}: starting the vol-csi driver (data in ${dataDir}, ${opts.fs ?? "dir"})`);
      const driver = session.start(`vol-csi-${name}`, node24, [
        path.join(repoRoot, "cmd/vol-csi/main.ts"),
        `--endpoint=unix://${socket}`,
        `--driver-name=${DRIVER}`,
        `--node-id=${name}`,
        `--data-dir=${dataDir}`,
        `--csi-proto=${bins["csi-proto"]}`,
      ]);
      const csi = connectCsi(socket, bins["csi-proto"]);
      await waitUntil(
        `driver on ${name} to answer Probe`,
        async () => {
          if (!driver.running) throw new Error(`vol-csi on ${name} exited:\n${driver.logTail()}`);
          const r = await csi.call("Identity", "Probe", {}, 2000);
          return (r.ready as { value?: boolean } | undefined)?.value !== false;
        },
        30_000,
        () => driver.logTail(),
      );
      nodes.push({ name, socket, dataDir, driver, csi });
      await registerNode(kubectl, name, csi);

      const env = { ...process.env, NODE_NAME: name };
      const common = [`--csi-address=${socket}`, `--kubeconfig=${kubeconfig}`, "--timeout=60s", "--v=3"];
      log(`node ${name}: starting csi-provisioner, csi-snapshotter (node-deployment) and csi-resizer`);
      session.start(
        `csi-provisioner-${name}`,
        bins["csi-provisioner"],
        [
          ...common,
          "--node-deployment=true",
          "--feature-gates=Topology=true",
          "--strict-topology=true",
          "--immediate-topology=false",
          "--extra-create-metadata=true",
          "--leader-election=false",
        ],
        { env },
      );
      session.start(
        `csi-snapshotter-${name}`,
        bins["csi-snapshotter"],
        [
          ...common,
          "--node-deployment=true",
          "--leader-election=false",
          "--extra-create-metadata=true",
          "--feature-gates=CSIVolumeGroupSnapshot=true",
        ],
        { env },
      );
      session.start(
        `csi-resizer-${name}`,
        bins["csi-resizer"],
        [...common, "--leader-election=true", "--leader-election-namespace=kube-system"],
        { env },
      );
    }
    log("starting the snapshot-controller (distributed snapshotting, group snapshots)");
    session.start("snapshot-controller", bins["snapshot-controller"], [
      `--kubeconfig=${kubeconfig}`,
      "--leader-election=false",
      "--enable-distributed-snapshotting=true",
      "--feature-gates=CSIVolumeGroupSnapshot=true",
      "--v=3",
    ]);

    if (opts.webhook ?? true) await startWebhook(cp, log);
  } catch (err) {
    for (const n of nodes) n.csi.close();
    await cp.stop();
    throw err;
  }

  const mountsDir = session.path("kubelet");
  let seq = 0;
  const system: System = {
    cp,
    kubeconfig,
    nodes,
    kubectl,
    async consume(namespace, claim) {
      await waitUntil(
        `the default ServiceAccount in ${namespace}`,
        async () => await kubectl(["get", "serviceaccount", "default", "-n", namespace]).then(() => true),
        30_000,
      );
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `use-${claim}`.slice(0, 63), namespace },
        spec: {
          automountServiceAccountToken: false,
          containers: [{ name: "app", image: "registry.invalid/app:v1" }],
          volumes: [{ name: "data", persistentVolumeClaim: { claimName: claim } }],
        },
      };
      await kubectl(["apply", "-f", "-"], JSON.stringify(pod));
    },
    async mount(namespace, claim, mopts = {}) {
      const pvc = await getJson<{ spec: { volumeName?: string } }>(kubectl, [
        "get",
        "pvc",
        claim,
        "-n",
        namespace,
      ]);
      const pvName = pvc.spec.volumeName;
      if (!pvName) throw new Error(`claim ${namespace}/${claim} is not bound`);
      const pv = await getJson<{
        spec: {
          csi: { volumeHandle: string; volumeAttributes?: Record<string, string> };
          nodeAffinity?: {
            required?: { nodeSelectorTerms?: { matchExpressions?: { values?: string[] }[] }[] };
          };
          volumeMode?: string;
        };
      }>(kubectl, ["get", "pv", pvName]);
      const nodeName =
        pv.spec.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.[0]?.values?.[0];
      const node = nodes.find((n) => n.name === nodeName);
      if (!node) throw new Error(`PV ${pvName} has no node affinity to a known node (${nodeName})`);
      const target = path.join(mountsDir, `${++seq}-${claim}`);
      await mkdir(mountsDir, { recursive: true });
      await mkdir(target, { recursive: true });
      await node.csi.call("Node", "NodePublishVolume", {
        volume_id: pv.spec.csi.volumeHandle,
        target_path: target,
        volume_capability: MOUNT_CAP,
        readonly: mopts.readonly ?? false,
        volume_context: pv.spec.csi.volumeAttributes ?? {},
      });
      session.onCleanup(`umount -l ${target} 2>/dev/null`);
      return {
        path: target,
        node: node.name,
        volumeId: pv.spec.csi.volumeHandle,
        unmount: async () => {
          await node.csi.call("Node", "NodeUnpublishVolume", {
            volume_id: pv.spec.csi.volumeHandle,
            target_path: target,
          });
        },
      };
    },
    async stop() {
      for (const n of nodes) n.csi.close();
      await cp.stop();
    },
  };
  return system;
}

/** What a kubelet does when the node-driver-registrar registers a driver: Node labels from the
 * driver's topology and a CSINode entry. The Node object itself stands in for the kubelet. */
async function registerNode(kubectl: System["kubectl"], name: string, csi: CsiClient): Promise<void> {
  const info = (await csi.call("Node", "NodeGetInfo", {})) as {
    node_id: string;
    max_volumes_per_node?: string;
    accessible_topology?: { segments?: Record<string, string> };
  };
  const segments = info.accessible_topology?.segments ?? {};
  const node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: { "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", ...segments },
    },
  };
  await kubectl(["apply", "-f", "-"], JSON.stringify(node));
  const status = {
    status: {
      capacity: { cpu: "4", memory: "8Gi", pods: "110" },
      allocatable: { cpu: "4", memory: "8Gi", pods: "110" },
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "KubeletReady",
          message: "simulated node (kubectl-vol tests)",
          lastHeartbeatTime: new Date().toISOString(),
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    },
  };
  await kubectl([
    "patch",
    "node",
    name,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify(status),
  ]);
  // A new Node carries the not-ready taint until the node lifecycle controller sees a kubelet's
  // heartbeat; there is no kubelet here (and that controller is off), so lift it as it would.
  await kubectl(["taint", "node", name, "node.kubernetes.io/not-ready:NoSchedule-"]).catch(() => undefined);
  const csinode = {
    apiVersion: "storage.k8s.io/v1",
    kind: "CSINode",
    metadata: { name },
    spec: {
      drivers: [
        {
          name: DRIVER,
          nodeID: info.node_id,
          topologyKeys: Object.keys(segments),
          ...(Number(info.max_volumes_per_node) > 0
            ? { allocatable: { count: Number(info.max_volumes_per_node) } }
            : {}),
        },
      ],
    },
  };
  // The CSINode's owner is its Node, as the kubelet creates it.
  const nodeObj = await getJson<{ metadata: { uid: string } }>(kubectl, ["get", "node", name]);
  (csinode.metadata as Record<string, unknown>).ownerReferences = [
    { apiVersion: "v1", kind: "Node", name, uid: nodeObj.metadata.uid },
  ];
  await kubectl(["apply", "-f", "-"], JSON.stringify(csinode));
}

async function startWebhook(cp: ControlPlane, log: (line: string) => void): Promise<void> {
  const port = await freePort();
  const serving = await cp.ca.issue("webhook", {
    cn: "vol-webhook",
    sans: ["IP:127.0.0.1", "DNS:localhost"],
  });
  log(`starting the vol-webhook admission webhook on https://127.0.0.1:${port}`);
  const proc = cp.session.start("vol-webhook", node24, [
    path.join(repoRoot, "cmd/vol-webhook/main.ts"),
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    "--bind-address=127.0.0.1",
    `--port=${port}`,
    `--kubeconfig=${cp.kubeconfig}`,
  ]);
  const ca = await cp.ca.pem();
  await waitUntil(
    "vol-webhook /readyz",
    async () => {
      if (!proc.running) throw new Error(`vol-webhook exited:\n${proc.logTail()}`);
      return new Promise<boolean>((resolve) => {
        https
          .get(`https://127.0.0.1:${port}/readyz`, { ca, timeout: 2000 }, (res) => {
            res.resume();
            resolve(res.statusCode === 200);
          })
          .on("error", () => resolve(false));
      });
    },
    30_000,
    () => proc.logTail(),
  );
  // The manifests' own webhook configurations, pointed at this process instead of the Service.
  const pointed = pointedAt(await shippedConfigurations(), {
    url: `https://127.0.0.1:${port}`,
    caBundle: ca,
  });
  for (const doc of [pointed.mutating, pointed.validating]) {
    await cp.kubectl(["apply", "-f", "-"], JSON.stringify(doc));
  }
  // The apiserver picks up new webhook configurations asynchronously.
  await sleep(1500);
}
