// Driver benchmark: latency of CreateSnapshot, CreateVolume from a snapshot (a restore) and
// CreateVolume from a volume (a clone), for volumes holding 0.1, 1 and 4 GiB of incompressible
// data, on each backend on its own real loop-mounted filesystem: btrfs (subvolumes), reflink on
// XFS, copy on ext4. Each figure is the median of several runs; the ratio is to the copy backend.
//
// Measured through the driver's gRPC socket (vol-csi started by the harness, called as the
// csi-provisioner and csi-snapshotter would; the driver makes each result durable before it
// answers), and for btrfs and reflink also at the backend level (the call, then syncfs), to
// show how much of the time is the driver's own. Writes bench/results/driver.json and driver.md.
//
//   node bench/driver.bench.ts                            # everything (about 5 minutes on 2 cores)
//   BENCH_DRIVER_SIZES=0.1,1 node bench/driver.bench.ts   # a quicker subset
//   BENCH_DRIVER_LEVEL=grpc|backend|both                  # which levels (default both)
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, open, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Backend, BackendKind } from "../src/driver/backends/backend.ts";
import { openBackend } from "../src/driver/backends/index.ts";
import { exec } from "../src/driver/exec.ts";
import { assets } from "../src/localcluster/assets.ts";
import { connectCsi, MOUNT_CAP, type Msg } from "../src/localcluster/csi-client.ts";
import { registerDriverCleanup, spawnDriver } from "../src/localcluster/csi-sanity.ts";
import { type FsType, leftoversUnder, mountLoopFs } from "../src/localcluster/loopfs.ts";
import { Session } from "../src/localcluster/session.ts";
import { machine, median } from "./machine.ts";

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const repo = path.resolve(import.meta.dirname, "..");
const sizesGiB = (process.env.BENCH_DRIVER_SIZES ?? "0.1,1,4")
  .split(",")
  .map(Number)
  .sort((a, b) => a - b);
const levelSetting = process.env.BENCH_DRIVER_LEVEL ?? "both";
const OPS = ["CreateSnapshot", "CreateVolumeFromSnapshot", "CloneVolume"] as const;
type Op = (typeof OPS)[number];
type Level = "grpc" | "backend";
const maxData = Math.max(...sizesGiB) * GiB;
/** Requested capacity of every volume: room for the largest data set. */
const capacity = Math.ceil((maxData * 1.25) / MiB) * MiB;

interface Target {
  kind: BackendKind;
  fs: FsType;
  level: Level;
  /** Measured rounds (after one untimed warm-up round for the fast backends). */
  runs: number;
  warmup: boolean;
  /** Copy-on-write: results are kept until the end of a size step (they cost no space). */
  cow: boolean;
}

const KINDS = [
  { kind: "btrfs", fs: "btrfs", runs: 11, warmup: true, cow: true },
  { kind: "reflink", fs: "xfs", runs: 11, warmup: true, cow: true },
  { kind: "copy", fs: "ext4", runs: 3, warmup: false, cow: false },
] as const;

/** grpc: every backend through the socket; backend: every backend directly; both: every backend
 * through the socket, and btrfs and reflink directly as well. */
const targets: Target[] = KINDS.flatMap((k): Target[] => {
  const grpc: Target = { ...k, level: "grpc" };
  const direct: Target = { ...k, level: "backend" };
  if (levelSetting === "grpc") return [grpc];
  if (levelSetting === "backend") return [direct];
  return k.cow ? [grpc, direct] : [grpc];
});

/** Apparent size of a filesystem's sparse image: each source volume on it, and for the copy
 * backend a snapshot and a restore besides (copy-on-write copies cost no space). */
function imageBytes(fs: FsType): number {
  return targets.filter((t) => t.fs === fs).reduce((sum, t) => sum + (t.cow ? 1.2 : 3.3) * maxData, 2 * GiB);
}

/** What a round calls: the driver over gRPC, or a backend directly. Ids are opaque. */
interface Subject {
  /** Makes the source volume and returns its id and a directory where its data can be written. */
  source(): Promise<{ id: string; dir: string }>;
  snapshot(name: string, volumeId: string): Promise<string>;
  restore(name: string, snapshotId: string): Promise<string>;
  clone(name: string, volumeId: string): Promise<string>;
  deleteVolume(id: string): Promise<void>;
  deleteSnapshot(id: string): Promise<void>;
  /** Bytes the source volume uses, as the driver (NodeGetVolumeStats) or the backend reports them. */
  used(id: string, dir: string): Promise<number>;
}

const t0 = Date.now();
const loadAtStart = loadAverage();
function loadAverage(): string[] {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3);
}
function log(msg: string): void {
  console.log(`[driver.bench +${Math.round((Date.now() - t0) / 1000)}s] ${msg}`);
}

/** Through vol-csi's socket: one driver per filesystem, each choosing its backend itself. */
async function grpcSubject(session: Session, t: Target, mountpoint: string, proto: string): Promise<Subject> {
  const dataDir = path.join(mountpoint, "data");
  const targetsDir = session.path(`targets-${t.fs}`);
  await mkdir(targetsDir);
  registerDriverCleanup(session, dataDir, targetsDir);
  const socket = session.path(`${t.fs}.sock`);
  const driver = await spawnDriver(session, { dataDir, socket, proto, name: `vol-csi-${t.fs}` });
  const chosen = (await readFile(driver.logFile, "utf8"))
    .split("\n")
    .filter((l) => l.includes('"backend chosen"'))
    .map((l) => (JSON.parse(l) as { backend?: string }).backend)[0];
  if (chosen !== t.kind) throw new Error(`the driver chose ${chosen} on ${t.fs}, expected ${t.kind}`);
  const client = connectCsi(socket, proto);
  const createVolume = async (name: string, source?: Msg): Promise<string> => {
    const res = await client.call(
      "Controller",
      "CreateVolume",
      {
        name,
        capacity_range: { required_bytes: String(capacity) },
        volume_capabilities: [MOUNT_CAP],
        ...(source ? { volume_content_source: source } : {}),
      },
      1_800_000,
    );
    return String(res.volume.volume_id);
  };
  return {
    async source() {
      const id = await createVolume("bench-source");
      const dir = path.join(targetsDir, "source");
      await client.call("Node", "NodePublishVolume", {
        volume_id: id,
        target_path: dir,
        volume_capability: MOUNT_CAP,
        readonly: false,
      });
      return { id, dir };
    },
    async snapshot(name, volumeId) {
      const res = await client.call(
        "Controller",
        "CreateSnapshot",
        { name, source_volume_id: volumeId },
        1_800_000,
      );
      return String(res.snapshot.snapshot_id);
    },
    restore: (name, snapshotId) => createVolume(name, { snapshot: { snapshot_id: snapshotId } }),
    clone: (name, volumeId) => createVolume(name, { volume: { volume_id: volumeId } }),
    async deleteVolume(id) {
      await client.call("Controller", "DeleteVolume", { volume_id: id }, 600_000);
    },
    async deleteSnapshot(id) {
      await client.call("Controller", "DeleteSnapshot", { snapshot_id: id }, 600_000);
    },
    async used(id, dir) {
      const stats = await client.call("Node", "NodeGetVolumeStats", { volume_id: id, volume_path: dir });
      return Number(stats.usage.find((u: Msg) => u.unit === "BYTES")?.used ?? 0);
    },
  };
}

/** The backend alone: ids are paths in the data dir; each call is followed by syncfs. */
async function backendSubject(t: Target, mountpoint: string): Promise<Subject> {
  const root = path.join(mountpoint, "direct");
  await mkdir(root);
  const b: Backend = await openBackend(t.kind, root, exec);
  const durable = async (p: string, make: () => Promise<unknown>) => {
    await make();
    await exec("sync", ["-f", root]);
    return p;
  };
  return {
    async source() {
      const dir = path.join(root, "source");
      await b.createVolume(dir, capacity);
      return { id: dir, dir };
    },
    snapshot: (name, v) => durable(path.join(root, name), () => b.snapshot(v, path.join(root, name))),
    restore: (name, s) => durable(path.join(root, name), () => b.clone(s, path.join(root, name), capacity)),
    clone: (name, v) => durable(path.join(root, name), () => b.clone(v, path.join(root, name), capacity)),
    deleteVolume: (id) => b.remove(id),
    deleteSnapshot: (id) => b.remove(id),
    used: async (id) => (await b.usage(id)).bytes,
  };
}

/** Adds four files of random bytes (and 16 small ones) to every dir, growing each by `bytes`. */
async function addData(dirs: string[], bytes: number, step: number): Promise<number> {
  const chunk = Buffer.allocUnsafe(4 * MiB);
  const per = Math.floor(bytes / 4 / chunk.length) * chunk.length;
  for (let f = 0; f < 4; f++) {
    const handles = await Promise.all(dirs.map((d) => open(path.join(d, `data-${step}-${f}.bin`), "wx")));
    for (let off = 0; off < per; off += chunk.length) {
      randomFillSync(chunk);
      await Promise.all(handles.map((h) => h.write(chunk, 0, chunk.length, off)));
    }
    for (const h of handles) {
      await h.sync();
      await h.close();
    }
  }
  for (const d of dirs) {
    await mkdir(path.join(d, `small-${step}`));
    for (let i = 0; i < 16; i++) {
      await writeFile(path.join(d, `small-${step}`, `f${i}`), randomFillSync(Buffer.alloc(4096)));
    }
  }
  return 4 + 16;
}

/**
 * Lets the filesystem finish what earlier steps left running (untimed): writeback, and on btrfs
 * the cleaner dropping deleted subvolumes (woken by a commit), which would otherwise compete
 * with the next measurement.
 */
async function settle(t: Target, mountpoint: string): Promise<void> {
  await exec("sync", ["-f", mountpoint]);
  if (t.kind === "btrfs") {
    await exec("btrfs", ["filesystem", "sync", mountpoint]);
    await exec("btrfs", ["subvolume", "sync", mountpoint], { timeoutMs: 600_000 });
  }
  await sleep(200);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const r = await fn();
  return [r, performance.now() - start];
}

interface Row {
  backend: BackendKind;
  fs: FsType;
  level: Level;
  sizeGiB: number;
  /** Bytes the source volume used, as the driver or the backend reported them. */
  sourceUsedBytes: number;
  files: number;
  op: Op;
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  samplesMs: number[];
  /** To the copy backend through the socket, same size and operation. */
  ratioToCopy?: number;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The rounds of one size step on one subject: snapshot, restore from it, clone the source. */
async function measure(
  s: Subject,
  t: Target,
  mountpoint: string,
  source: string,
  sizeGiB: number,
): Promise<Record<Op, number[]>> {
  const samples: Record<Op, number[]> = { CreateSnapshot: [], CreateVolumeFromSnapshot: [], CloneVolume: [] };
  const kept: { volumes: string[]; snapshots: string[] } = { volumes: [], snapshots: [] };
  const cleanUp = async () => {
    for (const v of kept.volumes.splice(0)) await s.deleteVolume(v);
    for (const v of kept.snapshots.splice(0)) await s.deleteSnapshot(v);
  };
  const tag = String(sizeGiB).replace(".", "p");
  for (let i = t.warmup ? 0 : 1; i <= t.runs; i++) {
    await settle(t, mountpoint);
    const [snap, sMs] = await timed(() => s.snapshot(`snap-${tag}-${i}`, source));
    kept.snapshots.push(snap);
    await settle(t, mountpoint);
    const [restored, rMs] = await timed(() => s.restore(`restored-${tag}-${i}`, snap));
    kept.volumes.push(restored);
    if (!t.cow) await cleanUp();
    await settle(t, mountpoint);
    const [clone, cMs] = await timed(() => s.clone(`clone-${tag}-${i}`, source));
    kept.volumes.push(clone);
    if (!t.cow) await cleanUp();
    if (i === 0) continue;
    samples.CreateSnapshot.push(sMs);
    samples.CreateVolumeFromSnapshot.push(rMs);
    samples.CloneVolume.push(cMs);
  }
  await cleanUp();
  return samples;
}

async function main(): Promise<void> {
  const session = await Session.create("vol-bench-driver");
  const rows: Row[] = [];
  let leftovers: string[] = [];
  try {
    const proto = targets.some((t) => t.level === "grpc") ? (await assets("csi-proto"))["csi-proto"] : "";
    const mountpoints = new Map<FsType, string>();
    for (const fs of new Set(targets.map((t) => t.fs))) {
      const lfs = await mountLoopFs(session, fs, { sizeBytes: imageBytes(fs), name: `bench-${fs}` });
      mountpoints.set(fs, lfs.mountpoint);
    }
    const subjects: { t: Target; s: Subject; mountpoint: string; source: { id: string; dir: string } }[] = [];
    for (const t of targets) {
      const mountpoint = mountpoints.get(t.fs) as string;
      const s =
        t.level === "grpc"
          ? await grpcSubject(session, t, mountpoint, proto)
          : await backendSubject(t, mountpoint);
      subjects.push({ t, s, mountpoint, source: await s.source() });
    }
    let have = 0;
    let files = 0;
    for (const [step, sizeGiB] of sizesGiB.entries()) {
      const want = Math.round(sizeGiB * GiB);
      log(
        `writing ${((want - have) / GiB).toFixed(2)} GiB more into each source volume (${sizeGiB} GiB in all)`,
      );
      files += await addData(
        subjects.map((x) => x.source.dir),
        want - have,
        step,
      );
      have = want;
      for (const { t, s, mountpoint, source } of subjects) {
        const samples = await measure(s, t, mountpoint, source.id, sizeGiB);
        const used = await s.used(source.id, source.dir);
        for (const op of OPS) {
          const ms = samples[op];
          rows.push({
            backend: t.kind,
            fs: t.fs,
            level: t.level,
            sizeGiB,
            sourceUsedBytes: used,
            files,
            op,
            runs: ms.length,
            medianMs: round2(median(ms)),
            minMs: round2(Math.min(...ms)),
            maxMs: round2(Math.max(...ms)),
            samplesMs: ms.map(round2),
          });
        }
        const summary = OPS.map((op) => `${op} ${round2(median(samples[op]))} ms`).join(", ");
        log(`${t.kind} on ${t.fs} (${t.level}), ${sizeGiB} GiB: ${summary}`);
      }
    }
  } finally {
    const dir = session.dir;
    await session.stop();
    leftovers = await leftoversUnder(dir);
  }
  const copyLevel: Level = rows.some((r) => r.backend === "copy" && r.level === "grpc") ? "grpc" : "backend";
  for (const r of rows) {
    const copy = rows.find(
      (c) => c.backend === "copy" && c.level === copyLevel && c.sizeGiB === r.sizeGiB && c.op === r.op,
    );
    if (copy && r.backend !== "copy")
      r.ratioToCopy = Math.round((r.medianMs / copy.medianMs) * 10_000) / 10_000;
  }
  const smallest = sizesGiB[0];
  const largest = sizesGiB[sizesGiB.length - 1];
  const checks = rows
    .filter((r) => r.backend !== "copy")
    .map((r) => {
      const small = rows.find(
        (x) => x.backend === r.backend && x.level === r.level && x.op === r.op && x.sizeGiB === smallest,
      );
      const growth = r.sizeGiB === largest && small ? round2(r.medianMs / small.medianMs) : undefined;
      return {
        backend: r.backend,
        level: r.level,
        op: r.op,
        sizeGiB: r.sizeGiB,
        medianMs: r.medianMs,
        under100ms: r.medianMs < 100,
        ...(growth === undefined ? {} : { largestToSmallest: growth, withinTwiceOfSmallest: growth <= 2 }),
      };
    });
  const met = (level: Level) =>
    checks.filter((c) => c.level === level).every((c) => c.under100ms && c.withinTwiceOfSmallest !== false);
  const result = {
    benchmark: "driver",
    levels: [...new Set(targets.map((t) => t.level))],
    method:
      "Each backend on its own sparse loop filesystem (btrfs; XFS -m reflink=1; ext4) under a Session dir. " +
      "grpc: through vol-csi's unix socket, one driver per filesystem (it detects its backend), called with " +
      "CreateSnapshot, CreateVolume{content_source: snapshot} and CreateVolume{content_source: volume}, each " +
      "timed from request to response (the driver makes the result durable before it answers); the source " +
      "volume is published (NodePublishVolume) and filled through its target path. backend: the backend " +
      "methods called directly, each timed until syncfs of the data dir returns. The source volume gets 4 " +
      "files of random bytes per size step plus 16 small files, so it holds 0.1, then 1, then 4 GiB. btrfs " +
      "and reflink: one untimed warm-up round, results kept until the end of the size step; copy: results " +
      "deleted after each round. Before each timed call the filesystem is settled (syncfs; on btrfs a commit " +
      "and `btrfs subvolume sync`). Page cache is not dropped.",
    sizesGiB,
    rows,
    targets: {
      description: `btrfs and reflink under 100 ms at every size; at ${largest} GiB within 2x of ${smallest} GiB`,
      metThroughGrpc: targets.some((t) => t.level === "grpc") ? met("grpc") : undefined,
      metAtBackendLevel: targets.some((t) => t.level === "backend") ? met("backend") : undefined,
      checks,
    },
    leftoversAfterStop: leftovers,
    totalSeconds: Math.round((Date.now() - t0) / 1000),
    machine: {
      ...machine(),
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadAverage(),
    },
  };
  await mkdir(path.join(repo, "bench/results"), { recursive: true });
  await writeFile(path.join(repo, "bench/results/driver.json"), `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(path.join(repo, "bench/results/driver.md"), markdown(result));
  log(`done; targets through gRPC ${result.targets.metThroughGrpc ? "met" : "NOT met"}`);
  if (leftovers.length > 0) {
    console.error(`leftovers after the session stopped:\n${leftovers.join("\n")}`);
    process.exitCode = 1;
  }
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function fmtRatio(r: number | undefined): string {
  if (r === undefined) return "";
  return r >= 0.01 ? ` (${r.toFixed(2)}x)` : ` (1/${Math.round(1 / r)})`;
}

function table(rows: Row[], level: Level): string[] {
  const mine = rows.filter((r) => r.level === level);
  const lines = [
    "| backend (fs) | data | CreateSnapshot | CreateVolume from snapshot | clone (CreateVolume from volume) |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const sizeGiB of [...new Set(mine.map((r) => r.sizeGiB))]) {
    for (const kind of [...new Set(mine.map((r) => r.backend))]) {
      const cell = (op: Op) => {
        const r = mine.find((x) => x.backend === kind && x.sizeGiB === sizeGiB && x.op === op);
        return r ? `${fmtMs(r.medianMs)}${fmtRatio(r.ratioToCopy)}` : "–";
      };
      const fs = mine.find((x) => x.backend === kind)?.fs;
      lines.push(
        `| ${kind} (${fs}) | ${sizeGiB} GiB | ${cell("CreateSnapshot")} | ${cell("CreateVolumeFromSnapshot")} | ${cell("CloneVolume")} |`,
      );
    }
  }
  return lines;
}

function markdown(result: {
  rows: Row[];
  targets: {
    description: string;
    metThroughGrpc: boolean | undefined;
    metAtBackendLevel: boolean | undefined;
    checks: {
      level: Level;
      backend: BackendKind;
      op: Op;
      sizeGiB: number;
      medianMs: number;
      under100ms: boolean;
      largestToSmallest?: number;
      withinTwiceOfSmallest?: boolean;
    }[];
  };
  totalSeconds: number;
  machine: Record<string, unknown>;
}): string {
  const m = result.machine;
  const { rows, targets: tg } = result;
  const runs = (kind: BackendKind) => rows.find((r) => r.backend === kind)?.runs ?? "?";
  const verdict = (met: boolean | undefined, level: Level) => {
    const mine = tg.checks.filter((c) => c.level === level);
    const growth = mine.flatMap((c) => c.largestToSmallest ?? []);
    const spread = growth.length
      ? `; largest/smallest size: ${Math.min(...growth)}x–${Math.max(...growth)}x`
      : "";
    const missed = mine
      .filter((c) => !c.under100ms || c.withinTwiceOfSmallest === false)
      .map(
        (c) =>
          `${c.backend} ${c.op} at ${c.sizeGiB} GiB (${fmtMs(c.medianMs)}${c.largestToSmallest ? `, ${c.largestToSmallest}x` : ""})`,
      );
    return `**${met ? "met" : "not met"}**${spread}${missed.length ? `; missed by ${missed.join(", ")}` : ""}`;
  };
  const lines = [
    "# Driver benchmark: snapshot, restore and clone latency",
    "",
    `Median of ${runs("btrfs")} runs for btrfs and reflink, ${runs("copy")} for copy; in brackets the ratio to the ` +
      "copy backend through the socket at the same size. Each backend on its own loop-mounted filesystem.",
  ];
  if (tg.metThroughGrpc !== undefined) {
    lines.push(
      "",
      "## Through the driver's gRPC socket",
      "",
      "Request to response, as the csi-provisioner and csi-snapshotter see it (the driver makes each result durable before it answers).",
      "",
      ...table(rows, "grpc"),
      "",
      `Targets (${tg.description}): ${verdict(tg.metThroughGrpc, "grpc")}.`,
    );
  }
  if (tg.metAtBackendLevel !== undefined) {
    lines.push(
      "",
      "## The backends alone",
      "",
      "The storage operation plus syncfs of the data dir, without the driver (its records, locks, fsyncs and gRPC).",
      "",
      ...table(rows, "backend"),
      "",
      `Targets: ${verdict(tg.metAtBackendLevel, "backend")}.`,
    );
  }
  lines.push(
    "",
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB RAM, ${m.kernel}, Node ${m.node}, shared with other ` +
      `jobs (load average ${(m.loadAverageAtStart as string[]).join(" ")} at the start, ${(m.loadAverageAtEnd as string[]).join(" ")} at the end); ${m.date}. The run took ` +
      `${result.totalSeconds} s. All figures: bench/results/driver.json.`,
    "",
  );
  return lines.join("\n");
}

if (process.env.BENCH_DRIVER_RENDER) {
  // Re-renders driver.md from driver.json (after a change to the summary; no measurement).
  const json = JSON.parse(await readFile(path.join(repo, "bench/results/driver.json"), "utf8"));
  await writeFile(path.join(repo, "bench/results/driver.md"), markdown(json));
} else {
  await main();
}
