// `npm run cluster:up` / `cluster:down`: the local cluster with real nodes, in the background.
//   up [--nodes N]  starts it (if not running; default 2 nodes) and prints the kubeconfig path
//                   as the last line
//   down            stops it and removes everything it made
//   serve           (internal) the background process that owns the cluster
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startCluster } from "../src/localcluster/cluster.ts";
import { pluginPath } from "../src/localcluster/scenarios.ts";
import { prepare } from "./prepare.ts";

// KUBECTL_VOL_CLUSTER_DIR moves the cluster's state (tests use their own).
const base =
  process.env.KUBECTL_VOL_CLUSTER_DIR ??
  path.join(
    process.env.KUBECTL_VOL_CACHE ??
      path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "kubectl-vol"),
    "cluster",
  );
const stateFile = path.join(base, "state.json");
const logFile = path.join(base, "cluster.log");

interface State {
  pid: number;
  kubeconfig: string;
  server: string;
  /** A folder holding the `kubectl-vol` plugin, to put on PATH. */
  bin: string;
  nodes: string[];
  /** The nodes' ids (their cgroups and bridges are named after them). */
  nodeIds: string[];
  readySeconds: number;
}

function readState(): State | undefined {
  try {
    return JSON.parse(readFileSync(stateFile, "utf8")) as State;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function nodeCount(argv: string[]): number | string {
  const i = argv.findIndex((a) => a === "--nodes" || a.startsWith("--nodes="));
  if (i < 0) return 2;
  const v = argv[i]?.includes("=") ? argv[i]?.split("=")[1] : argv[i + 1];
  const n = Number(v);
  return Number.isInteger(n) && n >= 1 && n <= 16
    ? n
    : `--nodes ${v ?? ""}: give a whole number from 1 to 16`;
}

async function up(argv: string[]): Promise<number> {
  const nodes = nodeCount(argv);
  if (typeof nodes === "string") {
    console.error(`cluster:up: ${nodes}`);
    return 2;
  }
  prepare(); // system tools (apt, as root) and the upstream parts, with progress; one line if not
  const existing = readState();
  if (existing && alive(existing.pid)) {
    console.log(
      `cluster already running (pid ${existing.pid}, ${existing.server}); plugin folder ${existing.bin}`,
    );
    console.log(existing.kubeconfig);
    return 0;
  }
  rmSync(stateFile, { force: true });
  mkdirSync(base, { recursive: true });
  const out = openSync(logFile, "w");
  const child = spawn(process.execPath, [import.meta.filename, "serve", String(nodes)], {
    detached: true,
    stdio: ["ignore", out, out],
  });
  child.unref();
  console.log(`starting a local cluster with ${nodes} real node(s) (log: ${logFile}) ...`);
  const deadline = Date.now() + 30 * 60_000;
  let shown = 0;
  while (Date.now() < deadline) {
    // Progress: the background process's log lines as they come.
    const lines = readFileSync(logFile, "utf8").split("\n");
    for (const l of lines.slice(shown, -1)) console.log(`  ${l}`);
    shown = Math.max(shown, lines.length - 1);
    const s = readState();
    if (s && s.pid === child.pid) {
      console.log(`cluster is up: ${s.server}; all system pods Ready in ${s.readySeconds.toFixed(1)} s`);
      console.log(`nodes ${s.nodes.join(", ")} (kubelet + containerd) run kubectl-vol from manifests/`);
      console.log(`try:  export KUBECONFIG=${s.kubeconfig} PATH=${s.bin}:$PATH`);
      console.log("      kubectl get nodes,storageclass,volumesnapshotclass && kubectl vol --help");
      console.log(s.kubeconfig);
      return 0;
    }
    if (child.exitCode !== null || (child.pid !== undefined && !alive(child.pid))) break;
    await sleep(250);
  }
  console.error(`cluster:up failed; the last lines of ${logFile}:`);
  console.error(readFileSync(logFile, "utf8").split("\n").slice(-30).join("\n"));
  if (child.pid !== undefined && alive(child.pid)) process.kill(child.pid, "SIGTERM");
  return 1;
}

async function serve(argv: string[]): Promise<number> {
  const t0 = Date.now();
  const sys = await startCluster({
    nodes: Number(argv[0] ?? 2),
    parentDir: base,
    log: (l) => console.log(`${((Date.now() - t0) / 1000).toFixed(1)}s ${l}`),
  });
  const cp = sys.cp;
  const bin = await pluginPath(cp.session.path("bin"));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping the cluster");
    await sys.stop();
    rmSync(stateFile, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  const state: State = {
    pid: process.pid,
    kubeconfig: cp.kubeconfig,
    server: cp.server,
    bin,
    nodes: sys.nodes.map((n) => n.name),
    nodeIds: sys.nodes.map((n) => n.id),
    readySeconds: sys.readySeconds,
  };
  writeFileSync(`${stateFile}.tmp`, JSON.stringify(state));
  renameSync(`${stateFile}.tmp`, stateFile);
  console.log(`cluster ready at ${cp.server}; kubeconfig ${cp.kubeconfig}`);
  setInterval(() => {}, 1 << 30);
  return await new Promise<number>(() => {});
}

async function down(): Promise<number> {
  const s = readState();
  if (!s || !alive(s.pid)) {
    rmSync(stateFile, { force: true });
    console.log("no local cluster is running");
    return 0;
  }
  process.kill(s.pid, "SIGTERM");
  console.log("stopping the local cluster (pods, nodes, control plane) ...");
  const deadline = Date.now() + 240_000;
  while (alive(s.pid) && Date.now() < deadline) await sleep(200);
  if (alive(s.pid)) {
    process.kill(s.pid, "SIGKILL");
    await sleep(5000); // the watchdog cleans up after a killed owner
  }
  rmSync(stateFile, { force: true });
  console.log("cluster stopped and its state removed");
  return 0;
}

const verb = process.argv[2];
const verbs: Record<string, (argv: string[]) => Promise<number>> = { up, down: () => down(), serve };
const fn = verb ? verbs[verb] : undefined;
if (!fn) {
  console.error("usage: node scripts/cluster.ts up [--nodes N] | down");
  process.exit(2);
}
process.exitCode = await fn(process.argv.slice(3));
