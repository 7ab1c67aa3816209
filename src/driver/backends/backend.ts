// The storage backend behind the CSI services: a narrow interface over one data directory.
// A volume and a snapshot are each one directory; a block volume is a directory holding one
// sparse file `disk.img`. Backends differ only in how they make copies:
//   btrfs   — a volume is a subvolume; a snapshot is a read-only subvolume snapshot; a clone a
//             writable snapshot (O(1) in the data size)
//   reflink — copy-on-write file clones (FICLONE) on XFS with reflink or btrfs (O(files))
//   copy    — a full streamed copy (ext4 and anything else)
// Every method is given absolute paths the caller has already checked to lie inside the data
// directory. A method that fails must leave nothing at `dst` (the caller also builds into a
// temporary name and renames, so a crash leaves only a recognisable leftover).

import type { Logger } from "../../kube/log.ts";

export type BackendKind = "btrfs" | "reflink" | "copy";

/** How a snapshot or clone relates to the source at one instant. */
export interface CopyReport {
  /** The copy equals the source as it was at one instant (btrfs always; reflink after a quiet pass). */
  pointInTime: boolean;
  /** How long the source had to stay unchanged for the copy to be point-in-time, in ms. */
  windowMs: number;
  /** Copy passes made (the reflink backend retries a pass during which the source changed). */
  passes: number;
}

/**
 * Per-volume quota settings the engine allocates and records (in the volume's record) before a
 * backend applies them, so they survive a crash and are released only with the volume's data.
 */
export interface QuotaIds {
  /** The XFS project id of the volume's tree (reflink backend with project quotas). */
  projectId?: number | undefined;
}

export interface Usage {
  bytes: number;
  inodes: number;
}

export interface Capacity {
  totalBytes: number;
  availableBytes: number;
  totalInodes: number;
  availableInodes: number;
}

export interface Backend {
  readonly kind: BackendKind;
  /** The data directory this backend serves. */
  readonly root: string;
  /** Whether volumes need a project id allocated by the engine (see QuotaIds). */
  readonly usesProjectIds: boolean;
  /**
   * btrfs: a snapshot appears at `dst` complete, in a filesystem transaction that is committed
   * before snapshot() returns, and every build ends in such a commit, which makes everything
   * written before it durable too (see engine.ts). Others: false.
   */
  readonly commitsBuilds: boolean;
  /** Makes an empty, writable volume directory at `dst`, limited to `sizeBytes` where the filesystem can. */
  createVolume(dst: string, sizeBytes: number, ids?: QuotaIds): Promise<void>;
  /**
   * Makes a read-only copy of the volume at `src` into `dst` (point-in-time as far as the
   * backend can: see CopyReport). `held`: the volume's writers are held while it runs (a group
   * cut, freeze.ts), so nothing changes it and a copy needs no check that it held still.
   */
  snapshot(src: string, dst: string, opts?: { held?: boolean }): Promise<CopyReport>;
  /** Makes a writable copy of a volume or snapshot `src` at `dst`, limited to `sizeBytes`. */
  clone(src: string, dst: string, sizeBytes: number, ids?: QuotaIds): Promise<CopyReport>;
  /** Removes a volume or snapshot directory (whatever its kind), releasing its quota; absent is fine. */
  remove(path: string, ids?: QuotaIds): Promise<void>;
  /** Raises the size limit of a volume where the filesystem enforces one. */
  resize(path: string, sizeBytes: number, ids?: QuotaIds): Promise<void>;
  /**
   * Moves a volume or snapshot directory to another directory of the same filesystem (to set
   * it aside); works for read-only btrfs snapshots too.
   */
  relocate(from: string, to: string): Promise<void>;
  /** Space and inodes used by one volume or snapshot directory. */
  usage(path: string): Promise<Usage>;
  /** Space and inodes of the whole data directory's filesystem. */
  capacity(): Promise<Capacity>;
  /** Whether the size limit is enforced by the filesystem (true) or only recorded (false). */
  readonly enforcesSize: boolean;
}

/** What every backend is opened with. */
export interface CommonBackendOptions {
  /** Where a backend logs what it works around (a quota it cannot use, a fallback). */
  log?: Logger;
}

/** Every shell command goes through one injectable function (tests replace or wrap it). */
export type Exec = (
  cmd: string,
  args: string[],
  opts?: { input?: string; timeoutMs?: number },
) => Promise<{
  stdout: string;
  stderr: string;
}>;
