// A session owns a temp dir and the processes started in it, and leaves nothing behind on any
// exit path: stop() ends everything in order; if the owning process dies instead (a crash,
// Ctrl-C, SIGKILL), each child gets SIGKILL from the kernel (parent-death signal) and a
// detached watchdog runs the recorded clean-up commands and removes the dir.
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

const WATCHDOG = `
owner=$1; dir=$2
while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
[ -f "$dir/.pgids" ] && while read -r pg; do kill -KILL -- "-$pg" 2>/dev/null; done < "$dir/.pgids"
sleep 0.2
[ -f "$dir/.cleanup.sh" ] && tac "$dir/.cleanup.sh" | bash >/dev/null 2>&1
rm -rf --one-file-system "$dir"
`;

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export class Proc {
  readonly exited: Promise<number | null>;
  exitCode: number | null | undefined = undefined;
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  constructor(name: string, child: ChildProcess, logFile: string) {
    this.name = name;
    this.child = child;
    this.logFile = logFile;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitCode = code ?? (signal ? null : code);
        resolve(code);
      });
      child.once("error", () => resolve(null));
    });
  }
  get running(): boolean {
    return this.exitCode === undefined;
  }
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }
  /** SIGTERM to the process group, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running || this.child.pid === undefined) return;
    signalGroup(this.child.pid, "SIGTERM");
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      signalGroup(this.child.pid, "SIGKILL");
      await this.exited;
    }
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

const live = new Set<Session>();
process.once("exit", () => {
  for (const s of live) s.killNow();
});

export class Session {
  private readonly procs: Proc[] = [];
  private watchdog: ChildProcess | undefined;
  private stopped = false;
  private stopping: Promise<void> | undefined;

  readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }

  static async create(prefix: string, parent = os.tmpdir()): Promise<Session> {
    const dir = await mkdtemp(path.join(parent, `${prefix}-`));
    const s = new Session(dir);
    s.watchdog = spawn("bash", ["-c", WATCHDOG, "watchdog", String(process.pid), dir], {
      detached: true,
      stdio: "ignore",
    });
    s.watchdog.unref();
    live.add(s);
    return s;
  }

  path(...parts: string[]): string {
    return path.join(this.dir, ...parts);
  }

  /** Starts a child in its own process group, output to `<dir>/<name>.log`. */
  start(name: string, bin: string, args: string[], opts: StartOptions = {}): Proc {
    if (this.stopped) throw new Error(`session ${this.dir} is stopped; cannot start ${name}`);
    const logFile = this.path(`${name}.log`);
    const fd = openSync(logFile, "a");
    const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", bin, ...args], {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? this.dir,
    });
    if (child.pid !== undefined) appendFileSync(this.path(".pgids"), `${child.pid}\n`);
    const p = new Proc(name, child, logFile);
    this.procs.push(p);
    return p;
  }

  /** Process ids of the children still running. */
  pids(): number[] {
    return this.procs.filter((p) => p.running && p.child.pid !== undefined).map((p) => p.child.pid as number);
  }

  /** Records a shell command to run at the end (in reverse order of registration), on every exit path. */
  onCleanup(shellCommand: string): void {
    appendFileSync(this.path(".cleanup.sh"), `${shellCommand.replaceAll("\n", " ")}\n`);
  }

  /** Synchronous last resort (process exit): SIGKILL every child; the watchdog does the rest. */
  killNow(): void {
    for (const p of this.procs) if (p.running && p.child.pid) signalGroup(p.child.pid, "SIGKILL");
  }

  /** Stops everything in order; a second call waits for the first. */
  stop(): Promise<void> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    this.stopped = true;
    for (const p of [...this.procs].reverse()) await p.stop();
    const cleanup = await readFile(this.path(".cleanup.sh"), "utf8").catch(() => "");
    const lines = cleanup.split("\n").filter(Boolean).reverse();
    if (lines.length > 0) {
      await new Promise<void>((resolve) => {
        const c = spawn("bash", ["-c", lines.join("\n")], { stdio: "ignore" });
        c.once("exit", () => resolve());
        c.once("error", () => resolve());
      });
    }
    await rm(this.dir, { recursive: true, force: true });
    if (this.watchdog?.pid) signalGroup(this.watchdog.pid, "SIGKILL");
    live.delete(this);
  }
}

/** Polls `check` until it returns true; throws with `describe()` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  describe: () => string = () => "",
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  const why = last instanceof Error ? ` (last error: ${last.message})` : "";
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}\n${describe()}`);
}

/** A free TCP port on 127.0.0.1 (bound then released). */
export async function freePort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}
