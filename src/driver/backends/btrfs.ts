// The btrfs backend: a volume is a subvolume, a snapshot a read-only snapshot of it, a clone or
// restore a writable snapshot of a volume or snapshot — each O(1) in the data size.
// Size: with quotas on (`btrfs quota enable`, tried when the backend opens), each volume's
// qgroup gets a limit on referenced bytes, so writes past it fail with EDQUOT; without them
// the size is recorded only (enforcesSize = false).
import { lstat, readdir } from "node:fs/promises";
import path from "node:path";
import type { Backend, BackendKind, Capacity, Exec, Usage } from "./backend.ts";
import { BackendError, buildAt, exists, message, removeTree, statfsCapacity, walkUsage } from "./common.ts";

/** The inode number of every subvolume's top directory (BTRFS_FIRST_FREE_OBJECTID). */
const SUBVOLUME_INO = 256n;

export interface BtrfsBackendOptions {
  /** Enable and use qgroups to enforce sizes (default true). */
  quotas?: boolean;
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
  private readonly exec: Exec;

  private constructor(root: string, exec: Exec, quotas: boolean) {
    this.root = root;
    this.exec = exec;
    this.enforcesSize = quotas;
  }

  /** Opens the backend on `root` (which must be on btrfs), turning quotas on if asked and possible. */
  static async open(root: string, exec: Exec, options: BtrfsBackendOptions = {}): Promise<BtrfsBackend> {
    const quotas = options.quotas === false ? false : await enableQuotas(root, exec);
    return new BtrfsBackend(root, exec, quotas);
  }

  private btrfs(args: string[]): Promise<{ stdout: string; stderr: string }> {
    return this.exec("btrfs", args);
  }

  private async limit(dir: string, sizeBytes: number): Promise<void> {
    if (this.enforcesSize) await this.btrfs(["qgroup", "limit", String(qgroupLimit(sizeBytes)), dir]);
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

  snapshot(src: string, dst: string): Promise<void> {
    return buildAt(
      `snapshot ${src}`,
      dst,
      async () => {
        await this.requireSubvolume(src);
        await this.btrfs(["subvolume", "snapshot", "-r", src, dst]);
      },
      (p) => this.remove(p),
    );
  }

  clone(src: string, dst: string, sizeBytes: number): Promise<void> {
    return buildAt(
      `clone ${src}`,
      dst,
      async () => {
        await this.requireSubvolume(src);
        await this.btrfs(["subvolume", "snapshot", src, dst]);
        await this.limit(dst, sizeBytes);
      },
      (p) => this.remove(p),
    );
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
    } catch {
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

export async function isSubvolume(p: string): Promise<boolean> {
  try {
    const st = await lstat(p, { bigint: true });
    return st.isDirectory() && st.ino === SUBVOLUME_INO;
  } catch {
    return false;
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

/** Turns quotas on for the filesystem of `root` if they are off; true when qgroups are usable. */
async function enableQuotas(root: string, exec: Exec): Promise<boolean> {
  const usable = () =>
    exec("btrfs", ["qgroup", "show", root]).then(
      () => true,
      () => false,
    );
  if (await usable()) return true;
  try {
    await exec("btrfs", ["quota", "enable", root]);
    // Existing data is counted only after a rescan (quick on a new filesystem).
    await exec("btrfs", ["quota", "rescan", "-w", root], { timeoutMs: 600_000 }).catch((err) => {
      if (!/already|in progress/i.test(message(err))) throw err;
    });
  } catch {
    return false;
  }
  return usable();
}
