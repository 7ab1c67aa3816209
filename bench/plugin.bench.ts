// The plugin against kubectl, wall time of whole processes, on the shipped executable
// (dist/kubectl-vol, what kubectl runs for `kubectl vol`):
//  - start-up: `--help` (target: median under 150 ms) against the same command from source by
//    node (type stripping, no bundle) and the main bundle under node; completion, a usage error,
//    and a verb that loads the core up to its first request (nothing listens);
//  - against a real kube-apiserver (src/localcluster/control-plane.ts, with the snapshot CRDs),
//    paired runs one after the other: `list -A` against `kubectl get pvc,volumesnapshots -A`
//    (target: within 1.2x) and `snapshot PVC` (no wait) against `kubectl create -f` of the same
//    VolumeSnapshot (target: within 1.5x). kubectl keeps its discovery cache, as it does for a
//    user (warmed by the first runs). The machine may be shared: the load average is recorded.
// Builds the executable first when dist/ has none (`node scripts/build.ts --plugin-only`).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { assets } from "../src/localcluster/assets.ts";
import { startControlPlane } from "../src/localcluster/control-plane.ts";
import { machine, median, percentile } from "./machine.ts";

const root = path.resolve(import.meta.dirname, "..");
const exe = path.join(root, "dist/kubectl-vol");
const RUNS = Number(process.env.BENCH_RUNS ?? 30);
/** Pairs of runs against the API server for each comparison. */
const PAIRS = Number(process.env.BENCH_PAIRS ?? 21);
const TARGET_MS = 150;
const LIST_TARGET = 1.2;
const SNAPSHOT_TARGET = 1.5;
const loadAverage = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3);
const loadAtStart = loadAverage();

if (!existsSync(exe)) {
  console.log("dist/kubectl-vol is missing: building it");
  const b = spawnSync(process.execPath, [path.join(root, "scripts/build.ts"), "--plugin-only"], {
    stdio: "inherit",
  });
  if (b.status !== 0) process.exit(1);
}

interface Case {
  name: string;
  cmd: string;
  args: string[];
  expectCode: number;
}
const node = process.execPath;
// A verb that needs the API server loads the core (the Kubernetes client): measured up to the
// first request, against a port where nothing listens.
const closed = await new Promise<number>((resolve) => {
  const srv = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (srv.address() as net.AddressInfo).port;
    srv.close(() => resolve(port));
  });
});
const deadKubeconfig = path.join(os.tmpdir(), `kubectl-vol-bench-${process.pid}.kubeconfig`);
writeFileSync(
  deadKubeconfig,
  `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:${closed}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
);
process.on("exit", () => rmSync(deadKubeconfig, { force: true }));
const cases: Case[] = [
  { name: "dist/kubectl-vol --help", cmd: exe, args: ["--help"], expectCode: 0 },
  { name: "dist/kubectl-vol snapshot -h", cmd: exe, args: ["snapshot", "-h"], expectCode: 0 },
  { name: "dist/kubectl-vol __complete ''", cmd: exe, args: ["__complete", ""], expectCode: 0 },
  { name: "dist/kubectl-vol snapshot (usage error)", cmd: exe, args: ["snapshot"], expectCode: 2 },
  {
    name: "dist/kubectl-vol list (loads the client; no server)",
    cmd: exe,
    args: ["list", "--kubeconfig", deadKubeconfig],
    expectCode: 1,
  },
  {
    name: "node dist/bundles/kubectl-vol.cjs --help",
    cmd: node,
    args: [path.join(root, "dist/bundles/kubectl-vol.cjs"), "--help"],
    expectCode: 0,
  },
  {
    name: "node cmd/kubectl-vol/main.ts --help",
    cmd: node,
    args: [path.join(root, "cmd/kubectl-vol/main.ts"), "--help"],
    expectCode: 0,
  },
];

/** GNU time gives the child's CPU time (user + system), steadier than wall time on a shared machine. */
const GNU_TIME = "/usr/bin/time";
let lastCpuMs = Number.NaN;

function time(c: Case, env: NodeJS.ProcessEnv = {}, input?: string): number {
  const withCpu = existsSync(GNU_TIME);
  const [cmd, args] = withCpu ? [GNU_TIME, ["-f", "CPU %U %S", c.cmd, ...c.args]] : [c.cmd, c.args];
  const t0 = performance.now();
  const r = spawnSync(cmd, args, {
    stdio: [input === undefined ? "ignore" : "pipe", "ignore", "pipe"],
    input,
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  const ms = performance.now() - t0;
  if (r.status !== c.expectCode)
    throw new Error(`${c.name} exited ${r.status}, expected ${c.expectCode}: ${r.stderr}`);
  const cpu = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(String(r.stderr));
  lastCpuMs = cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : Number.NaN;
  return ms;
}

const results = cases.map((c) => {
  for (let i = 0; i < 3; i++) time(c); // warm the page cache
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) ms.push(time(c));
  const row = {
    case: c.name,
    runs: RUNS,
    medianMs: Math.round(median(ms) * 10) / 10,
    p90Ms: Math.round(percentile(ms, 90) * 10) / 10,
    minMs: Math.round(Math.min(...ms) * 10) / 10,
  };
  console.log(`${row.case}: median ${row.medianMs} ms, p90 ${row.p90Ms} ms, min ${row.minMs} ms`);
  return row;
});

const round = (ms: number) => Math.round(ms * 10) / 10;

interface Pair {
  comparison: string;
  kubectl: string;
  ours: string;
  pairs: number;
  kubectlMedianMs: number;
  oursMedianMs: number;
  /** CPU time (user + system, 10 ms resolution), medians. */
  kubectlCpuMs: number;
  oursCpuMs: number;
  /** oursMedianMs / kubectlMedianMs */
  ratio: number;
  /** The median of each pair's ratio. */
  pairRatioMedian: number;
  target: number;
  met: boolean;
}

/** `PAIRS` runs of each, one after the other (kubectl first, then ours, then the next pair). */
function paired(
  comparison: string,
  target: number,
  make: (i: number) => { kubectl: Case; ours: Case; input?: string },
  env: NodeJS.ProcessEnv,
): Pair {
  const k: number[] = [];
  const o: number[] = [];
  const kCpu: number[] = [];
  const oCpu: number[] = [];
  for (let i = -3; i < PAIRS; i++) {
    const c = make(i + 3);
    const a = time(c.kubectl, env, c.input);
    const aCpu = lastCpuMs;
    const b = time(c.ours, env);
    const bCpu = lastCpuMs;
    if (i < 0) continue; // warm-up: page cache, kubectl's discovery cache
    k.push(a);
    o.push(b);
    kCpu.push(aCpu);
    oCpu.push(bCpu);
  }
  const ratio = median(o) / median(k);
  const shown = (c: Case) => [path.basename(c.cmd), ...c.args].join(" ");
  const first = make(0);
  const row: Pair = {
    comparison,
    kubectl: shown(first.kubectl),
    ours: shown(first.ours),
    pairs: PAIRS,
    kubectlMedianMs: round(median(k)),
    oursMedianMs: round(median(o)),
    kubectlCpuMs: round(median(kCpu)),
    oursCpuMs: round(median(oCpu)),
    ratio: Math.round(ratio * 100) / 100,
    pairRatioMedian: Math.round(median(o.map((x, i) => x / (k[i] as number))) * 100) / 100,
    target,
    met: ratio <= target,
  };
  console.log(
    `${comparison}: kubectl ${row.kubectlMedianMs} ms, ours ${row.oursMedianMs} ms: ${row.ratio}x (per pair ${row.pairRatioMedian}x; target ${target}x); CPU ${row.kubectlCpuMs} / ${row.oursCpuMs} ms`,
  );
  return row;
}

/** A cluster with claims and snapshots in 3 namespaces, and a Bound claim `db` to snapshot. */
async function clusterPairs(): Promise<Pair[]> {
  const cp = await startControlPlane();
  try {
    const objects: object[] = [
      {
        apiVersion: "storage.k8s.io/v1",
        kind: "StorageClass",
        metadata: { name: "fast" },
        provisioner: "x.csi.example",
      },
      {
        apiVersion: "snapshot.storage.k8s.io/v1",
        kind: "VolumeSnapshotClass",
        metadata: { name: "x", annotations: { "snapshot.storage.kubernetes.io/is-default-class": "true" } },
        driver: "x.csi.example",
        deletionPolicy: "Delete",
      },
    ];
    const namespaces = ["shop", "web", "batch"];
    for (const ns of namespaces) {
      objects.push({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
      for (let i = 0; i < 10; i++) {
        objects.push({
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: `data-${i}`, namespace: ns },
          spec: {
            storageClassName: "fast",
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: "1Gi" } },
          },
        });
      }
      for (let i = 0; i < 5; i++) {
        objects.push({
          apiVersion: "snapshot.storage.k8s.io/v1",
          kind: "VolumeSnapshot",
          metadata: { name: `data-${i}-snap`, namespace: ns },
          spec: { source: { persistentVolumeClaimName: `data-${i}` }, volumeSnapshotClassName: "x" },
        });
      }
    }
    objects.push(
      {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: "pv-db" },
        spec: {
          capacity: { storage: "1Gi" },
          accessModes: ["ReadWriteOnce"],
          storageClassName: "fast",
          csi: { driver: "x.csi.example", volumeHandle: "db" },
          claimRef: { namespace: "shop", name: "db" },
        },
      },
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "db", namespace: "shop" },
        spec: {
          storageClassName: "fast",
          volumeName: "pv-db",
          accessModes: ["ReadWriteOnce"],
          resources: { requests: { storage: "1Gi" } },
        },
      },
    );
    await cp.kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
    );
    await cp.kubectl([
      "patch",
      "pvc",
      "db",
      "-n",
      "shop",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({
        status: { phase: "Bound", capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"] },
      }),
    ]);
    const { kubectl: kubectlBin } = await assets("kubectl");
    // kubectl's discovery cache in a HOME of its own, as a user's ~/.kube/cache.
    const env = { KUBECONFIG: cp.kubeconfig, HOME: cp.session.dir };
    const list = paired(
      "list -A",
      LIST_TARGET,
      () => ({
        kubectl: {
          name: "kubectl get",
          cmd: kubectlBin,
          args: ["get", "pvc,volumesnapshots", "-A"],
          expectCode: 0,
        },
        ours: { name: "kubectl-vol list", cmd: exe, args: ["list", "-A"], expectCode: 0 },
      }),
      env,
    );
    const snapshot = (name: string) =>
      JSON.stringify({
        apiVersion: "snapshot.storage.k8s.io/v1",
        kind: "VolumeSnapshot",
        metadata: { name, namespace: "shop" },
        spec: { source: { persistentVolumeClaimName: "db" }, volumeSnapshotClassName: "x" },
      });
    const create = paired(
      "snapshot PVC (no wait)",
      SNAPSHOT_TARGET,
      (i) => ({
        kubectl: { name: "kubectl create", cmd: kubectlBin, args: ["create", "-f", "-"], expectCode: 0 },
        input: snapshot(`by-kubectl-${i}`),
        ours: {
          name: "kubectl-vol snapshot",
          cmd: exe,
          args: ["snapshot", "db", "-n", "shop", "--name", `by-vol-${i}`],
          expectCode: 0,
        },
      }),
      env,
    );
    return [list, create];
  } finally {
    await cp.stop();
  }
}

const pairs = await clusterPairs();
const help = results[0]!;
const ok = help.medianMs < TARGET_MS;
const out = path.join(root, "bench/results");
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, "plugin.json"),
  `${JSON.stringify(
    {
      benchmark: "plugin",
      targetMs: TARGET_MS,
      withinTarget: ok,
      results,
      againstKubectl: pairs,
      machine: { ...machine(), loadAverageAtStart: loadAtStart, loadAverageAtEnd: loadAverage() },
    },
    null,
    2,
  )}\n`,
);
const m = machine();
writeFileSync(
  path.join(out, "plugin.md"),
  [
    "# plugin start-up and verbs against kubectl",
    "",
    `Wall time of one process start to exit; ${m.cpus} × ${m.cpuModel}, ${m.kernel}, ${m.node}, ${m.date}; load average ${loadAtStart.join(" ")} at the start, ${loadAverage().join(" ")} at the end (the machine is shared).`,
    "",
    `Against a real kube-apiserver (etcd + kube-apiserver ${(m.pinned as Record<string, string>).KUBERNETES_VERSION ?? ""}, snapshot CRDs; 30 claims and 15 snapshots in 3 namespaces): ${PAIRS} pairs after 3 warm-up pairs, kubectl then ours in each pair; the ratio is of the medians. Ours is \`dist/kubectl-vol\`, the executable \`kubectl vol\` runs.`,
    "",
    "| comparison | kubectl | ours | kubectl median ms | ours median ms | ratio | per-pair ratio (median) | target | CPU ms, kubectl / ours |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ...pairs.map(
      (p) =>
        `| ${p.comparison} | \`${p.kubectl}\` | \`${p.ours}\` | ${p.kubectlMedianMs} | ${p.oursMedianMs} | ${p.ratio}x | ${p.pairRatioMedian}x | ≤ ${p.target}x: **${p.met ? "met" : "missed"}** | ${p.kubectlCpuMs} / ${p.oursCpuMs} |`,
    ),
    "",
    `Start-up: ${RUNS} runs each after 3 warm-up runs. Target: \`dist/kubectl-vol --help\` median under ${TARGET_MS} ms — **${ok ? "met" : "missed"}** (${help.medianMs} ms).`,
    "",
    "| command | median ms | p90 ms | min ms |",
    "| --- | ---: | ---: | ---: |",
    ...results.map((r) => `| \`${r.case}\` | ${r.medianMs} | ${r.p90Ms} | ${r.minMs} |`),
    "",
  ].join("\n"),
);
if (!ok) {
  console.error(`dist/kubectl-vol --help median ${help.medianMs} ms is over the ${TARGET_MS} ms target`);
  process.exit(1);
}
