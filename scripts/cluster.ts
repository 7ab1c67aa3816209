// `npm run cluster:up` / `cluster:down`: a local control plane in the background.
//   up    starts it (if not running) and prints the kubeconfig path as the last line
//   down  stops it and removes its state
//   serve (internal) the background process that owns the control plane
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pluginPath } from "../src/localcluster/scenarios.ts";
import { startSystem } from "../src/localcluster/system.ts";

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

async function up(): Promise<number> {
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
  const child = spawn(process.execPath, [import.meta.filename, "serve"], {
    detached: true,
    stdio: ["ignore", out, out],
  });
  child.unref();
  console.log(`starting a local control plane (log: ${logFile}) ...`);
  const deadline = Date.now() + 5 * 60_000;
  while (Date.now() < deadline) {
    const s = readState();
    if (s && s.pid === child.pid) {
      console.log(`cluster is up: ${s.server}`);
      console.log(
        "nodes node-a and node-b run the vol-csi driver (btrfs) with the upstream sidecars; the webhook is on",
      );
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

async function serve(): Promise<number> {
  const sys = await startSystem({
    fs: process.env.KUBECTL_VOL_CLUSTER_FS === "dir" ? "dir" : "btrfs",
    parentDir: base,
    log: (l) => console.log(l),
  });
  const cp = sys.cp;
  const bin = await pluginPath(cp.session.path("bin"));
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping the control plane");
    await sys.stop();
    rmSync(stateFile, { force: true });
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  const state: State = { pid: process.pid, kubeconfig: cp.kubeconfig, server: cp.server, bin };
  writeFileSync(`${stateFile}.tmp`, JSON.stringify(state));
  renameSync(`${stateFile}.tmp`, stateFile);
  console.log(`control plane ready at ${cp.server}; kubeconfig ${cp.kubeconfig}`);
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
  const deadline = Date.now() + 60_000;
  while (alive(s.pid) && Date.now() < deadline) await sleep(200);
  if (alive(s.pid)) {
    process.kill(s.pid, "SIGKILL");
    await sleep(1500); // the watchdog cleans up after a killed owner
  }
  rmSync(stateFile, { force: true });
  console.log("cluster stopped and its state removed");
  return 0;
}

const verb = process.argv[2];
const verbs: Record<string, () => Promise<number>> = { up, down, serve };
const fn = verb ? verbs[verb] : undefined;
if (!fn) {
  console.error("usage: node scripts/cluster.ts up|down");
  process.exit(2);
}
process.exitCode = await fn();
