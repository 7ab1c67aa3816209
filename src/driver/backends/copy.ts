// The copy backend (ext4 and anything else): a snapshot or clone is a full copy of the tree,
// streamed by `cp -a` (modes, owners, timestamps, symlinks, hard links, xattrs kept; holes in
// sparse files such as a block volume's disk.img kept as holes). Sizes are recorded only.
// The reflink backend is this one with `--reflink=always` (see reflink.ts).
import { chmod, mkdir } from "node:fs/promises";
import type { Backend, BackendKind, Capacity, Exec, Usage } from "./backend.ts";
import { buildAt, removeTree, statfsCapacity, walkUsage } from "./common.ts";

export interface CopyBackendOptions {
  /** Time limit of one tree copy (default 6 hours: a copy is O(bytes)). */
  copyTimeoutMs?: number;
}

export class CopyBackend implements Backend {
  readonly kind: BackendKind = "copy";
  readonly root: string;
  protected readonly exec: Exec;
  protected readonly copyTimeoutMs: number;

  constructor(root: string, exec: Exec, options: CopyBackendOptions = {}) {
    this.root = root;
    this.exec = exec;
    this.copyTimeoutMs = options.copyTimeoutMs ?? 6 * 3600_000;
  }

  get enforcesSize(): boolean {
    return false;
  }

  /** How `cp` copies file data: a real copy; runs of zeros become holes. */
  protected cpDataArgs(): string[] {
    return ["--reflink=never", "--sparse=always"];
  }

  /** Applies a size limit to a new volume directory (record-only here). */
  protected async limit(_dir: string, _sizeBytes: number): Promise<void> {}

  /** Releases what limit() set up for a directory that is about to go. */
  protected async unlimit(_dir: string): Promise<void> {}

  protected async copyTree(src: string, dst: string): Promise<void> {
    // -T: dst is the copy itself, never a directory to copy into.
    await this.exec("cp", ["-a", ...this.cpDataArgs(), "-T", "--", src, dst], {
      timeoutMs: this.copyTimeoutMs,
    });
  }

  createVolume(dst: string, sizeBytes: number): Promise<void> {
    return buildAt(
      "create volume",
      dst,
      async () => {
        await mkdir(dst, { mode: 0o755 });
        await chmod(dst, 0o755);
        await this.limit(dst, sizeBytes);
      },
      (p) => this.remove(p),
    );
  }

  snapshot(src: string, dst: string): Promise<void> {
    return buildAt(
      `snapshot ${src}`,
      dst,
      () => this.copyTree(src, dst),
      (p) => this.remove(p),
    );
  }

  clone(src: string, dst: string, sizeBytes: number): Promise<void> {
    return buildAt(
      `clone ${src}`,
      dst,
      async () => {
        await this.copyTree(src, dst);
        await this.limit(dst, sizeBytes);
      },
      (p) => this.remove(p),
    );
  }

  async remove(path: string): Promise<void> {
    await this.unlimit(path);
    await removeTree(path);
  }

  async resize(path: string, sizeBytes: number): Promise<void> {
    await this.limit(path, sizeBytes);
  }

  usage(path: string): Promise<Usage> {
    return walkUsage(path);
  }

  capacity(): Promise<Capacity> {
    return statfsCapacity(this.root);
  }
}
