// The copy backend (ext4 and anything else): a snapshot or clone is a full copy of the tree,
// streamed by `cp -a` (modes, owners, timestamps, symlinks, hard links, xattrs kept; holes in
// sparse files such as a block volume's disk.img kept as holes). Sizes are recorded only.
// The reflink backend is this one with `--reflink=always` (see reflink.ts).
//
// Point in time: a full copy takes time in proportion to the bytes, and writes cannot be held
// back that long, so a copy of a volume that is written meanwhile holds each file as `cp` found
// it. After the copy the source is checked for changes (ctimes, see changedSince): the report
// says whether the copy is point-in-time, and the engine logs it when it is not.
import { chmod, mkdir, rename } from "node:fs/promises";
import type { Logger } from "../../kube/log.ts";
import type {
  Backend,
  BackendKind,
  Capacity,
  CommonBackendOptions,
  CopyReport,
  Exec,
  QuotaIds,
  Usage,
} from "./backend.ts";
import { backendLog, buildAt, changedSince, removeTree, statfsCapacity, walkUsage } from "./common.ts";

export interface CopyBackendOptions extends CommonBackendOptions {
  /** Time limit of one tree copy (default 6 hours: a copy is O(bytes)). */
  copyTimeoutMs?: number;
}

/**
 * Slack for coarse inode timestamps (a change just before a pass may carry a ctime up to one
 * clock tick late): a change within this much before the pass also counts as during it.
 */
export const CTIME_SLACK_NS = 50_000_000n;

export class CopyBackend implements Backend {
  readonly kind: BackendKind = "copy";
  readonly root: string;
  protected readonly exec: Exec;
  protected readonly copyTimeoutMs: number;
  protected readonly log: Logger;

  constructor(root: string, exec: Exec, options: CopyBackendOptions = {}) {
    this.root = root;
    this.exec = exec;
    this.copyTimeoutMs = options.copyTimeoutMs ?? 6 * 3600_000;
    this.log = backendLog(options.log);
  }

  get enforcesSize(): boolean {
    return false;
  }

  get usesProjectIds(): boolean {
    return false;
  }

  get commitsBuilds(): boolean {
    return false;
  }

  /** How `cp` copies file data: a real copy; runs of zeros become holes. */
  protected cpDataArgs(): string[] {
    return ["--reflink=never", "--sparse=always"];
  }

  /** Applies a size limit to a new volume directory (record-only here). */
  protected async limit(_dir: string, _sizeBytes: number, _ids: QuotaIds): Promise<void> {}

  /** Releases what limit() set up for a directory that is about to go. */
  protected async unlimit(_dir: string, _ids: QuotaIds): Promise<void> {}

  /**
   * One `cp` pass of `src` to `dst`; whether the source stayed unchanged throughout (taken as
   * so when its writers are `held`: the check would only see the last writes before the hold,
   * inside its timestamp slack), and how long it took.
   */
  protected async copyPass(src: string, dst: string, held = false): Promise<{ quiet: boolean; ms: number }> {
    const t0 = performance.now();
    const since = BigInt(Date.now()) * 1_000_000n;
    // -T: dst is the copy itself, never a directory to copy into.
    await this.exec("cp", ["-a", ...this.cpDataArgs(), "-T", "--", src, dst], {
      timeoutMs: this.copyTimeoutMs,
    });
    const ms = Math.round(performance.now() - t0);
    return { quiet: held || !(await changedSince(src, since - CTIME_SLACK_NS)), ms };
  }

  /** Copies the tree; the copy backend makes one pass and reports whether it is point-in-time. */
  protected async copyTree(src: string, dst: string, held = false): Promise<CopyReport> {
    const { quiet, ms } = await this.copyPass(src, dst, held);
    return { pointInTime: quiet, windowMs: ms, passes: 1 };
  }

  createVolume(dst: string, sizeBytes: number, ids: QuotaIds = {}): Promise<void> {
    return buildAt(
      "create volume",
      dst,
      async () => {
        await mkdir(dst, { mode: 0o755 });
        await chmod(dst, 0o755);
        await this.limit(dst, sizeBytes, ids);
      },
      (p) => this.remove(p, ids),
    );
  }

  async snapshot(src: string, dst: string, opts: { held?: boolean } = {}): Promise<CopyReport> {
    let report: CopyReport | undefined;
    await buildAt(
      `snapshot ${src}`,
      dst,
      async () => {
        report = await this.copyTree(src, dst, opts.held);
      },
      (p) => this.remove(p),
    );
    return report as CopyReport;
  }

  async clone(src: string, dst: string, sizeBytes: number, ids: QuotaIds = {}): Promise<CopyReport> {
    let report: CopyReport | undefined;
    await buildAt(
      `clone ${src}`,
      dst,
      async () => {
        report = await this.copyTree(src, dst);
        await this.limit(dst, sizeBytes, ids);
      },
      (p) => this.remove(p, ids),
    );
    return report as CopyReport;
  }

  async remove(path: string, ids: QuotaIds = {}): Promise<void> {
    await this.unlimit(path, ids);
    await removeTree(path);
  }

  async resize(path: string, sizeBytes: number, ids: QuotaIds = {}): Promise<void> {
    await this.limit(path, sizeBytes, ids);
  }

  async relocate(from: string, to: string): Promise<void> {
    await rename(from, to);
  }

  usage(path: string): Promise<Usage> {
    return walkUsage(path);
  }

  capacity(): Promise<Capacity> {
    return statfsCapacity(this.root);
  }
}
