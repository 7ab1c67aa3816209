// Group snapshot benchmark: CreateVolumeGroupSnapshot latency and the freeze window (how long
// the members' writers were held, as the driver logs it) for groups of 2 and 10 volumes, on
// btrfs and on XFS with reflink, each on its own loop-mounted filesystem. A writer in its own
// mount namespace (as a pod's container) puts a rising number into every member in turn, fsyncing each, the whole
// time, so every group has a writer to hold. Through the driver's gRPC socket, as csi-snapshotter
// calls it. Writes bench/results/group.json and group.md.
//
//   node bench/group.bench.ts                 # about 2 minutes on 2 cores
//   BENCH_GROUP_RUNS=3 node bench/group.bench.ts
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { assets } from "../src/localcluster/assets.ts";
import { connectCsi, MOUNT_CAP } from "../src/localcluster/csi-client.ts";
import { registerDriverCleanup, spawnDriver } from "../src/localcluster/csi-sanity.ts";
import { type FsType, mountLoopFs } from "../src/localcluster/loopfs.ts";
import { Session, waitUntil } from "../src/localcluster/session.ts";
import { seqOf, startWriter } from "../src/localcluster/writer.ts";
import { machine, median } from "./machine.ts";

const MiB = 2 ** 20;
const repo = path.resolve(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_GROUP_RUNS ?? 9);
const SIZES = [2, 10];
const TARGET_MS = 100;
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3);

interface Row {
  backend: string;
  fs: FsType;
  members: number;
  runs: number;
  latencyMs: { median: number; max: number };
  freezeWindowMs: { median: number; max: number };
  processesHeld: number;
  freezeUnder100ms: boolean;
}

async function measure(fs: FsType, backend: string, members: number): Promise<Row> {
  const { "csi-proto": proto } = await assets("csi-proto");
  const s = await Session.create(`vol-bench-group-${fs}-${members}`);
  try {
    const loop = await mountLoopFs(s, fs, { sizeBytes: 1024 * MiB });
    const dataDir = path.join(loop.mountpoint, "data");
    registerDriverCleanup(s, dataDir, s.path("mnt"));
    const sock = s.path("csi.sock");
    const driver = await spawnDriver(s, { dataDir, socket: sock, proto });
    const client = connectCsi(sock, proto);
    const ids: string[] = [];
    const targets: string[] = [];
    for (let i = 0; i < members; i++) {
      const v = await client.call("Controller", "CreateVolume", {
        name: `m${i}`,
        volume_capabilities: [MOUNT_CAP],
        capacity_range: { required_bytes: String(16 * MiB) },
      });
      ids.push(v.volume.volume_id);
      const t = s.path("mnt", `m${i}`);
      await client.call("Node", "NodePublishVolume", {
        volume_id: v.volume.volume_id,
        target_path: t,
        volume_capability: MOUNT_CAP,
      });
      targets.push(t);
    }
    const writer = startWriter(s, "writer", targets);
    const last = path.join(dataDir, "volumes", ids[ids.length - 1] as string);
    await waitUntil("the writer to write", async () => (await seqOf(last).catch(() => 0)) > 10, 30_000);
    const latency: number[] = [];
    for (let r = 0; r < RUNS + 1; r++) {
      const t0 = performance.now();
      const g = await client.call("GroupController", "CreateVolumeGroupSnapshot", {
        name: `g${r}`,
        source_volume_ids: ids,
      });
      const ms = performance.now() - t0;
      if (r > 0) latency.push(ms); // the first is a warm-up
      await client.call("GroupController", "DeleteVolumeGroupSnapshot", {
        group_snapshot_id: g.group_snapshot.group_snapshot_id,
      });
    }
    await writer.stop();
    client.close();
    await driver.stop();
    const cuts = (await readFile(driver.logFile, "utf8"))
      .split("\n")
      .filter((l) => l.includes("group snapshot cut at one instant"))
      .map((l) => JSON.parse(l) as { freezeWindowMs: number; processesHeld: number[] })
      .slice(1);
    const windows = cuts.map((c) => c.freezeWindowMs);
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      backend,
      fs,
      members,
      runs: RUNS,
      latencyMs: { median: round(median(latency)), max: round(Math.max(...latency)) },
      freezeWindowMs: { median: median(windows), max: Math.max(...windows) },
      processesHeld: Math.max(...cuts.map((c) => c.processesHeld.length)),
      freezeUnder100ms: median(windows) < TARGET_MS,
    };
  } finally {
    await s.stop();
  }
}

function markdown(result: { rows: Row[]; machine: Record<string, unknown>; totalSeconds: number }): string {
  const m = result.machine;
  const lines = [
    "# Group snapshot benchmark: CreateVolumeGroupSnapshot latency and freeze window",
    "",
    `Median (and max) of ${RUNS} groups per row, after one warm-up, while a writer puts a rising number into every member in turn, fsyncing each (src/localcluster/writer.ts).`,
    "The freeze window is the time the members' writers were held (stopped), as the driver logs it.",
    "",
    "| backend (fs) | members | latency | freeze window | target: freeze < 100 ms |",
    "| --- | --- | --- | --- | --- |",
    ...result.rows.map(
      (r) =>
        `| ${r.backend} (${r.fs}) | ${r.members} | ${r.latencyMs.median} ms (max ${r.latencyMs.max}) | ${r.freezeWindowMs.median} ms (max ${r.freezeWindowMs.max}) | ${r.freezeUnder100ms ? "met" : "**not met**"} |`,
    ),
    "",
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, ${m.kernel}, Node ${m.node}, shared with other ` +
      `jobs (load average ${(m.loadAverageAtStart as string[]).join(" ")} at the start, ${(m.loadAverageAtEnd as string[]).join(" ")} at the end); ${m.date}. The run took ` +
      `${result.totalSeconds} s. All figures: bench/results/group.json.`,
    "",
  ];
  return lines.join("\n");
}

const t0 = Date.now();
const loadAtStart = load();
const rows: Row[] = [];
for (const [fs, backend] of [
  ["btrfs", "btrfs"],
  ["xfs", "reflink"],
] as const) {
  for (const n of SIZES) {
    const row = await measure(fs, backend, n);
    console.log(JSON.stringify(row));
    rows.push(row);
  }
}
const result = {
  rows,
  machine: { ...machine(), loadAverageAtStart: loadAtStart, loadAverageAtEnd: load() },
  totalSeconds: Math.round((Date.now() - t0) / 1000),
};
await writeFile(path.join(repo, "bench/results/group.json"), `${JSON.stringify(result, null, 1)}\n`);
await writeFile(path.join(repo, "bench/results/group.md"), markdown(result));
