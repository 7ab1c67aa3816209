// The btrfs backend: a volume is a subvolume, a snapshot a read-only snapshot of it, a clone or
// restore a writable snapshot of a volume or snapshot — each O(1) in the data size.
// Size: with quotas on (`btrfs quota enable`, tried when the backend opens), each volume's
// qgroup gets a limit on referenced bytes, so writes past it fail with EDQUOT; without them
// the size is recorded only (enforcesSize = false).
// Snapshots and limits go through the ioctl helper (btrfs-helper.ts) where it runs, else
// through the `btrfs` command; everything else (rarer) through the command.
import { lstat, readdir, rename } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../../kube/log.ts";
import type {
  Backend,
  BackendKind,
  Capacity,
  CommonBackendOptions,
  CopyReport,
  Exec,
  Usage,
} from "./backend.ts";
import { BtrfsHelper, findHelper, HelperGone, HelperRefused } from "./btrfs-helper.ts";
import {
  BackendError,
  backendLog,
  buildAt,
  exists,
  message,
  removeTree,
  statfsCapacity,
  walkUsage,
} from "./common.ts";

/** The inode number of every subvolume's top directory (BTRFS_FIRST_FREE_OBJECTID). */
const SUBVOLUME_INO = 256n;

export interface BtrfsBackendOptions extends CommonBackendOptions {
  /** Enable and use qgroups to enforce sizes (default true). */
  quotas?: boolean;
  /** Use the ioctl helper where it can be had (default true; false: the `btrfs` command only). */
  helper?: boolean;
}

/** The qgroup limit for a volume of `sizeBytes`: the size plus room for the subvolume's own metadata. */
export function qgroupLimit(sizeBytes: number): number {
  const MiB = 2 ** 20;
  const headroom = Math.min(256 * MiB, Math.max(4 * MiB, Math.ceil(sizeBytes / 64)));
  return Math.ceil((sizeBytes + headroom) / MiB) * MiB;
}

export class BtrfsBackend implements Backend {
  readonly kind: BackendKind = "btrfs";
  readonly root: string;
  readonly enforcesSize: boolean;
  readonly usesProjectIds = false;
  readonly commitsBuilds = true;
  private readonly exec: Exec;
  private readonly log: Logger;
  /** The ioctl helper, while it runs. */
  private helper: BtrfsHelper | undefined;

  private constructor(
    root: string,
    exec: Exec,
    quotas: boolean,
    log: Logger,
    helper: BtrfsHelper | undefined,
  ) {
    this.root = root;
    this.exec = exec;
    this.enforcesSize = quotas;
    this.log = log;
    this.helper = helper;
  }

  /** The ioctl helper's process id while snapshots and limits go through it (for tests). */
  get helperPid(): number | undefined {
    return this.helper?.pid;
  }

  /** Opens the backend on `root` (which must be on btrfs), turning quotas on if asked and possible. */
  static async open(root: string, exec: Exec, options: BtrfsBackendOptions = {}): Promise<BtrfsBackend> {
    const log = backendLog(options.log);
    let quotas = false;
    if (options.quotas !== false) {
      const why = await enableQuotas(root, exec);
      quotas = why === "";
      if (!quotas)
        log.info("btrfs quotas are not usable here; volume sizes are recorded only", { root, reason: why });
    }
    let helper: BtrfsHelper | undefined;
    if (options.helper !== false) {
      const found = await findHelper(exec);
      try {
        if (found.binary) helper = await BtrfsHelper.start(found.binary);
      } catch (err) {
        found.reason = `${found.binary} did not start: ${message(err)}`;
      }
      if (!helper)
        log.info("the btrfs ioctl helper is not available; snapshots run the btrfs command", {
          root,
          reason: found.reason,
        });
    }
    return new BtrfsBackend(root, exec, quotas, log, helper);
  }

  /** Through the helper while it runs; if it has gone, through the `btrfs` command from then on. */
  private async viaHelper(call: (h: BtrfsHelper) => Promise<void>, args: string[]): Promise<void> {
    const h = this.helper;
    if (h) {
      try {
        await call(h);
        return;
      } catch (err) {
        if (err instanceof HelperRefused) return void (await this.btrfs(args));
        if (!(err instanceof HelperGone)) throw err;
        this.helper = undefined;
        this.log.warn("the btrfs ioctl helper has gone; running the btrfs command from now on", {
          error: message(err),
        });
      }
    }
    await this.btrfs(args);
  }

  private btrfs(args: string[]): Promise<{ stdout: string; stderr: string }> {
    return this.exec("btrfs", args);
  }

  private async limit(dir: string, sizeBytes: number): Promise<void> {
    if (!this.enforcesSize) return;
    const bytes = qgroupLimit(sizeBytes);
    await this.viaHelper((h) => h.limit(dir, bytes), ["qgroup", "limit", String(bytes), dir]);
  }

  private makeSnapshot(src: string, dst: string, readOnly: boolean): Promise<void> {
    return this.viaHelper(
      (h) => h.snapshot(src, dst, readOnly),
      ["subvolume", "snapshot", ...(readOnly ? ["-r"] : []), src, dst],
    );
  }

  createVolume(dst: string, sizeBytes: number): Promise<void> {
    return buildAt(
      "create volume",
      dst,
      async () => {
        await this.btrfs(["subvolume", "create", dst]);
        await this.limit(dst, sizeBytes);
      },
      (p) => this.remove(p),
    );
  }

  async snapshot(src: string, dst: string): Promise<CopyReport> {
    let windowMs = 0;
    await buildAt(
      `snapshot ${src}`,
      dst,
      async () => {
        await this.requireSubvolume(src);
        windowMs = await timed(() => this.makeSnapshot(src, dst, true));
      },
      (p) => this.remove(p),
    );
    // A subvolume snapshot is atomic: the source at the instant of the snapshot's transaction.
    return { pointInTime: true, windowMs, passes: 1 };
  }

  async clone(src: string, dst: string, sizeBytes: number): Promise<CopyReport> {
    let windowMs = 0;
    await buildAt(
      `clone ${src}`,
      dst,
      async () => {
        await this.requireSubvolume(src);
        windowMs = await timed(() => this.makeSnapshot(src, dst, false));
        await this.limit(dst, sizeBytes);
      },
      (p) => this.remove(p),
    );
    return { pointInTime: true, windowMs, passes: 1 };
  }

  /**
   * A read-only snapshot cannot be moved to another directory (that rewrites its ".."): it is
   * made writable for the move and read-only again after it.
   */
  async relocate(from: string, to: string): Promise<void> {
    const readOnly = (await isSubvolume(from)) && (await this.isReadOnly(from));
    if (readOnly) await this.btrfs(["property", "set", "-ts", from, "ro", "false"]);
    try {
      await rename(from, to);
    } catch (err) {
      if (readOnly) await this.btrfs(["property", "set", "-ts", from, "ro", "true"]);
      throw err;
    }
    if (readOnly) await this.btrfs(["property", "set", "-ts", to, "ro", "true"]);
  }

  private async isReadOnly(p: string): Promise<boolean> {
    const { stdout } = await this.btrfs(["property", "get", "-ts", p, "ro"]);
    return /ro=true/.test(stdout);
  }

  private async requireSubvolume(p: string): Promise<void> {
    if (!(await isSubvolume(p))) {
      throw new BackendError(`${p} is not a btrfs subvolume, so it cannot be snapshotted`, p, {
        code: (await exists(p)) ? "EINVAL" : "ENOENT",
      });
    }
  }

  async remove(p: string): Promise<void> {
    if (!(await exists(p))) return;
    if (await isSubvolume(p)) {
      await this.deleteSubvolume(p);
      return;
    }
    // A plain directory (a leftover): it may still hold subvolumes, which rm cannot remove.
    for (const sub of await nestedSubvolumes(p)) await this.deleteSubvolume(sub);
    await removeTree(p);
  }

  private async deleteSubvolume(p: string): Promise<void> {
    try {
      await this.btrfs(["subvolume", "delete", p]);
      return;
    } catch (err) {
      if (!(await exists(p))) return;
      const nested = await nestedSubvolumes(p);
      if (nested.length === 0) throw err;
      // Subvolumes made inside this one (a workload can): they go first, which needs this one
      // writable if it is a read-only snapshot.
      await this.btrfs(["property", "set", "-ts", p, "ro", "false"]);
      for (const sub of nested) await this.deleteSubvolume(sub);
    }
    await this.btrfs(["subvolume", "delete", p]);
  }

  async resize(p: string, sizeBytes: number): Promise<void> {
    await this.limit(p, sizeBytes);
  }

  async usage(p: string): Promise<Usage> {
    const walked = await walkUsage(p);
    if (!this.enforcesSize || !(await isSubvolume(p))) return walked;
    try {
      const { stdout } = await this.btrfs(["qgroup", "show", "--raw", "-f", p]);
      const bytes = parseReferenced(stdout);
      return bytes === undefined ? walked : { bytes, inodes: walked.inodes };
    } catch (err) {
      this.log.warn("reading the qgroup of a volume failed; reporting the walked usage", {
        path: p,
        error: message(err),
      });
      return walked;
    }
  }

  capacity(): Promise<Capacity> {
    return statfsCapacity(this.root);
  }
}

/** The referenced bytes of the subvolume's own qgroup (the first 0/N row) in `btrfs qgroup show --raw -f`. */
export function parseReferenced(stdout: string): number | undefined {
  for (const line of stdout.split("\n")) {
    const m = /^\s*0\/\d+\s+(\d+)\s+\d+/.exec(line);
    if (m) return Number(m[1]);
  }
  return undefined;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return Math.round(performance.now() - t0);
}

/** Whether `p` is the top of a subvolume (absent: false; any other lstat error is thrown). */
export async function isSubvolume(p: string): Promise<boolean> {
  try {
    const st = await lstat(p, { bigint: true });
    return st.isDirectory() && st.ino === SUBVOLUME_INO;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/**
 * The subvolumes directly below `dir` (not inside them): directories on another device (each
 * subvolume has its own st_dev) with the subvolume inode number.
 */
async function nestedSubvolumes(dir: string): Promise<string[]> {
  const top = await lstat(dir, { bigint: true });
  const found: string[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop() as string;
    for (const entry of await readdir(d, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const p = path.join(d, entry.name);
      const st = await lstat(p, { bigint: true });
      if (st.dev !== top.dev) {
        if (st.ino === SUBVOLUME_INO) found.push(p);
      } else stack.push(p);
    }
  }
  return found;
}

/** Turns quotas on for the filesystem of `root` if they are off; "" when qgroups are usable, else why not. */
async function enableQuotas(root: string, exec: Exec): Promise<string> {
  const usable = () =>
    exec("btrfs", ["qgroup", "show", root]).then(
      () => "",
      (err: unknown) => `btrfs qgroup show failed: ${message(err)}`,
    );
  if ((await usable()) === "") return "";
  try {
    await exec("btrfs", ["quota", "enable", root]);
    // Existing data is counted only after a rescan (quick on a new filesystem).
    await exec("btrfs", ["quota", "rescan", "-w", root], { timeoutMs: 600_000 }).catch((err) => {
      if (!/already|in progress/i.test(message(err))) throw err;
    });
  } catch (err) {
    return `turning quotas on failed: ${message(err)}`;
  }
  return usable();
}
