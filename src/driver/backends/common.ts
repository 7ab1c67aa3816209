// What the three backends share: the all-or-nothing wrapper every method that makes something
// at `dst` runs in, the du-like usage walk, statfs capacity, and plain-tree removal.
import type { BigIntStats, Stats } from "node:fs";
import { lstat, opendir, rm, statfs } from "node:fs/promises";
import path from "node:path";
import { createLogger, type Logger } from "../../kube/log.ts";
import type { Capacity, Usage } from "./backend.ts";

/** The logger of a backend opened without one (tests): JSON lines on stdout, as the driver's. */
export function backendLog(log: Logger | undefined): Logger {
  return log ?? createLogger({ base: { component: "vol-csi" } });
}

/** An error of a backend method: what failed, on which path; the cause keeps the details. */
export class BackendError extends Error {
  readonly path: string;
  /** errno-like code where one applies (EEXIST, ENOENT, ...). */
  readonly code: string | undefined;
  constructor(message: string, path: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, { cause: options.cause });
    this.name = "BackendError";
    this.path = path;
    this.code = options.code;
  }
}

export async function exists(p: string): Promise<boolean> {
  return (await lstatIfExists(p)) !== undefined;
}

/** lstat of `p`, or undefined when nothing is there; any other error (EACCES, EIO) is thrown. */
export async function lstatIfExists(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Runs `make`, which creates `dst`; if it throws, removes whatever it left at `dst` with
 * `cleanup` and rethrows. Refuses to start when `dst` already exists, so it never removes
 * something it did not make.
 */
export async function buildAt(
  what: string,
  dst: string,
  make: () => Promise<void>,
  cleanup: (p: string) => Promise<void>,
): Promise<void> {
  if (await exists(dst)) {
    throw new BackendError(`cannot ${what} at ${dst}: the path already exists`, dst, { code: "EEXIST" });
  }
  try {
    await make();
  } catch (err) {
    try {
      await cleanup(dst);
    } catch (cleanupErr) {
      throw new BackendError(
        `${what} at ${dst} failed (${message(err)}), and removing the partial result failed too (${message(cleanupErr)})`,
        dst,
        { cause: err },
      );
    }
    if (err instanceof BackendError) throw err;
    throw new BackendError(`${what} at ${dst} failed: ${message(err)}`, dst, { cause: err });
  }
}

export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Removes a plain directory tree (or file); absent is fine. */
export async function removeTree(p: string): Promise<void> {
  await rm(p, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Visits `root` and every entry below it with its lstat, not crossing into other filesystems or
 * btrfs subvolumes; stops early when `visit` returns true. Entries removed during the walk are
 * skipped.
 */
async function walkTree(root: string, visit: (st: BigIntStats) => boolean): Promise<void> {
  const top = await lstat(root, { bigint: true });
  if (visit(top) || !top.isDirectory()) return;
  const stack = [root];
  /** Stats a batch of entries together and visits them in order; true when `visit` stopped the walk. */
  const visitAll = async (batch: string[]): Promise<boolean> => {
    const stats = await Promise.all(
      batch.map((p) =>
        lstat(p, { bigint: true }).catch((err: NodeJS.ErrnoException) => {
          if (err.code === "ENOENT") return undefined;
          throw err;
        }),
      ),
    );
    for (const [j, st] of stats.entries()) {
      if (!st || st.dev !== top.dev) continue;
      if (visit(st)) return true;
      if (st.isDirectory()) stack.push(batch[j] as string);
    }
    return false;
  };
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let handle: Awaited<ReturnType<typeof opendir>>;
    try {
      handle = await opendir(dir, { bufferSize: 256 });
    } catch (err) {
      // A directory removed while we walk is simply no longer counted.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    // Entries are stat'ed WALK_BATCH at a time (each stat is a round trip to the thread pool:
    // one after the other, they add up on a busy machine). Leaving the loop closes the handle.
    let batch: string[] = [];
    for await (const entry of handle) {
      batch.push(path.join(dir, entry.name));
      if (batch.length < WALK_BATCH) continue;
      if (await visitAll(batch)) return;
      batch = [];
    }
    if (await visitAll(batch)) return;
  }
}

/** How many entries of a directory walkTree stats at once. */
const WALK_BATCH = 64;

/**
 * Blocks in use (st_blocks × 512, each inode counted once, so hard links and reflinked copies
 * inside the tree count once per inode) and the number of inodes, like `du -s` and
 * `du -s --inodes`. Does not cross into other filesystems or btrfs subvolumes.
 */
export async function walkUsage(root: string): Promise<Usage> {
  const seen = new Set<bigint>();
  let bytes = 0n;
  let inodes = 0;
  await walkTree(root, (st) => {
    if (st.nlink > 1n) {
      if (seen.has(st.ino)) return false;
      seen.add(st.ino);
    }
    bytes += st.blocks * 512n;
    inodes++;
    return false;
  });
  return { bytes: Number(bytes), inodes };
}

/**
 * Whether anything in the tree at `root` changed at or after `sinceNs` (wall clock, ns): every
 * change of a file's data or metadata, and every entry added, removed or renamed in a
 * directory, sets the inode's ctime, which nothing can set back. (Writes through an mmap that
 * is already writable update it only at the next writeback: see the README.)
 */
export async function changedSince(root: string, sinceNs: bigint): Promise<boolean> {
  let changed = false;
  await walkTree(root, (st) => {
    changed = st.ctimeNs >= sinceNs;
    return changed;
  });
  return changed;
}

/** Space and inodes of the filesystem holding `root`, as statfs(2) reports them. */
export async function statfsCapacity(root: string): Promise<Capacity> {
  const s = await statfs(root, { bigint: true });
  return {
    totalBytes: Number(s.blocks * s.bsize),
    availableBytes: Number(s.bavail * s.bsize),
    totalInodes: Number(s.files),
    availableInodes: Number(s.ffree),
  };
}

/** Rounds a size up to whole MiB (what quota tools take without surprises). */
export function roundUpMiB(bytes: number): number {
  const MiB = 2 ** 20;
  return Math.max(MiB, Math.ceil(bytes / MiB) * MiB);
}
