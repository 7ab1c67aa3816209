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

export type BackendKind = "btrfs" | "reflink" | "copy";

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
  /** Makes an empty, writable volume directory at `dst`, limited to `sizeBytes` where the filesystem can. */
  createVolume(dst: string, sizeBytes: number): Promise<void>;
  /** Makes a read-only point-in-time copy of the volume at `src` into `dst`. */
  snapshot(src: string, dst: string): Promise<void>;
  /** Makes a writable copy of a volume or snapshot `src` at `dst`, limited to `sizeBytes`. */
  clone(src: string, dst: string, sizeBytes: number): Promise<void>;
  /** Removes a volume or snapshot directory (whatever its kind); absent is fine. */
  remove(path: string): Promise<void>;
  /** Raises the size limit of a volume where the filesystem enforces one. */
  resize(path: string, sizeBytes: number): Promise<void>;
  /** Space and inodes used by one volume or snapshot directory. */
  usage(path: string): Promise<Usage>;
  /** Space and inodes of the whole data directory's filesystem. */
  capacity(): Promise<Capacity>;
  /** Whether the size limit is enforced by the filesystem (true) or only recorded (false). */
  readonly enforcesSize: boolean;
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
