// `npm run bench webhook`: loads /validate and /mutate over HTTPS keep-alive on loopback with
// realistic AdmissionReviews (claims as the API server sends them, with managed fields) and
// 10,000 PVCs in the webhook's cache. The webhook runs in its own process pinned to one core
// (taskset, when available); the load generator runs in this process on another.
// Reports: throughput at saturation, latency p50/p99 at a fixed 2,000 requests/s, and RSS.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import type { KubernetesObject, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { createCA } from "../src/localcluster/certs.ts";
import { Session } from "../src/localcluster/session.ts";
import { fixedCache, KubeCache } from "../src/webhook/cache.ts";
import { WEBHOOK_ENV, WEBHOOK_NODE_FLAGS } from "../src/webhook/runtime.ts";
import { startWebhookServer, type WebhookServer } from "../src/webhook/server.ts";
import { readKeyPair } from "../src/webhook/tls.ts";
import { apiClaim, review } from "../test/unit/webhook/reviews.ts";
import { machine, median, percentile } from "./machine.ts";

const PVCS = 10_000;
const NAMESPACES = 100;
/** The fixed rate (the target's 2,000/s; BENCH_RATE for a machine too busy to sustain it even bare). */
const RATE = Number(process.env.BENCH_RATE ?? 2_000);
const FIXED_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SATURATION_SECONDS = 5;
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const DRIVER = "vol.csi.kubectl.io";
const NICE = -10;
/** Node flags of the webhook process: what a deployment runs with, unless $WEBHOOK_NODE_FLAGS says otherwise. */
const NODE_FLAGS =
  process.env.WEBHOOK_NODE_FLAGS === undefined
    ? WEBHOOK_NODE_FLAGS
    : process.env.WEBHOOK_NODE_FLAGS.split(" ").filter(Boolean);

// --- the webhook process ---------------------------------------------------------------------

function claimsInCache(): V1PersistentVolumeClaim[] {
  const out: V1PersistentVolumeClaim[] = [];
  for (let i = 0; i < PVCS; i++) {
    const ns = `ns-${i % NAMESPACES}`;
    const c = apiClaim(
      `data-${i}`,
      {
        storageClassName: "fast",
        resources: { requests: { storage: `${1 + (i % 50)}Gi` } },
        volumeName: `pvc-${i.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`,
      },
      ns,
    );
    c.metadata!.uid = `uid-${i}`;
    c.metadata!.annotations = {
      "pv.kubernetes.io/bind-completed": "yes",
      "pv.kubernetes.io/bound-by-controller": "yes",
      "volume.kubernetes.io/storage-provisioner": DRIVER,
    };
    c.status = { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: `${1 + (i % 50)}Gi` } };
    out.push(c);
  }
  return out;
}

/**
 * The floor under our figures: a bare Node.js HTTPS server with the same TLS settings that reads
 * the body, parses it as JSON and answers "allowed" with the uid echoed — what any webhook in
 * Node.js pays before its own logic runs.
 */
async function startBaseline(
  certFile: string,
  keyFile: string,
): Promise<{ port: number; server: https.Server }> {
  const server = https.createServer(
    { ...readKeyPair(certFile, keyFile), minVersion: "TLSv1.2" },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const review = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { request?: { uid?: string } };
        const body = JSON.stringify({
          apiVersion: "admission.k8s.io/v1",
          kind: "AdmissionReview",
          response: { uid: review.request?.uid ?? "", allowed: true },
        });
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        res.end(body);
      });
    },
  );
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as AddressInfo).port, server };
}

async function startWebhook(certFile: string, keyFile: string): Promise<WebhookServer> {
  const pvcs = claimsInCache();
  const snapshots = Array.from({ length: NAMESPACES }, (_, n) => ({
    apiVersion: "snapshot.storage.k8s.io/v1",
    kind: "VolumeSnapshot",
    metadata: { name: "nightly", namespace: `ns-${n}`, uid: `snap-${n}` },
    spec: { source: { persistentVolumeClaimName: `data-${n}` }, volumeSnapshotClassName: "snaps" },
    status: {
      boundVolumeSnapshotContentName: `content-${n}`,
      readyToUse: true,
      restoreSize: `${1 + (n % 50)}Gi`,
    },
  }));
  const contents = Array.from({ length: NAMESPACES }, (_, n) => ({
    metadata: { name: `content-${n}` },
    spec: {
      driver: DRIVER,
      sourceVolumeMode: "Filesystem",
      volumeSnapshotRef: { name: "nightly", namespace: `ns-${n}` },
      source: { volumeHandle: `h-${n}` },
    },
    status: { readyToUse: true, restoreSize: (1 + (n % 50)) * 2 ** 30 },
  }));
  const cache = new KubeCache(undefined, {
    fixed: {
      pvcs: fixedCache(pvcs as KubernetesObject[]),
      storageClasses: fixedCache([
        {
          metadata: { name: "fast", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
          provisioner: DRIVER,
        } as KubernetesObject,
      ]),
      volumeSnapshots: fixedCache(snapshots),
      volumeSnapshotContents: fixedCache(contents),
      volumeSnapshotClasses: fixedCache([
        {
          metadata: {
            name: "snaps",
            annotations: { "snapshot.storage.kubernetes.io/is-default-class": "true" },
          },
          driver: DRIVER,
          deletionPolicy: "Delete",
        } as KubernetesObject,
      ]),
    },
  });
  return startWebhookServer({
    certFile,
    keyFile,
    lookups: { cached: cache.cached() },
    ready: () => cache.ready(),
  });
}

async function serve(what: "webhook" | "baseline", certFile: string, keyFile: string): Promise<void> {
  const srv: { port: number; server: https.Server; metrics?: WebhookServer["metrics"] } =
    what === "baseline" ? await startBaseline(certFile, keyFile) : await startWebhook(certFile, keyFile);
  // The webhook's own /metrics text when the measured phase started, and the path measured.
  let metricsBefore = "";
  let measuredPath = "";
  process.send?.({ port: srv.port });
  // Server-side time per request (first byte read to last byte written), for the fixed-rate phase.
  let durations: number[] = [];
  // What else holds the event loop: the collector's pauses, and the loop's delay as a whole.
  let gcPauses: number[] = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcPauses.push(e.duration);
  }).observe({ entryTypes: ["gc"] });
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  srv.server.on("request", (_req, res) => {
    const t0 = process.hrtime.bigint();
    res.once("finish", () => durations.push(Number(process.hrtime.bigint() - t0) / 1e6));
  });
  process.on("message", (m: { rss?: boolean; reset?: boolean; path?: string; stats?: boolean }) => {
    if (m.reset) {
      metricsBefore = srv.metrics?.render() ?? "";
      measuredPath = m.path ?? "";
      durations = [];
      gcPauses = [];
      loopDelay.reset();
    }
    if (m.stats) {
      process.send?.({
        count: durations.length,
        p50: median(durations),
        p99: percentile(durations, 99),
        histogram: srv.metrics
          ? histogramBetween(metricsBefore, srv.metrics.render(), measuredPath)
          : undefined,
        gc: {
          pauses: gcPauses.length,
          totalMs: gcPauses.reduce((a, b) => a + b, 0),
          p99Ms: percentile(gcPauses, 99),
          maxMs: Math.max(0, ...gcPauses),
        },
        loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
        loopDelayMaxMs: loopDelay.max / 1e6,
      });
    }
    if (m.rss) {
      const status = execFileSync("cat", [`/proc/${process.pid}/status`], { encoding: "utf8" });
      const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
      process.send?.({
        rssMiB: kb("VmRSS") / 1024,
        peakMiB: kb("VmHWM") / 1024,
        heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
      });
    }
  });
  process.once("SIGTERM", () => {
    srv.server.close(() => process.exit(0));
    srv.server.closeAllConnections();
  });
}

// --- the load generator ----------------------------------------------------------------------

/** Realistic reviews: valid clones and restores, denials, snapshots; across the namespaces. */
function reviews(kind: "validate" | "mutate"): string[] {
  const out: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const n = i % NAMESPACES;
    const ns = `ns-${n}`;
    const size = `${1 + (n % 50)}Gi`;
    const mix = i % 10;
    let body: unknown;
    if (mix < 4) {
      body = review(
        apiClaim(
          `clone-${i}`,
          {
            storageClassName: "fast",
            resources: kind === "mutate" && mix === 0 ? {} : { requests: { storage: size } },
            dataSource: { kind: "PersistentVolumeClaim", name: `data-${n}` },
          },
          ns,
        ),
        { uid: `u-${i}` },
      );
    } else if (mix < 7) {
      body = review(
        apiClaim(
          `restore-${i}`,
          {
            storageClassName: "fast",
            resources: { requests: { storage: size } },
            dataSourceRef: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "nightly" },
          },
          ns,
        ),
        { uid: `u-${i}` },
      );
    } else if (mix < 9) {
      body = review(
        apiClaim(
          `small-${i}`,
          {
            storageClassName: "fast",
            resources: { requests: { storage: "512Mi" } },
            dataSource: { kind: "PersistentVolumeClaim", name: `data-${n + NAMESPACES}` },
          },
          ns,
        ),
        { uid: `u-${i}` },
      );
    } else {
      body = review(
        {
          apiVersion: "snapshot.storage.k8s.io/v1",
          kind: "VolumeSnapshot",
          metadata: { name: `s-${i}`, namespace: ns },
          spec: { source: { persistentVolumeClaimName: `data-${n}` } },
        },
        { uid: `u-${i}`, kind: { group: "snapshot.storage.k8s.io", version: "v1", kind: "VolumeSnapshot" } },
      );
    }
    out.push(JSON.stringify(body));
  }
  return out;
}

/** Builds the Go load generator (bench/loadgen) into `dir`; Go is already a build requirement. */
function buildLoadgen(dir: string): string {
  const out = path.join(dir, "loadgen");
  execFileSync("go", ["build", "-o", out, "."], {
    cwd: path.join(import.meta.dirname, "loadgen"),
    stdio: "inherit",
    env: { ...process.env, GOTOOLCHAIN: "local", GOFLAGS: "-mod=mod" },
  });
  return out;
}

interface LoadResult {
  sent: number;
  ok: number;
  errors: number;
  firstError?: string;
  achievedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  lagP99Ms: number;
}

/**
 * Runs the load generator on CPU 1 (when pinning works) at nice NICE; calls `measuring` when its
 * measured phase starts (after its warm-up) and resolves with its figures.
 */
function load(loadgen: string, args: string[], pinned: boolean, measuring = () => {}): Promise<LoadResult> {
  const cmd = pinned ? ["taskset", "-c", "1", loadgen, ...args] : [loadgen, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0] as string, cmd.slice(1), { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    let started = false;
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      // Once only: a second reset would drop server figures of the measured phase.
      if (!started && out.startsWith("measuring\n")) {
        started = true;
        measuring();
      }
    });
    child.once("spawn", () => renice(child.pid as number));
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code !== 0) return reject(new Error(`loadgen ${args.join(" ")} exited with ${code}`));
      const r = JSON.parse(out.slice(out.indexOf("{"))) as LoadResult;
      // Failures (timeouts of a server that cannot keep up) are reported with the figures, not thrown.
      if (r.errors > 0)
        console.error(`loadgen: ${r.errors} of ${r.sent} requests failed, first: ${r.firstError}`);
      resolve(r);
    });
  });
}

function renice(pid: number): boolean {
  try {
    execFileSync("renice", ["-n", String(NICE), "-p", String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function hasTaskset(): boolean {
  try {
    execFileSync("taskset", ["-c", "0", "true"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The webhook's own latency histogram (`/metrics`) for one path, over the measured phase only. */
interface HistogramStats {
  count: number;
  /** Share of requests answered within 1 ms (the bucket le="0.001"). */
  shareWithin1ms: number;
  /** Upper bound of the bucket holding the 99th percentile, in ms (the histogram's resolution). */
  p99BucketMs: number;
}

/** The fixed-rate requests as the webhook process saw them. */
interface ServerStats {
  /** Requests, and their time from first byte read to last byte written. */
  count: number;
  p50: number;
  p99: number;
  /** The webhook's own histogram, as /metrics serves it (the baseline has none). */
  histogram?: HistogramStats;
  /** The collector's pauses during the phase. */
  gc: { pauses: number; totalMs: number; p99Ms: number; maxMs: number };
  /** How late the event loop ran timers (1 ms resolution): time nothing else could run. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/** Cumulative `vol_webhook_request_duration_seconds_bucket` counts of one path in /metrics text, by `le`. */
export function histogramBuckets(text: string, path: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = /^vol_webhook_request_duration_seconds_bucket\{path="([^"]*)",le="([^"]*)"\} (\d+)$/gm;
  for (const m of text.matchAll(re)) if (m[1] === path) out.set(m[2] as string, Number(m[3]));
  return out;
}

/** The histogram of the requests between two /metrics readings. */
export function histogramBetween(before: string, after: string, path: string): HistogramStats {
  const a = histogramBuckets(before, path);
  const b = histogramBuckets(after, path);
  const count = (b.get("+Inf") ?? 0) - (a.get("+Inf") ?? 0);
  let p99BucketMs = Number.POSITIVE_INFINITY;
  for (const le of [...b.keys()].filter((k) => k !== "+Inf").sort((x, y) => Number(x) - Number(y))) {
    const within = (b.get(le) ?? 0) - (a.get(le) ?? 0);
    if (count > 0 && within >= 0.99 * count) {
      p99BucketMs = Number(le) * 1000;
      break;
    }
  }
  const within1 = (b.get("0.001") ?? 0) - (a.get("0.001") ?? 0);
  return { count, shareWithin1ms: count > 0 ? within1 / count : Number.NaN, p99BucketMs };
}

interface AtRate {
  rate: number;
  seconds: number;
  repetitions: number;
  /** Client p99 of every repetition, in the order run; the figures are those of the median one. */
  p99OfEachRepetition: number[];
  achieved: number;
  /** Requests that failed (the generator's timeout) in the reported run. */
  errors: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** How late the generator started requests against its schedule (p99): its own slack. */
  generatorLagP99: number;
  /** The same requests timed inside the webhook process (first byte read to last written). */
  server: ServerStats;
  /** Client p99 over the baseline's in the same run (median of each), and each repetition's pair. */
  p99VsBaseline?: number;
  p99VsBaselineEachRepetition?: number[];
}

interface Run {
  label: string;
  pinned: boolean;
  /** Whether the webhook and the load generator ran at nice NICE. */
  niced: boolean;
  results: Record<string, { throughputPerSecond: number; atRate: AtRate }>;
  rssMiB: { idleWithCache: number; afterLoad: number; peak: number; heapUsed: number };
  loadAverage: { before: number[]; after: number[] };
}

interface Server {
  label: string;
  what: "webhook" | "baseline";
  port: number;
  niced: boolean;
  ask<T>(m: object): Promise<T>;
  send(m: object): void;
  /** SIGSTOP / SIGCONT: a server not being measured is held, so nothing of it runs on CPU 0. */
  hold(held: boolean): void;
  stop(): void;
}

/**
 * Runs `fn` with every server but `s` held (stopped): an idle server's collector (V8 shrinks
 * and compacts a heap some seconds after the load on it ends) would otherwise run on the very
 * core the measured server has, and count against that one.
 */
async function alone<T>(servers: Server[], s: Server, fn: () => Promise<T>): Promise<T> {
  for (const o of servers) if (o !== s) o.hold(true);
  try {
    return await fn();
  } finally {
    for (const o of servers) if (o !== s) o.hold(false);
  }
}

/** Starts one server process from `entry` (this file, as .ts or compiled) on CPU 0 when pinning works. */
async function startServer(
  label: string,
  entry: string,
  what: "webhook" | "baseline",
  tls: { cert: string; key: string },
  pinned: boolean,
): Promise<Server> {
  // All of the process's threads (the collector's helpers too) on CPU 0: one core, as promised.
  const argv = [process.execPath, ...NODE_FLAGS, entry, "--serve", what, tls.cert, tls.key];
  const cmd = pinned ? ["taskset", "-c", "0", ...argv] : argv;
  const child = spawn(cmd[0] as string, cmd.slice(1), {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, ...WEBHOOK_ENV },
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (m: { port: number }) => resolve(m.port));
    child.once("exit", (code) => reject(new Error(`the ${what} process exited with ${code}`)));
  });
  // The machine may be shared: the servers and the generator get a higher priority than ordinary work.
  const niced = renice(child.pid as number);
  return {
    label,
    what,
    port,
    niced,
    ask: <T>(m: object) =>
      new Promise<T>((resolve) => {
        child.once("message", resolve as (x: unknown) => void);
        child.send(m);
      }),
    send: (m) => child.send(m),
    hold: (held) => child.kill(held ? "SIGSTOP" : "SIGCONT"),
    stop: () => {
      child.kill("SIGCONT");
      child.kill("SIGTERM");
    },
  };
}

/**
 * Loads every server in turn: for each path, a saturated phase each, then REPEATS fixed-rate
 * phases taking turns (webhook, ..., baseline, webhook, ...), so that every server meets the same
 * moments of a shared machine and the ratio to the baseline compares like with like.
 */
async function measure(servers: Server[], caFile: string, loadgen: string, dir: string, pinned: boolean) {
  type Rss = { rssMiB: number; peakMiB: number; heapMiB: number };
  const before = os.loadavg();
  const idle = await Promise.all(servers.map((s) => s.ask<Rss>({ rss: true })));
  const results = servers.map(() => ({}) as Run["results"]);
  for (const kind of ["validate", "mutate"] as const) {
    const bodies = path.join(dir, `${kind}.json`);
    writeFileSync(bodies, JSON.stringify(reviews(kind)));
    const common = (s: Server) => [
      ...["-url", `https://127.0.0.1:${s.port}/${kind}`, "-ca", caFile, "-bodies", bodies],
    ];
    const saturated: LoadResult[] = [];
    for (const s of servers) {
      saturated.push(
        await alone(servers, s, () =>
          load(
            loadgen,
            [...common(s), "-mode", "saturate", "-warmup", "2", "-seconds", String(SATURATION_SECONDS)],
            pinned,
          ),
        ),
      );
    }
    // At most 64 connections, opened during the warm-up, as a client with a connection pool has.
    const reps = servers.map(() => [] as { fixed: LoadResult; server: ServerStats }[]);
    for (let rep = 0; rep < REPEATS; rep++) {
      for (const [i, s] of servers.entries()) {
        const fixed = await alone(servers, s, () =>
          load(
            loadgen,
            [
              ...common(s),
              ...["-mode", "fixed", "-concurrency", "64", "-warmup", "1"],
              ...["-rate", String(RATE), "-seconds", String(FIXED_SECONDS)],
            ],
            pinned,
            () => s.send({ reset: true, path: `/${kind}` }),
          ),
        );
        reps[i]?.push({ fixed, server: await s.ask<ServerStats>({ stats: true }) });
      }
    }
    const baseline = servers.findIndex((s) => s.what === "baseline");
    const medianOf = (rs: { fixed: LoadResult }[]) =>
      [...rs].sort((a, b) => a.fixed.p99Ms - b.fixed.p99Ms)[rs.length >> 1] as (typeof rs)[number];
    const baseP99 = baseline >= 0 ? medianOf(reps[baseline] ?? []).fixed.p99Ms : undefined;
    for (const [i, s] of servers.entries()) {
      const rs = reps[i] ?? [];
      const { fixed, server } = medianOf(rs) as (typeof rs)[number];
      const vs =
        baseP99 !== undefined && s.what !== "baseline"
          ? {
              p99VsBaseline: fixed.p99Ms / baseP99,
              p99VsBaselineEachRepetition: rs.map(
                (r, k) => r.fixed.p99Ms / ((reps[baseline] ?? [])[k]?.fixed.p99Ms ?? Number.NaN),
              ),
            }
          : {};
      (results[i] as Run["results"])[kind] = {
        throughputPerSecond: Math.round((saturated[i] as LoadResult).achievedPerSecond),
        atRate: {
          rate: RATE,
          seconds: FIXED_SECONDS,
          repetitions: rs.length,
          p99OfEachRepetition: rs.map((r) => r.fixed.p99Ms),
          achieved: fixed.achievedPerSecond,
          errors: fixed.errors,
          p50: fixed.p50Ms,
          p99: fixed.p99Ms,
          p999: fixed.p999Ms,
          max: fixed.maxMs,
          generatorLagP99: fixed.lagP99Ms,
          server,
          ...vs,
        },
      };
      console.log(
        `${s.label} /${kind}: ${(saturated[i] as LoadResult).achievedPerSecond.toFixed(0)} req/s saturated; at ${RATE}/s p50 ${fixed.p50Ms.toFixed(3)} ms, p99 ${fixed.p99Ms.toFixed(3)} ms${vs.p99VsBaseline ? ` (${vs.p99VsBaseline.toFixed(2)}x the baseline)` : ""}; server p99 ${server.p99.toFixed(3)} ms${server.histogram ? `, ${(100 * server.histogram.shareWithin1ms).toFixed(2)}% within 1 ms in /metrics` : ""}`,
      );
    }
  }
  const after = os.loadavg();
  const loaded = await Promise.all(servers.map((s) => s.ask<Rss>({ rss: true })));
  return servers.map(
    (s, i): Run => ({
      label: s.label,
      pinned,
      niced: s.niced,
      results: results[i] as Run["results"],
      rssMiB: {
        idleWithCache: (idle[i] as Rss).rssMiB,
        afterLoad: (loaded[i] as Rss).rssMiB,
        peak: (loaded[i] as Rss).peakMiB,
        heapUsed: (loaded[i] as Rss).heapMiB,
      },
      loadAverage: { before, after },
    }),
  );
}

async function main(): Promise<void> {
  const root = path.resolve(import.meta.dirname, "..");
  const session = await Session.create("kubectl-vol-bench-webhook");
  // Compiled output inside the repository (dist/ is ignored), so node_modules resolves.
  const compiled = path.join(root, "dist", "bench-webhook");
  const servers: Server[] = [];
  try {
    const ca = await createCA(session.dir);
    const pair = await ca.issue("serving", { cn: "bench", sans: ["IP:127.0.0.1"] });
    const tls = { cert: pair.cert, key: pair.key };
    const loadgen = buildLoadgen(session.dir);
    execFileSync(
      process.execPath,
      [path.join(root, "node_modules/typescript/bin/tsc"), "-p", root, "--outDir", compiled],
      { stdio: "inherit" },
    );
    const pinned = os.cpus().length > 1 && hasTaskset();
    const entry = path.join(compiled, "bench", "webhook.bench.js");
    servers.push(await startServer("compiled JavaScript", entry, "webhook", tls, pinned));
    if (process.env.BENCH_TS !== "0") {
      servers.push(
        await startServer(
          "TypeScript via Node's type stripping",
          import.meta.filename,
          "webhook",
          tls,
          pinned,
        ),
      );
    }
    servers.push(
      await startServer("baseline: bare Node.js HTTPS, JSON in and out", entry, "baseline", tls, pinned),
    );
    const runs = await measure(servers, ca.cert, loadgen, session.dir, pinned);
    const out = {
      benchmark: "webhook",
      description: `HTTPS keep-alive on loopback; ${PVCS} PVCs in ${NAMESPACES} namespaces in the cache; realistic reviews (valid clones and restores, denials, snapshots); every server process pinned to CPU 0 and the Go load generator (bench/loadgen) to CPU 1 when taskset is there; latency measured by the client (send to last byte), open loop at a fixed rate; the fixed-rate phases of the servers take turns, so the ratio to the bare-HTTPS baseline is measured in the same minutes; the machine's load average is recorded because other work shared it`,
      machine: machine(),
      pvcsInCache: PVCS,
      webhookNodeFlags: NODE_FLAGS,
      webhookEnvironment: WEBHOOK_ENV,
      runs,
      targets: { p99VsBaseline: 1.2, mutateServerP99Ms: 1, atRate: RATE, rssMiB: 150 },
    };
    const dir = path.join(import.meta.dirname, "results");
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "webhook.json"), `${JSON.stringify(out, null, 2)}\n`);
    writeFileSync(path.join(dir, "webhook.md"), summary(out.machine, runs));
  } finally {
    for (const s of servers) s.stop();
    await session.stop();
    rmSync(compiled, { recursive: true, force: true });
  }
}

function summary(machineInfo: Record<string, unknown>, runs: Run[]): string {
  const m = machineInfo as {
    cpuModel: string;
    cpus: number;
    node: string;
    virtualMachine: boolean;
    date: string;
  };
  const paths = ["validate", "mutate"] as const;
  const at = (r: Run, k: string) => (r.results[k] as Run["results"][string]).atRate;
  const rows = runs.flatMap((r) =>
    paths.map((k) => {
      const x = r.results[k] as Run["results"][string];
      const a = x.atRate;
      const h = a.server.histogram;
      return `| ${r.label} | /${k} | ${x.throughputPerSecond} | ${a.achieved.toFixed(0)}${a.errors ? ` (${a.errors} failed)` : ""} | ${a.p50.toFixed(3)} | ${a.p99.toFixed(3)} (${a.p99OfEachRepetition.map((x) => x.toFixed(2)).join(", ")}) | ${a.p99VsBaseline ? `**${a.p99VsBaseline.toFixed(2)}x** (${(a.p99VsBaselineEachRepetition ?? []).map((x) => x.toFixed(2)).join(", ")})` : "1"} | ${a.p999.toFixed(3)} | ${a.max.toFixed(1)} | ${a.server.p50.toFixed(3)} | ${a.server.p99.toFixed(3)} | ${h ? `${(100 * h.shareWithin1ms).toFixed(2)}% (p99 ≤ ${h.p99BucketMs} ms)` : "-"} |`;
    }),
  );
  const stalls = runs.flatMap((r) =>
    paths.map((k) => {
      const a = at(r, k);
      const g = a.server.gc;
      return `| ${r.label} | /${k} | ${g.pauses} | ${g.totalMs.toFixed(0)} | ${g.maxMs.toFixed(1)} | ${a.server.loopDelayP99Ms.toFixed(2)} | ${a.server.loopDelayMaxMs.toFixed(1)} | ${a.generatorLagP99.toFixed(2)} |`;
    }),
  );
  const rss = runs.map(
    (r) =>
      `| ${r.label} | ${r.rssMiB.idleWithCache.toFixed(0)} | ${r.rssMiB.afterLoad.toFixed(0)} | ${r.rssMiB.peak.toFixed(0)} | ${r.loadAverage.before[0]?.toFixed(2)} → ${r.loadAverage.after[0]?.toFixed(2)} |`,
  );
  return `## webhook: /validate and /mutate over HTTPS keep-alive, ${PVCS} PVCs cached

${m.date}; ${m.cpus} × ${m.cpuModel}${m.virtualMachine ? " (a virtual machine)" : ""}, Node ${m.node}; every server ${runs[0]?.pinned ? "with all its threads pinned to CPU 0, the load generator to CPU 1" : "not pinned"}${runs[0]?.niced ? `, all at nice ${NICE} (the machine is shared with other work: see the load average below)` : ""}${NODE_FLAGS.length > 0 ? `; webhook Node flags: ${NODE_FLAGS.join(" ")}` : ""}; webhook environment: ${Object.entries(
    WEBHOOK_ENV,
  )
    .map(([k, v]) => `${k}=${v}`)
    .join(
      " ",
    )}. The load generator is bench/loadgen (Go, as the kube-apiserver is): open loop at a fixed rate, a request every ${(1000 / RATE).toFixed(2)} ms whatever the answers, client latency from handing the request to the transport to the last byte of the answer; server latency is first byte read to last byte written inside the process. The fixed-rate phase runs ${REPEATS} times for ${FIXED_SECONDS} s per server, the servers taking turns, each measured alone (the others held with SIGSTOP, so that an idle server's collector cannot run on the measured core); the figures are those of the run with the median client p99, and every run's p99 is in brackets, in the order run. "vs baseline" is that median p99 over the bare server's (in brackets: each repetition over the baseline's repetition next to it). "/metrics" is the webhook's own histogram \`vol_webhook_request_duration_seconds\` over the measured phase: the share answered within 1 ms, and the bucket that holds the 99th percentile. Targets: client p99 within 1.2x the baseline's at ${RATE} requests/s on one core; /mutate's server-side p99 under 1 ms; RSS under 150 MiB.

| server | path | saturated req/s | achieved req/s at ${RATE}/s | client p50 ms | client p99 ms (each run) | vs baseline | client p99.9 ms | client max ms | server p50 ms | server p99 ms | /metrics within 1 ms |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join("\n")}

Where the time outside the handler goes, during the same ${FIXED_SECONDS} s at ${RATE}/s: the process's collector pauses, its event-loop delay (timers run late by this much; 1 ms resolution, so an idle loop reads about 1.1), and how late the generator itself started requests against its schedule.

| server | path | GC pauses | GC total ms | GC max ms | loop delay p99 ms | loop delay max ms | generator lag p99 ms |
| --- | --- | --- | --- | --- | --- | --- | --- |
${stalls.join("\n")}

| server | RSS idle with cache (MiB) | RSS after load | peak RSS | 1-min load average before → after |
| --- | --- | --- | --- | --- |
${rss.join("\n")}
`;
}

if (process.argv[2] === "--serve") {
  await serve(
    process.argv[3] as "webhook" | "baseline",
    process.argv[4] as string,
    process.argv[5] as string,
  );
} else {
  await main();
}
