// The reflink backend (XFS with reflink=1, or btrfs where subvolumes are not allowed): a
// snapshot or clone is the tree copied with copy-on-write file clones (`cp -a
// --reflink=always`, i.e. FICLONE per file): O(files), not O(bytes); a block volume's disk.img
// is one clone, however big. Everything else is the copy backend's.
//
// Size: on XFS mounted with `prjquota` (and a kernel with CONFIG_XFS_QUOTA) each volume gets its
// own project id, derived from its directory's inode number, and a hard block limit. Anywhere
// else the size is recorded only (enforcesSize = false).
import { stat } from "node:fs/promises";
import type { BackendKind, Exec } from "./backend.ts";
import { exists } from "./common.ts";
import { CopyBackend, type CopyBackendOptions } from "./copy.ts";

export interface ReflinkBackendOptions extends CopyBackendOptions {
  /** Try XFS project quotas (default true). */
  quotas?: boolean;
}

export class ReflinkBackend extends CopyBackend {
  override readonly kind: BackendKind = "reflink";
  /** The mount point of the XFS filesystem when project quotas are enforced on it. */
  private readonly quotaMount: string | undefined;

  private constructor(root: string, exec: Exec, options: CopyBackendOptions, quotaMount: string | undefined) {
    super(root, exec, options);
    this.quotaMount = quotaMount;
  }

  /** Opens the backend on `root`, finding out whether project quotas can enforce sizes there. */
  static async open(root: string, exec: Exec, options: ReflinkBackendOptions = {}): Promise<ReflinkBackend> {
    const mount = options.quotas === false ? undefined : await projectQuotaMount(root, exec);
    return new ReflinkBackend(root, exec, options, mount);
  }

  override get enforcesSize(): boolean {
    return this.quotaMount !== undefined;
  }

  protected override cpDataArgs(): string[] {
    return ["--reflink=always"];
  }

  private async projectId(dir: string): Promise<number> {
    // Unique among the directories that exist at the same time on this filesystem
    // (XFS inode numbers of small and medium filesystems fit in 31 bits).
    const { ino } = await stat(dir, { bigint: true });
    return Number(ino % 0x7fff_fffen) + 1;
  }

  private async quota(command: string): Promise<void> {
    await this.exec("xfs_quota", ["-x", "-c", command, this.quotaMount as string]);
  }

  protected override async limit(dir: string, sizeBytes: number): Promise<void> {
    if (!this.quotaMount) return;
    const id = await this.projectId(dir);
    // -s: set the id on the tree and the inherit flag on its directories.
    await this.quota(`project -s -p ${dir} ${id}`);
    await this.quota(`limit -p bhard=${Math.ceil(sizeBytes / 1024)}k ${id}`);
  }

  protected override async unlimit(dir: string): Promise<void> {
    if (!this.quotaMount || !(await exists(dir))) return;
    await this.quota(`limit -p bhard=0 ${await this.projectId(dir)}`).catch(() => undefined);
  }
}

/** The mount point of `root`'s filesystem if it is XFS with project quotas enforced, else undefined. */
async function projectQuotaMount(root: string, exec: Exec): Promise<string | undefined> {
  try {
    const { stdout } = await exec("findmnt", ["-n", "-o", "TARGET,FSTYPE,OPTIONS", "-T", root]);
    const [target, fstype, options] = stdout.trim().split(/\s+/);
    if (!target || fstype !== "xfs" || !/(^|,)(prjquota|pquota)(,|$)/.test(options ?? "")) {
      return undefined;
    }
    const state = await exec("xfs_quota", ["-x", "-c", "state -p", target]);
    return /Enforcement:\s*ON/i.test(state.stdout) ? target : undefined;
  } catch {
    return undefined;
  }
}
