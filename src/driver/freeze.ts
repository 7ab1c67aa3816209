// Holding the writes to several volumes at one instant, for a crash-consistent group snapshot.
//
// Freezing the filesystem (FIFREEZE) cannot be used: a btrfs subvolume snapshot and a reflink
// copy both write to the frozen filesystem and block until the thaw (measured: `btrfs subvolume
// snapshot` under `fsfreeze -f` sleeps in D state until `fsfreeze -u`). Two btrfs snapshots
// started together land in different transactions (measured: "Gen at creation" differs every
// time), so they are not one instant either. What holds the writes instead is the writers: every
// process that reaches a member volume through a mount of it (a pod's container mounting the
// claim) is stopped (SIGSTOP, waited for until the kernel reports it stopped, i.e. outside any
// system call), the member snapshots are cut, and the processes are continued (SIGCONT). A
// stopped process holds no filesystem lock, so the snapshots proceed; everything it wrote before
// is in the page cache or on disk, and each backend's snapshot includes the page cache (btrfs
// flushes the subvolume's dirty data before the snapshot, FICLONE the file's, cp reads through
// it). So the members hold the volumes as a crash at that instant would have left them.
//
// Who is held: processes outside the driver's own mount namespace whose mount table has a mount
// of the member volume (or of a directory inside it) at a path that is not a kubelet's pod volume
// directory (…/pods/<uid>/volumes/…, the kubelet's and the driver's own view of a published
// volume). The scan is repeated after stopping until it finds no one new (a process cannot fork
// while stopped), so a writer started during the hold is held too. Needs the host's process
// table (hostPID in the DaemonSet). Writes that reach the data directory itself (not through a
// published volume) are not held: in Kubernetes only the driver does that.
//
// Always continued: on every path out of the hold (error, timeout, a throw in the cut); when the
// driver is killed, the next start continues the processes it recorded (meta/held.json, written
// before any process is stopped, with each process's start time so a reused pid is left alone).
import { readdir, readFile, readlink, rename, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../kube/log.ts";
import { Code, CsiError } from "./errors.ts";
import {
  type Identity,
  identityIn,
  type MountEntry,
  mountsOf,
  parseMountinfo,
  readMounts,
} from "./mounts.ts";

/** A process stopped by a hold: its pid and its start time (field 22 of /proc/<pid>/stat). */
export interface HeldProcess {
  pid: number;
  start: string;
}

export interface HoldReport<T> {
  result: T;
  /** How long writes were held: from the first stop to the last continue, in ms. */
  windowMs: number;
  /** The processes stopped. */
  held: HeldProcess[];
}

export interface WriteHoldOptions {
  log: Logger;
  /** Where the processes being held are recorded (for a start after a crash). */
  recordFile: string;
  /** The longest the cut may hold writes; past it writes are continued and the hold fails. */
  maxHoldMs?: number;
  /** How long a process may take to stop (it finishes its system call first). */
  stopTimeoutMs?: number;
  /** The proc filesystem (tests may point elsewhere). */
  proc?: string;
}

/** A kubelet's (and the driver's) view of a published volume: not a writer's mount. */
const POD_VOLUME_DIR = /\/pods\/[^/]+\/volumes\//;

/** State and start time from the text of /proc/<pid>/stat. Pure. */
export function parseStat(text: string): { state: string; start: string } | undefined {
  const close = text.lastIndexOf(")");
  if (close < 0) return undefined;
  const f = text
    .slice(close + 2)
    .trim()
    .split(" ");
  // f[0] is field 3 (state); field 22 (starttime) is f[19].
  if (!f[0] || !f[19]) return undefined;
  return { state: f[0], start: f[19] };
}

/** Whether a mount table reaches one of `ids` through a mount of its own (not a pod volume directory). Pure. */
export function reachesVolume(entries: MountEntry[], ids: Identity[]): boolean {
  return ids.some((id) => mountsOf(entries, id).some((m) => !POD_VOLUME_DIR.test(`${m.mountpoint}/`)));
}

const stopped = (state: string): boolean => state === "T" || state === "t";

export class WriteHold {
  private readonly o: Required<Omit<WriteHoldOptions, "log">> & { log: Logger };
  constructor(o: WriteHoldOptions) {
    this.o = { maxHoldMs: 10_000, stopTimeoutMs: 5_000, proc: "/proc", ...o };
  }

  private async stat(pid: number): Promise<{ state: string; start: string } | undefined> {
    try {
      return parseStat(await readFile(path.join(this.o.proc, String(pid), "stat"), "utf8"));
    } catch {
      return undefined; // gone
    }
  }

  /** The processes (outside this process's mount namespace) that can write to one of `ids` through a mount. */
  async writersOf(ids: Identity[]): Promise<number[]> {
    const own = await readlink(path.join(this.o.proc, "self/ns/mnt")).catch(() => "");
    const byNs = new Map<string, number[]>();
    for (const name of await readdir(this.o.proc)) {
      if (!/^\d+$/.test(name)) continue;
      const ns = await readlink(path.join(this.o.proc, name, "ns/mnt")).catch(() => "");
      if (!ns || ns === own) continue;
      const list = byNs.get(ns);
      if (list) list.push(Number(name));
      else byNs.set(ns, [Number(name)]);
    }
    const found: number[] = [];
    for (const pids of byNs.values()) {
      for (const pid of pids) {
        let text: string;
        try {
          text = await readFile(path.join(this.o.proc, String(pid), "mountinfo"), "utf8");
        } catch {
          continue; // gone: another process of the namespace answers
        }
        if (reachesVolume(parseMountinfo(text), ids)) found.push(...pids);
        break;
      }
    }
    return found.filter((p) => p !== process.pid);
  }

  private async record(held: HeldProcess[]): Promise<void> {
    // Outlives a killed driver (the page cache does); a power loss ends the stopped processes anyway.
    const tmp = `${this.o.recordFile}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ held })}\n`);
    await rename(tmp, this.o.recordFile);
  }

  private resume(held: HeldProcess[]): void {
    for (const h of held) {
      try {
        process.kill(h.pid, "SIGCONT");
      } catch {
        // gone
      }
    }
  }

  /** Stops `pids` (recording them first) and waits until each is stopped; returns those it stopped. */
  private async stop(pids: number[], held: HeldProcess[]): Promise<void> {
    const fresh: HeldProcess[] = [];
    for (const pid of pids) {
      if (held.some((h) => h.pid === pid)) continue;
      const st = await this.stat(pid);
      if (!st || stopped(st.state)) continue; // gone, or stopped by someone else: left as it is
      fresh.push({ pid, start: st.start });
    }
    if (fresh.length === 0) return;
    await this.record([...held, ...fresh]);
    for (const h of fresh) {
      try {
        process.kill(h.pid, "SIGSTOP");
        held.push(h);
      } catch {
        // gone meanwhile
      }
    }
    const deadline = performance.now() + this.o.stopTimeoutMs;
    for (const h of fresh) {
      for (;;) {
        const st = await this.stat(h.pid);
        if (!st || st.start !== h.start || stopped(st.state)) break;
        if (performance.now() > deadline) {
          throw new CsiError(
            Code.UNAVAILABLE,
            `process ${h.pid}, which writes to a member volume, did not stop within ${this.o.stopTimeoutMs} ms (state ${st.state}); retry the group snapshot`,
          );
        }
        await new Promise((r) => setImmediate(r));
      }
    }
  }

  /**
   * Runs `cut` while every writer of the volumes at `dirs` is stopped; continues them on every
   * path. Throws UNAVAILABLE when `cut` takes longer than maxHoldMs (writes are continued then,
   * and what `cut` made is not one instant).
   */
  async hold<T>(dirs: string[], cut: () => Promise<T>): Promise<HoldReport<T>> {
    const mounts = await readMounts();
    const ids = dirs.map((d) => identityIn(mounts, d)).filter((i): i is Identity => i !== undefined);
    const held: HeldProcess[] = [];
    let t0 = performance.now();
    let continued = false;
    const onExit = () => this.resume(held);
    process.once("exit", onExit);
    const cont = async () => {
      if (continued) return;
      continued = true;
      this.resume(held);
      await unlink(this.o.recordFile).catch(() => undefined);
    };
    let windowMs = 0;
    try {
      const first = await this.writersOf(ids);
      t0 = performance.now();
      await this.stop(first, held);
      // Until no one new: a stopped process cannot start another.
      for (let round = 0; held.length > 0 && round < 5; round++) {
        const before = held.length;
        await this.stop(await this.writersOf(ids), held);
        if (held.length === before) break;
      }
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((r) => {
        timer = setTimeout(() => r("late"), this.o.maxHoldMs);
      });
      const running = cut();
      const first2 = await Promise.race([running, late]).finally(() => clearTimeout(timer));
      if (first2 === "late") {
        windowMs = Math.round(performance.now() - t0);
        await cont();
        await running.catch(() => undefined);
        throw new CsiError(
          Code.UNAVAILABLE,
          `cutting the member snapshots took longer than ${this.o.maxHoldMs} ms, so writes could not be held for all of it; retry the group snapshot`,
        );
      }
      await cont();
      windowMs = Math.round(performance.now() - t0);
      return { result: first2 as T, windowMs, held };
    } finally {
      await cont();
      process.removeListener("exit", onExit);
      this.o.log.debug("writes held", { windowMs, processes: held.map((h) => h.pid) });
    }
  }

  /** At start: continues the processes a killed driver left stopped (those whose start time still matches). */
  async resumeRecorded(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.o.recordFile, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    let held: HeldProcess[] = [];
    try {
      held = (JSON.parse(text) as { held?: HeldProcess[] }).held ?? [];
    } catch {
      held = [];
    }
    const resumed: number[] = [];
    for (const h of held) {
      const st = await this.stat(h.pid);
      if (st && st.start === h.start) {
        this.resume([h]);
        resumed.push(h.pid);
      }
    }
    this.o.log.warn("continued processes an interrupted group snapshot had stopped", { pids: resumed });
    await unlink(this.o.recordFile).catch(() => undefined);
  }
}
