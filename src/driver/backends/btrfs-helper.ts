// The btrfs backend's ioctl helper (btrfs-helper.c): one long-lived process that makes subvolume
// snapshots and sets qgroup limits, so these cost an ioctl instead of a `btrfs` process start
// each (a spawn from the driver takes 5 ms on a quiet 2-core machine and tens of ms under
// load). Where the helper cannot be had, the backend runs the `btrfs` command as before.
//
// Where the binary comes from, in order: $VOL_BTRFS_HELPER (a path; "off" turns the helper
// off), `vol-btrfs-helper` beside the running executable (the image puts it there), or one
// compiled from btrfs-helper.c with `cc` into the cache (runs from the sources: tests, the
// benchmark), once per version of the source.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { cacheDir } from "../proto.ts";
import type { Exec } from "./backend.ts";
import { message } from "./common.ts";

export const HELPER_NAME = "vol-btrfs-helper";
const SOURCE = path.join(import.meta.dirname, "btrfs-helper.c");

/** The helper binary to start, or why there is none. */
export async function findHelper(
  exec: Exec,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ binary?: string; reason: string }> {
  const explicit = env.VOL_BTRFS_HELPER;
  if (explicit === "off") return { reason: "VOL_BTRFS_HELPER=off" };
  if (explicit)
    return existsSync(explicit) ? { binary: explicit, reason: "" } : { reason: `${explicit} does not exist` };
  const beside = path.join(path.dirname(process.execPath), HELPER_NAME);
  if (existsSync(beside)) return { binary: beside, reason: "" };
  if (!existsSync(SOURCE)) return { reason: `no ${HELPER_NAME} beside ${process.execPath}` };
  const source = await readFile(SOURCE);
  const dir = path.join(
    cacheDir(env),
    "btrfs-helper",
    createHash("sha256").update(source).digest("hex").slice(0, 16),
  );
  const binary = path.join(dir, HELPER_NAME);
  if (existsSync(binary)) return { binary, reason: "" };
  await mkdir(dir, { recursive: true });
  const tmp = `${binary}.${randomBytes(4).toString("hex")}`;
  try {
    await exec("cc", ["-O2", "-o", tmp, SOURCE]);
    await rename(tmp, binary);
  } catch (err) {
    await rm(tmp, { force: true });
    return { reason: `compiling ${SOURCE} failed: ${message(err)}` };
  }
  return { binary, reason: "" };
}

/** An ioctl the helper made that failed: errno code and the kernel's message. */
export class HelperError extends Error {
  readonly code: string;
  constructor(what: string, errno: number, text: string) {
    const code = Object.entries(os.constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
    super(`${what}: ${text} (${code})`);
    this.name = "HelperError";
    this.code = code;
  }
}

/** The helper process is gone (it is not restarted: the backend falls back to the `btrfs` command). */
export class HelperGone extends Error {}

/** A request the helper's line protocol cannot carry (a path with a tab or newline): the `btrfs` command serves it. */
export class HelperRefused extends Error {}

interface Pending {
  what: string;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class BtrfsHelper {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly pending: Pending[] = [];
  private buffered = "";
  private gone: Error | undefined;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.child = child;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => this.read(chunk));
    const end = (why: string) => {
      this.gone ??= new HelperGone(`the btrfs helper ${why}`);
      for (const p of this.pending.splice(0)) p.reject(this.gone);
      this.hold(false);
    };
    child.on("error", (err) => end(`failed: ${err.message}`));
    child.on("exit", (code, signal) => end(`exited (${signal ?? `code ${code}`})`));
    child.stdin.on("error", (err) => end(`stopped reading: ${err.message}`));
    // Idle, it never keeps the driver alive (it ends with the driver's end of the pipe); a
    // request waiting for its answer does.
    child.stderr.resume();
    this.hold(false);
  }

  private hold(on: boolean): void {
    type Handle = { ref?: () => void; unref?: () => void };
    for (const h of [this.child, this.child.stdin, this.child.stdout, this.child.stderr] as Handle[]) {
      if (on) h.ref?.();
      else h.unref?.();
    }
  }

  /** Starts the helper and checks that it answers. */
  static async start(binary: string): Promise<BtrfsHelper> {
    const h = new BtrfsHelper(spawn(binary, [], { stdio: ["pipe", "pipe", "pipe"] }));
    // An unknown request is answered EINVAL: proof that it runs and speaks this protocol.
    await h.request("a test request", ["hello"]).then(
      () => {
        throw new Error(`${binary} answered a request it should refuse`);
      },
      (err: unknown) => {
        if (!(err instanceof HelperError && err.code === "EINVAL")) throw err;
      },
    );
    return h;
  }

  /** The helper's process id (for tests). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** A read-only (or writable) snapshot of subvolume `src` at `dst`. */
  snapshot(src: string, dst: string, readOnly: boolean): Promise<void> {
    return this.request(`btrfs snapshot of ${src} at ${dst}`, ["snapshot", readOnly ? "1" : "0", src, dst]);
  }

  /** Limits the referenced bytes of the subvolume at `p` (its own qgroup). */
  limit(p: string, bytes: number): Promise<void> {
    return this.request(`btrfs qgroup limit of ${p}`, ["limit", String(bytes), p]);
  }

  private request(what: string, fields: string[]): Promise<void> {
    if (this.gone) return Promise.reject(this.gone);
    if (fields.some((f) => /[\t\n]/.test(f))) {
      return Promise.reject(
        new HelperRefused(`${what}: a path with a tab or newline cannot go to the helper`),
      );
    }
    return new Promise((resolve, reject) => {
      if (this.pending.length === 0) this.hold(true);
      this.pending.push({ what, resolve, reject });
      this.child.stdin.write(`${fields.join("\t")}\n`);
    });
  }

  private read(chunk: string): void {
    this.buffered += chunk;
    for (let nl = this.buffered.indexOf("\n"); nl >= 0; nl = this.buffered.indexOf("\n")) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const p = this.pending.shift();
      if (this.pending.length === 0) this.hold(false);
      if (!p) continue;
      if (line === "ok") {
        p.resolve();
        continue;
      }
      const [, errno, text] = line.split("\t");
      p.reject(new HelperError(p.what, Number(errno), text ?? line));
    }
  }
}
