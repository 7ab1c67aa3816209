// What the cluster benchmarks (e2e, scale) share: a timeline of the objects a snapshot or a
// restore goes through, as watches see them (so each component's share of the time can be
// told apart), the system pods' logs, and the CPU and memory of our processes on the host.
import { execFile } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { connect } from "../src/kube/connection.ts";
import { watchStream } from "../src/kube/rest.ts";
import { repoRoot } from "../src/localcluster/assets.ts";
import { type Cluster, SYSTEM_NAMESPACE, startCluster } from "../src/localcluster/cluster.ts";
import { podYaml } from "../src/localcluster/scenarios.ts";

const run = promisify(execFile);

/** Wall time in ms with sub-millisecond precision, comparable across processes' log timestamps. */
export const now = () => performance.timeOrigin + performance.now();

export interface Seen {
  t: number;
  type: string;
  obj: Obj;
}

export interface Obj {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
  };
  spec?: Record<string, unknown> & {
    volumeSnapshotRef?: { name?: string; namespace?: string };
    claimRef?: { name?: string; namespace?: string };
    volumeName?: string;
    csi?: { volumeHandle?: string };
  };
  status?: Record<string, unknown> & { readyToUse?: boolean; phase?: string; snapshotHandle?: string };
}

/** Every event of the watched resources, with the time it arrived here. */
export class Timeline {
  readonly events = new Map<string, Seen[]>();
  private readonly ac = new AbortController();
  private readonly done: Promise<unknown>[] = [];

  static async start(kubeconfig: string, namespace: string): Promise<Timeline> {
    const tl = new Timeline();
    const conn = await connect({ kubeconfig });
    const paths: Record<string, string> = {
      vs: `/apis/snapshot.storage.k8s.io/v1/namespaces/${namespace}/volumesnapshots`,
      vsc: "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents",
      pvc: `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
      pv: "/api/v1/persistentvolumes",
    };
    for (const [kind, p] of Object.entries(paths)) {
      const loop = async () => {
        while (!tl.ac.signal.aborted) {
          await watchStream(
            conn,
            `${p}?watch=1&timeoutSeconds=3000`,
            (e) => {
              const obj = e.object as unknown as Obj;
              const key = `${kind}/${obj.metadata?.name}`;
              const list = tl.events.get(key) ?? [];
              list.push({ t: now(), type: e.type, obj });
              tl.events.set(key, list);
            },
            tl.ac.signal,
          ).catch(() => undefined);
        }
      };
      tl.done.push(loop());
    }
    return tl;
  }

  /** When `kind/name` was first seen meeting `pred` (undefined: never). */
  first(kind: string, name: string, pred: (o: Obj) => boolean = () => true): number | undefined {
    return this.events.get(`${kind}/${name}`)?.find((s) => s.type !== "DELETED" && pred(s.obj))?.t;
  }

  /** The last object seen of `kind/name`. */
  last(kind: string, name: string): Obj | undefined {
    const l = this.events.get(`${kind}/${name}`);
    return l?.[l.length - 1]?.obj;
  }

  /** Names of `kind` whose object meets `pred`. */
  names(kind: string, pred: (o: Obj) => boolean = () => true): string[] {
    const out: string[] = [];
    for (const [k, l] of this.events) {
      if (!k.startsWith(`${kind}/`)) continue;
      const o = l[l.length - 1]?.obj;
      if (o && pred(o)) out.push(k.slice(kind.length + 1));
    }
    return out;
  }

  async stop(): Promise<void> {
    this.ac.abort();
    await Promise.allSettled(this.done);
  }
}

/** The content a snapshot is bound to, by its volumeSnapshotRef. */
export function contentOf(tl: Timeline, namespace: string, snapshot: string): string | undefined {
  return tl.names(
    "vsc",
    (o) => o.spec?.volumeSnapshotRef?.name === snapshot && o.spec?.volumeSnapshotRef?.namespace === namespace,
  )[0];
}

/** The volume bound to a claim, by its claimRef. */
export function volumeOf(tl: Timeline, namespace: string, claim: string): string | undefined {
  return tl.names(
    "pv",
    (o) => o.spec?.claimRef?.name === claim && o.spec?.claimRef?.namespace === namespace,
  )[0];
}

/** One system pod's container log with kubectl's timestamps; "" when unavailable. */
export async function containerLog(cluster: Cluster, pod: string, container: string): Promise<string> {
  return cluster
    .kubectl(["logs", "-n", SYSTEM_NAMESPACE, pod, "-c", container, "--timestamps"])
    .then((r) => r.stdout)
    .catch(() => "");
}

export interface SystemPod {
  name: string;
  node: string;
  containers: string[];
}

export async function systemPods(cluster: Cluster): Promise<SystemPod[]> {
  const { stdout } = await cluster.kubectl(["get", "pods", "-n", SYSTEM_NAMESPACE, "-o", "json"]);
  return (
    JSON.parse(stdout) as {
      items: { metadata: { name: string }; spec: { nodeName: string; containers: { name: string }[] } }[];
    }
  ).items.map((p) => ({
    name: p.metadata.name,
    node: p.spec.nodeName,
    containers: p.spec.containers.map((c) => c.name),
  }));
}

/** Saves every system container's log under `dir` (for the reader of the results); returns them by pod/container. */
export async function saveLogs(cluster: Cluster, dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of await systemPods(cluster)) {
    for (const c of p.containers) {
      const text = await containerLog(cluster, p.name, c);
      out.set(`${p.name}/${c}`, text);
      await writeFile(path.join(dir, `${p.name}.${c}.log`), text);
    }
  }
  return out;
}

/** The driver's "rpc" log lines (JSON after kubectl's timestamp): method, code and ms. */
export function driverRpcs(log: string): { method: string; code: string; ms: number; error?: string }[] {
  const out: { method: string; code: string; ms: number; error?: string }[] = [];
  for (const line of log.split("\n")) {
    const i = line.indexOf("{");
    if (i < 0 || !line.includes('"rpc"')) continue;
    try {
      const j = JSON.parse(line.slice(i)) as {
        msg?: string;
        method?: string;
        code?: string;
        ms?: number;
        error?: string;
      };
      if (j.msg === "rpc" && j.method && typeof j.ms === "number")
        out.push({ method: j.method, code: j.code ?? "", ms: j.ms, error: j.error });
    } catch {
      // not one of ours
    }
  }
  return out;
}

/** Lines of a sidecar's log that report an error (klog E lines), besides ABORTED retries when `allowAborted`. */
export function errorLines(log: string, allowAborted: boolean): string[] {
  return log
    .split("\n")
    .filter((l) => / E\d{4} /.test(l) || /"level":"error"/.test(l))
    .filter((l) => !(allowAborted && /Aborted|ABORTED/.test(l)));
}

/** CPU seconds and peak RSS of a host process, from /proc. */
export function procUsage(
  pid: number,
): { cpuSeconds: number; rssMiB: number; peakRssMiB: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
    return { cpuSeconds: ticks / 100, rssMiB: kb("VmRSS") / 1024, peakRssMiB: kb("VmHWM") / 1024 };
  } catch {
    return undefined;
  }
}

/** Host pids whose command line starts with one of our parts (`/vol-csi`, `/vol-webhook`) under `root` (a session folder, when set). */
export function pidsOf(part: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv0 = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0")[0] ?? "";
      if (argv0 === `/${part}` || argv0.endsWith(`/${part}`)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** Samples CPU and RSS of processes until stopped: their peak RSS, CPU used, and the busiest second. */
export class UsageSampler {
  private timer: NodeJS.Timeout | undefined;
  private readonly first = new Map<number, number>();
  private readonly lastCpu = new Map<number, { t: number; cpu: number }>();
  readonly peakRssMiB = new Map<number, number>();
  readonly peakCpuPercent = new Map<number, number>();
  readonly cpuSeconds = new Map<number, number>();
  readonly pids: number[];
  constructor(pids: number[]) {
    this.pids = pids;
  }
  start(intervalMs = 1000): this {
    const sample = () => {
      for (const pid of this.pids) {
        const u = procUsage(pid);
        if (!u) continue;
        const t = now();
        if (!this.first.has(pid)) this.first.set(pid, u.cpuSeconds);
        const prev = this.lastCpu.get(pid);
        if (prev && t > prev.t) {
          const pct = (100 * (u.cpuSeconds - prev.cpu)) / ((t - prev.t) / 1000);
          this.peakCpuPercent.set(pid, Math.max(this.peakCpuPercent.get(pid) ?? 0, pct));
        }
        this.lastCpu.set(pid, { t, cpu: u.cpuSeconds });
        this.cpuSeconds.set(pid, u.cpuSeconds - (this.first.get(pid) ?? u.cpuSeconds));
        this.peakRssMiB.set(pid, Math.max(this.peakRssMiB.get(pid) ?? 0, u.peakRssMiB));
      }
    };
    sample();
    this.timer = setInterval(sample, intervalMs);
    return this;
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** The cluster for a benchmark: `nodes` real nodes, each data folder a btrfs of `dataGiB`. */
export async function benchCluster(
  nodes: number,
  dataGiB: number,
  log: (l: string) => void,
): Promise<Cluster> {
  return startCluster({ nodes, dataBytes: dataGiB * 2 ** 30, log });
}

/**
 * A bin folder where `kubectl-vol` is the built executable (dist/kubectl-vol, what users run;
 * the cluster has just built it), so the pinned kubectl runs that plugin.
 */
export async function pluginBin(cluster: Cluster): Promise<string> {
  const dir = cluster.cp.session.path("bench-bin");
  await run("mkdir", ["-p", dir]);
  await run("ln", ["-sf", path.join(repoRoot, "dist", "kubectl-vol"), path.join(dir, "kubectl-vol")]);
  return dir;
}

/**
 * A busybox pod (on `node`, when set) that mounts each claim of `mounts` at its path, runs
 * `script`, and then idles; Ready once the script is done.
 */
export function writerPod(
  name: string,
  mounts: Record<string, string>,
  script: string,
  node?: string,
): string {
  return podYaml(name, "", { mounts, script, readyAfterScript: true, node });
}

/**
 * Every system container's log, saved under the temporary folder (kept after the cluster is
 * gone for a closer look; not committed: large), and the driver's RPCs and the error lines in them.
 */
export async function collectLogs(cluster: Cluster, bench: string, sinceMs = 0) {
  const dir = path.join(
    os.tmpdir(),
    `kubectl-vol-bench-${bench}-logs-${new Date().toISOString().replace(/[:.]/g, "")}`,
  );
  mkdirSync(dir, { recursive: true });
  const logs = await saveLogs(cluster, dir);
  const rpcs = [...logs].filter(([k]) => k.endsWith("/vol-csi")).flatMap(([, t]) => driverRpcs(t));
  // Only what was logged since `sinceMs` (kubectl's timestamp leads each line): not the start-up.
  const after = (l: string) => !(Date.parse(l.slice(0, l.indexOf(" "))) < sinceMs);
  const errors = [...logs].flatMap(([k, t]) =>
    errorLines(t, true)
      .filter(after)
      .map((l) => `${k}: ${l.slice(0, 400)}`),
  );
  const aborted = [...logs].reduce((n, [, t]) => n + (t.match(/Aborted|ABORTED/g)?.length ?? 0), 0);
  return { dir, rpcs, errors, aborted };
}
