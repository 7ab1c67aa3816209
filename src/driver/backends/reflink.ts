// The reflink backend (XFS with reflink=1, or btrfs where subvolumes are not allowed): a
// snapshot or clone is the tree copied with copy-on-write file clones (`cp -a
// --reflink=always`, i.e. FICLONE per file): O(files), not O(bytes); a block volume's disk.img
// is one clone, however big. Everything else is the copy backend's.
//
// Point in time: a pass is short, so a copy is kept only when the source did not change while
// it ran (no inode of the source has a ctime inside the pass); otherwise the copy is thrown
// away and made again, up to REFLINK_PASSES times, and the call fails if the source never
// held still that long. (Freezing the filesystem instead cannot work: the copy itself writes
// to the frozen filesystem and would block until the thaw.)
//
// Size: on XFS mounted with `prjquota` (and a kernel with CONFIG_XFS_QUOTA) each volume gets its
// own project id, allocated by the engine and kept in the volume's record, and a hard block
// limit on it. Anywhere else the size is recorded only (enforcesSize = false).

import { stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { BackendKind, CopyReport, Exec, QuotaIds } from "./backend.ts";
import { BackendError, backendLog, exists, message, removeTree } from "./common.ts";
import { CopyBackend, type CopyBackendOptions } from "./copy.ts";

export interface ReflinkBackendOptions extends CopyBackendOptions {
  /** Try XFS project quotas (default true). */
  quotas?: boolean;
  /** Copy passes before giving up on a source that keeps changing (default REFLINK_PASSES). */
  passes?: number;
}

export const REFLINK_PASSES = 3;

export class ReflinkBackend extends CopyBackend {
  override readonly kind: BackendKind = "reflink";
  /** The mount point of the XFS filesystem when project quotas are enforced on it. */
  private readonly quotaMount: string | undefined;
  private readonly passes: number;

  private constructor(
    root: string,
    exec: Exec,
    options: ReflinkBackendOptions,
    quotaMount: string | undefined,
  ) {
    super(root, exec, options);
    this.quotaMount = quotaMount;
    this.passes = Math.max(1, options.passes ?? REFLINK_PASSES);
  }

  /** Opens the backend on `root`, finding out whether project quotas can enforce sizes there. */
  static async open(root: string, exec: Exec, options: ReflinkBackendOptions = {}): Promise<ReflinkBackend> {
    let mount: string | undefined;
    if (options.quotas !== false) {
      const found = await projectQuotaMount(root, exec);
      mount = found.mount;
      if (!mount) {
        backendLog(options.log).info(
          "XFS project quotas are not usable here; volume sizes are recorded only",
          {
            root,
            reason: found.reason,
          },
        );
      }
    }
    return new ReflinkBackend(root, exec, options, mount);
  }

  override get enforcesSize(): boolean {
    return this.quotaMount !== undefined;
  }

  override get usesProjectIds(): boolean {
    return this.quotaMount !== undefined;
  }

  protected override cpDataArgs(): string[] {
    return ["--reflink=always"];
  }

  protected override async copyTree(src: string, dst: string, held = false): Promise<CopyReport> {
    let windowMs = 0;
    for (let pass = 1; pass <= this.passes; pass++) {
      const { quiet, ms } = await this.copyPass(src, dst, held);
      windowMs = ms;
      if (quiet) return { pointInTime: true, windowMs: ms, passes: pass };
      this.log.info("the source changed during a reflink pass; copying again", { src, pass, windowMs: ms });
      await removeTree(dst);
      // Let the timestamp slack pass, and give the writer a moment.
      await sleep(100 * pass);
    }
    throw new BackendError(
      `${src} changed during each of ${this.passes} reflink passes (the last took ${windowMs} ms), so no point-in-time copy could be made; retry when it is written less`,
      src,
      { code: "EAGAIN" },
    );
  }

  /** The project id of a volume: the one recorded for it, else (records of older drivers) the legacy inode-derived one. */
  private async projectId(dir: string, ids: QuotaIds): Promise<number> {
    if (ids.projectId !== undefined) return ids.projectId;
    const { ino } = await stat(dir, { bigint: true });
    return Number(ino % 0x7fff_fffen) + 1;
  }

  private async quota(command: string): Promise<void> {
    await this.exec("xfs_quota", ["-x", "-c", command, this.quotaMount as string]);
  }

  protected override async limit(dir: string, sizeBytes: number, ids: QuotaIds): Promise<void> {
    if (!this.quotaMount) return;
    const id = await this.projectId(dir, ids);
    // -s: set the id on the tree and the inherit flag on its directories.
    await this.quota(`project -s -p ${dir} ${id}`);
    await this.quota(`limit -p bhard=${Math.ceil(sizeBytes / 1024)}k ${id}`);
  }

  protected override async unlimit(dir: string, ids: QuotaIds): Promise<void> {
    // Only an id this driver allocated is cleared: a legacy inode-derived one may be shared.
    if (!this.quotaMount || ids.projectId === undefined || !(await exists(dir))) return;
    await this.quota(`limit -p bhard=0 ${ids.projectId}`);
  }
}

/** The mount point of `root`'s filesystem if it is XFS with project quotas enforced, else why not. */
async function projectQuotaMount(root: string, exec: Exec): Promise<{ mount?: string; reason: string }> {
  let target: string | undefined;
  try {
    const { stdout } = await exec("findmnt", ["-n", "-o", "TARGET,FSTYPE,OPTIONS", "-T", root]);
    const [t, fstype, options] = stdout.trim().split(/\s+/);
    if (!t || fstype !== "xfs") return { reason: `the filesystem is ${fstype ?? "unknown"}, not xfs` };
    if (!/(^|,)(prjquota|pquota)(,|$)/.test(options ?? "")) {
      return { reason: `${t} is not mounted with prjquota` };
    }
    target = t;
    const state = await exec("xfs_quota", ["-x", "-c", "state -p", target]);
    if (/Enforcement:\s*ON/i.test(state.stdout)) return { mount: target, reason: "" };
    return { reason: `project quota enforcement is off on ${target}` };
  } catch (err) {
    return { reason: `probing the quotas of ${target ?? root} failed: ${message(err)}` };
  }
}
