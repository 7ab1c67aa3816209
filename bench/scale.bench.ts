// `npm run bench scale`: 100 claims with data on the local cluster's 2 real nodes, then all 100
// snapshotted at once, then all 100 restored at once, through the API (every object POSTed at
// the same moment) with the webhook in the path (it validates the snapshots and fills in the
// restores: lineage and the node that holds each snapshot). Checks that every snapshot becomes
// ready and every restore Bound, that every restored volume holds exactly its source's files
// (sha256 of each file, read from the node's data folder on the host), and that the sidecars'
// and the driver's logs hold no error beyond retried ABORTEDs. Reports the total time, the
// slowest, and the driver's and webhook's peak RSS and CPU (from /proc). Writes
// bench/results/scale.json and scale.md. BENCH_CLAIMS (default 100) and BENCH_DATA_MIB (per
// claim, default 4) change the load.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "../src/kube/connection.ts";
import { callJson } from "../src/kube/rest.ts";
import { claimYaml } from "../src/localcluster/scenarios.ts";
import {
  benchCluster,
  collectLogs,
  contentOf,
  now,
  pidsOf,
  Timeline,
  UsageSampler,
  volumeOf,
  writerPod,
} from "./cluster-timeline.ts";
import { machine, machineLine, median, percentile } from "./machine.ts";

const NS = "scale";
const CLAIMS = Number(process.env.BENCH_CLAIMS ?? 100);
const DATA_MIB = Number(process.env.BENCH_DATA_MIB ?? 4);

/** A pod on `node` that mounts `claims` at /data/<claim> and writes DATA_MIB of random files into each. */
function writers(name: string, node: string, claims: string[]): string {
  const script = claims
    .map(
      (c) =>
        `dd if=/dev/urandom of=/data/${c}/a bs=1M count=${DATA_MIB} 2>/dev/null && echo ${c} > /data/${c}/name`,
    )
    .join(" && ");
  return writerPod(name, Object.fromEntries(claims.map((c) => [c, `/data/${c}`])), script, node);
}

/** sha256 of every regular file under `dir`, by path relative to it. */
function checksums(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile())
        out[path.relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

/** The folder of a volume on the host: `volumes/<handle>` in its node's data folder (src/driver/names.ts). */
function volumeDir(dataDirs: string[], handle: string): string | undefined {
  if (!handle || handle.includes("/")) return undefined;
  return dataDirs.map((d) => path.join(d, "volumes", handle)).find((d) => existsSync(d));
}

async function main(): Promise<void> {
  const log = (l: string) => console.log(`[scale] ${l}`);
  const cluster = await benchCluster(2, 24, log);
  let tl: Timeline | undefined;
  try {
    await cluster.kubectl(["create", "namespace", NS]);
    tl = await Timeline.start(cluster.kubeconfig, NS);
    const conn = await connect({ kubeconfig: cluster.kubeconfig });
    const names = Array.from({ length: CLAIMS }, (_, i) => `c${String(i).padStart(3, "0")}`);
    const nodes = cluster.nodes.map((n) => n.name);
    const byNode = nodes.map((_, k) => names.filter((_, i) => i % nodes.length === k));
    log(`creating ${CLAIMS} claims of 1Gi and ${nodes.length} pods writing ${DATA_MIB} MiB into each`);
    await cluster.kubectl(
      ["apply", "-n", NS, "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "List", items: names.map((n) => JSON.parse(claimYaml(n))) }),
    );
    for (const [k, node] of nodes.entries()) {
      await cluster.kubectl(["apply", "-n", NS, "-f", "-"], writers(`writer-${k}`, node, byNode[k] ?? []));
    }
    for (let k = 0; k < nodes.length; k++)
      await cluster.kubectl(["wait", "-n", NS, "--for=condition=Ready", `pod/writer-${k}`, "--timeout=900s"]);
    // The pods stop before the snapshots (writes flushed, volumes unpublished): what is on disk is final.
    await cluster.kubectl(["delete", "pods", "--all", "-n", NS, "--wait=true", "--timeout=300s"]);
    const dataDirs = cluster.nodes.map((n) => n.dataDir);
    const handle = (claim: string) =>
      tl?.last("pv", volumeOf(tl, NS, claim) ?? "")?.spec?.csi?.volumeHandle ?? "";
    const sources = new Map<string, Record<string, string>>();
    for (const c of names) {
      const dir = volumeDir(dataDirs, handle(c));
      if (!dir)
        throw new Error(`the folder of claim ${c} (volume ${handle(c)}) is not on any node's data folder`);
      sources.set(c, checksums(dir));
    }

    const pids = { driver: pidsOf("vol-csi"), webhook: pidsOf("vol-webhook") };
    log(
      `sampling the driver (pids ${pids.driver.join(", ")}) and the webhook (pids ${pids.webhook.join(", ")})`,
    );
    const sampler = new UsageSampler([...pids.driver, ...pids.webhook]).start(500);
    const post = (p: string, body: unknown) =>
      callJson(conn, p, { method: "POST", body, deadlineMs: 60_000 });
    const load0 = os.loadavg();

    log(`snapshotting ${CLAIMS} claims at once`);
    const s0 = now();
    const snapPost = await Promise.allSettled(
      names.map((c) =>
        post(`/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots`, {
          apiVersion: "snapshot.storage.k8s.io/v1",
          kind: "VolumeSnapshot",
          metadata: { name: `${c}-snap` },
          spec: { source: { persistentVolumeClaimName: c } },
        }),
      ),
    );
    const snapPostedAt = now();
    const ready = (c: string) => tl?.first("vs", `${c}-snap`, (o) => o.status?.readyToUse === true);
    await until(
      () => names.every((c) => ready(c) !== undefined),
      900_000,
      () => `${names.filter((c) => ready(c) !== undefined).length}/${CLAIMS} snapshots ready`,
      log,
    );
    const snapTimes = names.map((c) => ((ready(c) as number) - s0) / 1000);
    // When each stage ended, s from the first POST: which component the 100 wait on.
    const at = (t: number | undefined) => ((t ?? Number.NaN) - s0) / 1000;
    const snapStages = {
      "snapshot created (POST answered)": names.map((c) => at(tl?.first("vs", `${c}-snap`))),
      "content created (snapshot-controller)": names.map((c) =>
        at(tl?.first("vsc", contentOf(tl, NS, `${c}-snap`) ?? "")),
      ),
      "content ready (csi-snapshotter, our RPC)": names.map((c) =>
        at(tl?.first("vsc", contentOf(tl, NS, `${c}-snap`) ?? "", (o) => o.status?.readyToUse === true)),
      ),
      "snapshot ready (snapshot-controller)": snapTimes,
    };

    log(`restoring ${CLAIMS} snapshots at once`);
    const r0 = now();
    const restorePost = await Promise.allSettled(
      names.map((c) =>
        post(`/api/v1/namespaces/${NS}/persistentvolumeclaims`, {
          apiVersion: "v1",
          kind: "PersistentVolumeClaim",
          metadata: { name: `${c}-restore` },
          spec: {
            accessModes: ["ReadWriteOnce"],
            storageClassName: "vol-local",
            resources: { requests: { storage: "1Gi" } },
            dataSourceRef: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: `${c}-snap` },
          },
        }),
      ),
    );
    const restorePostedAt = now();
    const bound = (c: string) => tl?.first("pvc", `${c}-restore`, (o) => o.status?.phase === "Bound");
    await until(
      () => names.every((c) => bound(c) !== undefined),
      900_000,
      () => `${names.filter((c) => bound(c) !== undefined).length}/${CLAIMS} restores Bound`,
      log,
    );
    const restoreTimes = names.map((c) => ((bound(c) as number) - r0) / 1000);
    const atR = (t: number | undefined) => ((t ?? Number.NaN) - r0) / 1000;
    const restoreStages = {
      "claim created (POST answered, both webhooks)": names.map((c) => atR(tl?.first("pvc", `${c}-restore`))),
      "volume created (csi-provisioner, our RPC)": names.map((c) =>
        atR(tl?.first("pv", volumeOf(tl, NS, `${c}-restore`) ?? "")),
      ),
      "claim Bound (PV controller)": restoreTimes,
    };
    await sleepMs(1500);
    sampler.stop();
    const load1 = os.loadavg();

    // Every restored volume holds its source's files, byte for byte.
    const mismatches: string[] = [];
    for (const c of names) {
      const dir = volumeDir(dataDirs, handle(`${c}-restore`));
      const got = dir ? checksums(dir) : undefined;
      if (JSON.stringify(got) !== JSON.stringify(sources.get(c)))
        mismatches.push(`${c}-restore (${dir ?? "no folder"})`);
    }
    const annotated = names.filter(
      (c) => tl?.last("pvc", `${c}-restore`)?.metadata.annotations?.["volume.kubernetes.io/selected-node"],
    ).length;
    const { dir: logDir, rpcs, errors, aborted } = await collectLogs(cluster, "scale", s0);
    const rpcOf = (m: string) => rpcs.filter((r) => r.method === m);
    const codes = (m: string) =>
      Object.fromEntries(
        [...new Set(rpcOf(m).map((r) => r.code))].map((k) => [
          k,
          rpcOf(m).filter((r) => r.code === k).length,
        ]),
      );
    const usage = (ps: number[]) => ({
      pids: ps,
      peakRssMiB: Math.max(0, ...ps.map((p) => sampler.peakRssMiB.get(p) ?? 0)),
      cpuSecondsEach: ps.map((p) => Number((sampler.cpuSeconds.get(p) ?? 0).toFixed(2))),
      peakCpuPercentEach: ps.map((p) => Math.round(sampler.peakCpuPercent.get(p) ?? 0)),
    });
    const failedPosts = [...snapPost, ...restorePost]
      .filter((r) => r.status === "rejected")
      .map((r) => String((r as PromiseRejectedResult).reason).slice(0, 300));
    const out = {
      benchmark: "scale",
      description: `local cluster with 2 real nodes; ${CLAIMS} claims of 1Gi (vol-local), ${CLAIMS / nodes.length} per node, each with ${DATA_MIB} MiB of random data written by a pod (the pods stopped before the snapshots); all ${CLAIMS} VolumeSnapshots POSTed at once (the validating webhook in the path), then all ${CLAIMS} restore claims POSTed at once (the mutating webhook adds the snapshot's node and the lineage; the validating webhook checks them); times from the first POST to each object's ready/Bound as watches saw it`,
      machine: machine(),
      loadAverage: { before: load0, after: load1 },
      snapshots: {
        postsSeconds: (snapPostedAt - s0) / 1000,
        totalSeconds: Math.max(...snapTimes),
        medianSeconds: median(snapTimes),
        p90Seconds: percentile(snapTimes, 90),
        slowest: names[snapTimes.indexOf(Math.max(...snapTimes))],
        readyCount: snapTimes.length,
        createSnapshotRpcMsMedian: median(
          rpcOf("CreateSnapshot")
            .filter((r) => r.code === "OK")
            .map((r) => r.ms),
        ),
        createSnapshotCodes: codes("CreateSnapshot"),
      },
      restores: {
        postsSeconds: (restorePostedAt - r0) / 1000,
        totalSeconds: Math.max(...restoreTimes),
        medianSeconds: median(restoreTimes),
        p90Seconds: percentile(restoreTimes, 90),
        slowest: `${names[restoreTimes.indexOf(Math.max(...restoreTimes))]}-restore`,
        boundCount: restoreTimes.length,
        withSelectedNodeFromWebhook: annotated,
        createVolumeRpcMsMedian: median(
          rpcOf("CreateVolume")
            .filter((r) => r.code === "OK")
            .map((r) => r.ms),
        ),
        createVolumeCodes: codes("CreateVolume"),
      },
      stagesEndedAt: { snapshots: spread(snapStages), restores: spread(restoreStages) },
      checksums: {
        compared: names.length,
        filesPerVolume: Object.keys(sources.get(names[0] as string) ?? {}).length,
        mismatches,
      },
      driver: usage(pids.driver),
      webhook: usage(pids.webhook),
      failedPosts,
      abortedMentionsInLogs: aborted,
      logs: logDir,
      errorsInLogs: errors.slice(0, 50),
      errorCount: errors.length,
    };
    const results = path.join(import.meta.dirname, "results");
    mkdirSync(results, { recursive: true });
    writeFileSync(path.join(results, "scale.json"), `${JSON.stringify(out, null, 2)}\n`);
    writeFileSync(path.join(results, "scale.md"), markdown(out));
    console.log(markdown(out));
    if (mismatches.length > 0 || failedPosts.length > 0 || errors.length > 0)
      throw new Error(
        `scale: ${mismatches.length} checksum mismatches, ${failedPosts.length} failed requests, ${errors.length} error lines (see bench/results/scale.md)`,
      );
  } finally {
    await tl?.stop();
    await cluster.stop();
  }
}

/** Median and last of each stage's end times. */
function spread(stages: Record<string, number[]>) {
  return Object.fromEntries(
    Object.entries(stages).map(([k, v]) => [
      k,
      { median: median(v), last: Math.max(...v.filter((x) => !Number.isNaN(x))) },
    ]),
  );
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(ok: () => boolean, timeoutMs: number, progress: () => string, log: (l: string) => void) {
  const end = Date.now() + timeoutMs;
  let last = "";
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${progress()}`);
    const p = progress();
    if (p !== last) {
      log(p);
      last = p;
    }
    await sleepMs(200);
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the result object, as written to scale.json
function markdown(o: any): string {
  const u = (x: {
    peakRssMiB: number;
    cpuSecondsEach: number[];
    peakCpuPercentEach: number[];
    pids: number[];
  }) =>
    `${x.peakRssMiB.toFixed(0)} MiB | ${x.cpuSecondsEach.join(" + ")} s | ${x.peakCpuPercentEach.join(", ")} %`;
  return `## scale: ${CLAIMS} claims snapshotted at once, then restored at once

${machineLine(o.machine)}; 1-min load average ${o.loadAverage.before[0].toFixed(2)} before, ${o.loadAverage.after[0].toFixed(2)} after (the machine is shared). ${o.description}.

| phase | all ready / Bound | median | p90 | slowest | our RPC median | RPC results |
| --- | --- | --- | --- | --- | --- | --- |
| ${CLAIMS} snapshots | ${o.snapshots.totalSeconds.toFixed(1)} s (${o.snapshots.readyCount} ready) | ${o.snapshots.medianSeconds.toFixed(1)} s | ${o.snapshots.p90Seconds.toFixed(1)} s | ${o.snapshots.slowest} | ${o.snapshots.createSnapshotRpcMsMedian} ms | ${JSON.stringify(o.snapshots.createSnapshotCodes)} |
| ${CLAIMS} restores | ${o.restores.totalSeconds.toFixed(1)} s (${o.restores.boundCount} Bound; ${o.restores.withSelectedNodeFromWebhook} placed by the webhook) | ${o.restores.medianSeconds.toFixed(1)} s | ${o.restores.p90Seconds.toFixed(1)} s | ${o.restores.slowest} | ${o.restores.createVolumeRpcMsMedian} ms | ${JSON.stringify(o.restores.createVolumeCodes)} |

When each stage was done, s from the first POST (median, last):

| stage | median | last |
| --- | --- | --- |
${[...Object.entries(o.stagesEndedAt.snapshots), ...Object.entries(o.stagesEndedAt.restores)].map(([k, v]) => `| ${k} | ${(v as { median: number }).median.toFixed(1)} | ${(v as { last: number }).last.toFixed(1)} |`).join("\n")}

The ${CLAIMS} POSTs took ${o.snapshots.postsSeconds.toFixed(2)} s (snapshots) and ${o.restores.postsSeconds.toFixed(2)} s (restores, through both webhooks); ${o.failedPosts.length} failed.

Checksums: ${o.checksums.compared} restored volumes against their sources, ${o.checksums.filesPerVolume} files each (sha256 of each file, read on the host from the nodes' data folders): ${o.checksums.mismatches.length === 0 ? "all equal" : `**${o.checksums.mismatches.length} differ**: ${o.checksums.mismatches.join(", ")}`}.

| process (one per node or replica) | peak RSS | CPU during both phases | busiest 0.5 s |
| --- | --- | --- | --- |
| driver (vol-csi) | ${u(o.driver)} |
| webhook (vol-webhook) | ${u(o.webhook)} |

Logs (every system container, from the first POST on): ${o.errorCount} error lines beyond ABORTED retries; ABORTED mentioned ${o.abortedMentionsInLogs} times.${o.errorsInLogs.length ? `\n\n\`\`\`\n${o.errorsInLogs.join("\n")}\n\`\`\`` : ""}
`;
}

await main();
