// `npm run bench e2e`: end to end on the local cluster with real nodes (src/localcluster), the
// system installed from manifests/ as it ships. A 4 GiB claim gets data from a pod (BENCH_DATA_MIB
// of random bytes, default 1024, in files), then, ten times each (BENCH_RUNS):
//   kubectl vol snapshot CLAIM --wait    (command start → the command exits with the snapshot ready)
//   kubectl vol restore SNAP --wait      (command start → the command exits with the claim Bound)
// through the built plugin (dist/kubectl-vol) as a user runs it. Watches on the objects tell
// where the time goes: the plugin until the object exists, the snapshot-controller, the
// csi-snapshotter or csi-provisioner (with our RPC's own duration from the driver's log), the
// PV controller, and the plugin again until it notices. Also timed: the same verbs without
// --wait (the plugin's own floor). Writes bench/results/e2e.json and e2e.md.

import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { assets } from "../src/localcluster/assets.ts";
import type { Cluster } from "../src/localcluster/cluster.ts";
import { claimYaml } from "../src/localcluster/scenarios.ts";
import {
  benchCluster,
  collectLogs,
  contentOf,
  now,
  pluginBin,
  Timeline,
  volumeOf,
  writerPod,
} from "./cluster-timeline.ts";
import { machine, machineLine, median, percentile } from "./machine.ts";

const run = promisify(execFile);
const NS = "bench";
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const DATA_MIB = Number(process.env.BENCH_DATA_MIB ?? 1024);
const SIZE = "4Gi";
const TARGETS = { snapshotSeconds: 1.5, restoreSeconds: 2 };

interface Timed {
  name: string;
  /** Command start to exit, s. */
  total: number;
  /** The stages, s, in order; they add up to `total`. */
  stages: Record<string, number>;
  /** Our CSI call's own duration, ms, as the driver logged it. */
  rpcMs?: number;
}

async function main(): Promise<void> {
  const log = (l: string) => console.log(`[e2e] ${l}`);
  const t0 = now();
  const cluster = await benchCluster(2, 16, log);
  const results = path.join(import.meta.dirname, "results");
  let tl: Timeline | undefined;
  try {
    const { kubectl: kubectlBin } = await assets("kubectl");
    const bin = await pluginBin(cluster);
    const env = {
      ...process.env,
      PATH: `${bin}:${process.env.PATH}`,
      KUBECONFIG: cluster.kubeconfig,
      NO_COLOR: "1",
    };
    const kubectl = (args: string[], input?: string) => {
      const p = run(
        kubectlBin,
        args[0] === "vol" ? ["vol", "-n", NS, ...args.slice(1)] : ["-n", NS, ...args],
        { env, maxBuffer: 64 << 20, timeout: 300_000 },
      );
      if (input !== undefined) p.child.stdin?.end(input);
      return p;
    };
    log(`cluster up in ${((now() - t0) / 1000).toFixed(0)} s`);
    await cluster.kubectl(["create", "namespace", NS]);
    tl = await Timeline.start(cluster.kubeconfig, NS);
    await kubectl(["apply", "-f", "-"], claimYaml("data", { size: SIZE }));
    const files = Math.max(1, Math.round(DATA_MIB / 64));
    const script = `i=0; while [ $i -lt ${files} ]; do dd if=/dev/urandom of=/data/f$i bs=1M count=${Math.round(DATA_MIB / files)} 2>/dev/null; i=$((i+1)); done; echo hello > /data/hello.txt`;
    await kubectl(["apply", "-f", "-"], writerPod("writer", { data: "/data" }, script));
    log(`writing ${DATA_MIB} MiB into claim data`);
    await kubectl(["wait", "--for=condition=Ready", "pod/writer", "--timeout=600s"]);
    const node = (await kubectl(["get", "pod", "writer", "-o", "jsonpath={.spec.nodeName}"])).stdout.trim();
    // Warm-up: the first snapshot and restore of a cluster pay for caches and connections.
    await kubectl(["vol", "snapshot", "data", "--name", "warm", "--wait", "--timeout", "120s"]);
    await kubectl(["vol", "restore", "warm", "--name", "warm-restore", "--wait", "--timeout", "120s"]);

    const time = async (args: string[]) => {
      const s = now();
      await kubectl(["vol", ...args]);
      return { start: s, end: now() };
    };
    // The floors: kubectl itself (a GET), the plugin's start (--help), the verbs without --wait.
    const floorKubectl: number[] = [];
    const floorHelp: number[] = [];
    const floorSnap: number[] = [];
    const floorRestore: number[] = [];
    for (let i = 0; i < 3; i++) {
      const g = now();
      await kubectl(["get", "pvc", "data"]);
      floorKubectl.push((now() - g) / 1000);
      const h = await time(["--help"]);
      floorHelp.push((h.end - h.start) / 1000);
      const a = await time(["snapshot", "data", "--name", `floor-${i}`]);
      floorSnap.push((a.end - a.start) / 1000);
      await kubectl([
        "wait",
        "--for=jsonpath={.status.readyToUse}=true",
        `volumesnapshot/floor-${i}`,
        "--timeout=120s",
      ]);
      const b = await time(["restore", `floor-${i}`, "--name", `floor-restore-${i}`]);
      floorRestore.push((b.end - b.start) / 1000);
      await kubectl([
        "wait",
        "--for=jsonpath={.status.phase}=Bound",
        `pvc/floor-restore-${i}`,
        "--timeout=120s",
      ]);
    }

    const snaps: Timed[] = [];
    for (let i = 0; i < RUNS; i++) {
      const name = `snap-${i}`;
      const r = await time(["snapshot", "data", "--name", name, "--wait", "--timeout", "120s"]);
      await sleepMs(300); // the watches deliver what happened just before the exit
      const vs = tl.first("vs", name) ?? r.start;
      const content = contentOf(tl, NS, name) ?? "";
      const vsc = tl.first("vsc", content) ?? vs;
      const vscReady = tl.first("vsc", content, (o) => o.status?.readyToUse === true) ?? vsc;
      const vsReady = tl.first("vs", name, (o) => o.status?.readyToUse === true) ?? vscReady;
      snaps.push({
        name,
        total: (r.end - r.start) / 1000,
        stages: {
          "plugin: start, pre-flight, create": (vs - r.start) / 1000,
          "snapshot-controller: content created": (vsc - vs) / 1000,
          "csi-snapshotter: CreateSnapshot, content ready": (vscReady - vsc) / 1000,
          "snapshot-controller: snapshot ready": (vsReady - vscReady) / 1000,
          "plugin: notices, exits": (r.end - vsReady) / 1000,
        },
      });
      log(`${name}: ${snaps[i]?.total.toFixed(2)} s`);
    }
    const restores: Timed[] = [];
    for (let i = 0; i < RUNS; i++) {
      const snap = `snap-${i}`;
      const name = `restore-${i}`;
      const r = await time(["restore", snap, "--name", name, "--wait", "--timeout", "120s"]);
      await sleepMs(300);
      const pvc = tl.first("pvc", name) ?? r.start;
      const pvName = volumeOf(tl, NS, name) ?? "";
      const pv = tl.first("pv", pvName) ?? pvc;
      const bound = tl.first("pvc", name, (o) => o.status?.phase === "Bound") ?? pv;
      restores.push({
        name,
        total: (r.end - r.start) / 1000,
        stages: {
          "plugin: start, pre-flight, create (webhook in the path)": (pvc - r.start) / 1000,
          "csi-provisioner: CreateVolume, PV created": (pv - pvc) / 1000,
          "PV controller: claim Bound": (bound - pv) / 1000,
          "plugin: notices, exits": (r.end - bound) / 1000,
        },
      });
      log(`${name}: ${restores[i]?.total.toFixed(2)} s`);
    }
    // The restored data is the snapshot's: a pod reads one restored claim back.
    await kubectl(
      ["apply", "-f", "-"],
      writerPod("reader", { "restore-0": "/data" }, "cat /data/hello.txt > /dev/null", node),
    );
    await kubectl(["wait", "--for=condition=Ready", "pod/reader", "--timeout=120s"]);
    const read = (await kubectl(["exec", "reader", "--", "cat", "/data/hello.txt"])).stdout;
    if (read !== "hello\n") throw new Error(`restore-0 should read "hello", read ${JSON.stringify(read)}`);

    const { dir: logDir, rpcs, errors } = await collectLogs(cluster, "e2e");
    const rpcMs = (method: string) =>
      rpcs.filter((r) => r.method === method && r.code === "OK").map((r) => r.ms);
    const out = {
      benchmark: "e2e",
      description: `local cluster with 2 real nodes (kubelet + containerd each, btrfs data folders), manifests/ as shipped through the local overlay; claim of ${SIZE} with ${DATA_MIB} MiB of random data in ${files} files; ${RUNS} snapshots then ${RUNS} restores, one at a time, each \`kubectl vol … --wait\` through the built plugin; after a warm-up snapshot and restore`,
      machine: machine(),
      loadAverage: os.loadavg(),
      snapshot: summarize(snaps, rpcMs("CreateSnapshot")),
      restore: summarize(restores, rpcMs("CreateVolume")),
      pluginWithoutWait: {
        snapshotMedian: median(floorSnap),
        restoreMedian: median(floorRestore),
        helpMedian: median(floorHelp),
        kubectlGetMedian: median(floorKubectl),
        snapshot: floorSnap,
        restore: floorRestore,
      },
      eventsOfTheMedianRuns: {
        snapshot: sequence(tl, snaps, (r) => [
          `vs/${r.name}`,
          `vsc/${contentOf(tl as Timeline, NS, r.name) ?? ""}`,
        ]),
        restore: sequence(tl, restores, (r) => [
          `pvc/${r.name}`,
          `pv/${volumeOf(tl as Timeline, NS, r.name) ?? ""}`,
        ]),
      },
      logs: logDir,
      targets: TARGETS,
      errorsInLogs: errors.slice(0, 50),
      runs: { snapshots: snaps, restores },
    };
    mkdirSync(results, { recursive: true });
    writeFileSync(path.join(results, "e2e.json"), `${JSON.stringify(out, null, 2)}\n`);
    writeFileSync(path.join(results, "e2e.md"), markdown(out));
    console.log(markdown(out));
  } finally {
    await tl?.stop();
    await stopCluster(cluster);
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function stopCluster(cluster: Cluster): Promise<void> {
  await cluster.stop();
}

/** Every watch event of the median run's objects, as ms from the first. */
function sequence(tl: Timeline | undefined, runs: Timed[], keys: (r: Timed) => string[]) {
  const r = [...runs].sort((a, b) => a.total - b.total)[runs.length >> 1];
  if (!tl || !r) return [];
  const evs = keys(r).flatMap((k) =>
    (tl.events.get(k) ?? []).map((e) => ({
      t: e.t,
      what: `${k.split("/")[0]} ${e.type}`,
      readyToUse: e.obj.status?.readyToUse,
      phase: e.obj.status?.phase,
      finalizers: (e.obj.metadata as { finalizers?: string[] }).finalizers?.length ?? 0,
    })),
  );
  const t0 = Math.min(...evs.map((e) => e.t));
  return evs.sort((a, b) => a.t - b.t).map((e) => ({ ...e, t: Math.round(e.t - t0) }));
}

function summarize(runs: Timed[], rpcMs: number[]) {
  const stages: Record<string, number> = {};
  for (const k of Object.keys(runs[0]?.stages ?? {}))
    stages[k] = median(runs.map((r) => r.stages[k] as number));
  return {
    median: median(runs.map((r) => r.total)),
    min: Math.min(...runs.map((r) => r.total)),
    max: Math.max(...runs.map((r) => r.total)),
    p90: percentile(
      runs.map((r) => r.total),
      90,
    ),
    stageMedians: stages,
    rpcMedianMs: median(rpcMs),
    rpcCount: rpcMs.length,
  };
}

/** From the object's creation to ready: every stage but the plugin's first and last. */
function clusterSide(s: ReturnType<typeof summarize>): number {
  const v = Object.values(s.stageMedians);
  return v.slice(1, -1).reduce((a, b) => a + b, 0);
}

function markdown(o: {
  machine: Record<string, unknown>;
  loadAverage: number[];
  description: string;
  snapshot: ReturnType<typeof summarize>;
  restore: ReturnType<typeof summarize>;
  pluginWithoutWait: {
    snapshotMedian: number;
    restoreMedian: number;
    helpMedian: number;
    kubectlGetMedian: number;
  };
  errorsInLogs: string[];
  runs: { snapshots: Timed[]; restores: Timed[] };
}): string {
  const verdict = (v: number, t: number) => (v <= t ? "met" : "**not met**");
  const stageRows = (s: ReturnType<typeof summarize>) =>
    Object.entries(s.stageMedians)
      .map(([k, v]) => `| ${k} | ${v.toFixed(3)} |`)
      .join("\n");
  return `## e2e: \`kubectl vol snapshot --wait\` and \`kubectl vol restore --wait\` on the local cluster

${machineLine(o.machine)}; 1-min load average at the end ${o.loadAverage.map((x) => x.toFixed(2)).join(", ")} (the machine is shared). ${o.description}.

| what | median | min | p90 | max | target |
| --- | --- | --- | --- | --- | --- |
| snapshot --wait, to ready | ${o.snapshot.median.toFixed(2)} s | ${o.snapshot.min.toFixed(2)} | ${o.snapshot.p90.toFixed(2)} | ${o.snapshot.max.toFixed(2)} | ≤ ${TARGETS.snapshotSeconds} s: ${verdict(o.snapshot.median, TARGETS.snapshotSeconds)} |
| restore --wait, to Bound | ${o.restore.median.toFixed(2)} s | ${o.restore.min.toFixed(2)} | ${o.restore.p90.toFixed(2)} | ${o.restore.max.toFixed(2)} | ≤ ${TARGETS.restoreSeconds} s: ${verdict(o.restore.median, TARGETS.restoreSeconds)} |
| \`kubectl get pvc\` (kubectl's own floor) | ${o.pluginWithoutWait.kubectlGetMedian.toFixed(2)} s | | | | |
| \`kubectl vol --help\` (the plugin's start) | ${o.pluginWithoutWait.helpMedian.toFixed(2)} s | | | | |
| snapshot without --wait (the plugin alone) | ${o.pluginWithoutWait.snapshotMedian.toFixed(2)} s | | | | |
| restore without --wait (the plugin alone) | ${o.pluginWithoutWait.restoreMedian.toFixed(2)} s | | | | |

Where a snapshot's time goes (median of each stage, s; from watches on the objects; our CreateSnapshot itself: ${o.snapshot.rpcMedianMs} ms median over ${o.snapshot.rpcCount} calls, from the driver's log):

| stage | s |
| --- | --- |
${stageRows(o.snapshot)}

Where a restore's time goes (our CreateVolume from the snapshot: ${o.restore.rpcMedianMs} ms median over ${o.restore.rpcCount} calls):

| stage | s |
| --- | --- |
${stageRows(o.restore)}

Each run: snapshots ${o.runs.snapshots.map((r) => r.total.toFixed(2)).join(", ")} s; restores ${o.runs.restores.map((r) => r.total.toFixed(2)).join(", ")} s.

**Where the time goes** (medians): from the object's creation to ready, the cluster takes ${clusterSide(o.snapshot).toFixed(2)} s for a snapshot and ${clusterSide(o.restore).toFixed(2)} s for a restore, our RPC ${(o.snapshot.rpcMedianMs / 1000).toFixed(2)} s and ${(o.restore.rpcMedianMs / 1000).toFixed(2)} s of it; the rest, ${(o.snapshot.median - clusterSide(o.snapshot)).toFixed(2)} s and ${(o.restore.median - clusterSide(o.restore)).toFixed(2)} s, is the plugin: starting (\`--help\` alone ${o.pluginWithoutWait.helpMedian.toFixed(2)} s here, where \`kubectl get pvc\` takes ${o.pluginWithoutWait.kubectlGetMedian.toFixed(2)} s), loading its client, its pre-flight reads one after another, and the create (for a restore through both webhooks). Without --wait the plugin alone takes ${o.pluginWithoutWait.snapshotMedian.toFixed(2)} s and ${o.pluginWithoutWait.restoreMedian.toFixed(2)} s: the targets leave it ${Math.max(0, TARGETS.snapshotSeconds - clusterSide(o.snapshot)).toFixed(2)} s and ${Math.max(0, TARGETS.restoreSeconds - clusterSide(o.restore)).toFixed(2)} s. The 1-min load average was ${o.loadAverage[0]?.toFixed(1)} on 2 cores${(o.loadAverage[0] ?? 0) > 4 ? ": at such a load every process here runs several times slower" : ""}.

Error lines in the system's logs (klog E, our level error; ABORTED retries left out): ${o.errorsInLogs.length === 0 ? "none" : `\n\n\`\`\`\n${o.errorsInLogs.join("\n")}\n\`\`\``}
`;
}

if (process.argv[2] === "--render") {
  // Writes e2e.md again from e2e.json (after a change to the summary, without a new run).
  const results = path.join(import.meta.dirname, "results");
  writeFileSync(
    path.join(results, "e2e.md"),
    markdown(JSON.parse(readFileSync(path.join(results, "e2e.json"), "utf8"))),
  );
} else {
  await main();
}
