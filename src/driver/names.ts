// Names and ids that arrive in requests never become paths. A name (chosen by the CO) is checked
// and then hashed into an id; an id from a request is checked for shape and then only looked up
// in the store. Paths are built only from ids the driver made (`vol-` or `snap-` + 32 hex).
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { invalid } from "./errors.ts";

/** The CSI spec's size limit for string fields, in bytes. */
export const MAX_NAME_BYTES = 128;

const VOLUME_ID = /^vol-[0-9a-f]{32}$/;
const SNAPSHOT_ID = /^snap-[0-9a-f]{32}$/;
// The shape any id may have (ours or a stranger's): letters, digits, `_`, `-`, `.`, no `..`.
const ANY_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Checks a name from a request (volume or snapshot name); returns it. */
export function checkName(field: string, name: unknown): string {
  if (typeof name !== "string" || name === "") throw invalid(`${field} is required`);
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) {
    throw invalid(
      `${field} is ${Buffer.byteLength(name, "utf8")} bytes long; the limit is ${MAX_NAME_BYTES}`,
    );
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalid(`${field} contains a NUL or control character`);
  if (name.includes("/") || name.includes("\\"))
    throw invalid(`${field} ${JSON.stringify(name)} contains a slash`);
  if (name === "." || name === "..") throw invalid(`${field} ${JSON.stringify(name)} is not a valid name`);
  return name;
}

/** Checks an id from a request (any driver's shape); returns it. Unknown but well-formed ids pass. */
export function checkId(field: string, id: unknown): string {
  if (typeof id !== "string" || id === "") throw invalid(`${field} is required`);
  if (id.length > MAX_NAME_BYTES)
    throw invalid(`${field} is ${id.length} bytes long; the limit is ${MAX_NAME_BYTES}`);
  if (!ANY_ID.test(id) || id.includes("..")) {
    throw invalid(`${field} ${JSON.stringify(id)} is not a valid id (letters, digits, "_", "-", "." only)`);
  }
  return id;
}

function digest(kind: string, name: string): string {
  return createHash("sha256").update(`${kind}\0${name}`).digest("hex").slice(0, 32);
}

export const volumeIdFor = (name: string): string => `vol-${digest("volume", name)}`;
export const snapshotIdFor = (name: string): string => `snap-${digest("snapshot", name)}`;
export const isVolumeId = (id: string): boolean => VOLUME_ID.test(id);
export const isSnapshotId = (id: string): boolean => SNAPSHOT_ID.test(id);

/** Prefixes of in-progress entries inside volumes/ and snapshots/ (emptied on start). */
export const TMP_PREFIX = ".tmp.";
export const TRASH_PREFIX = ".trash.";

/**
 * Where everything lives inside the data directory. A build happens under a temporary name in
 * the same directory as its final name, and a removal starts by renaming there too: a rename
 * within one directory is atomic and is allowed even for a read-only btrfs snapshot (moving one
 * to another directory is not: it would rewrite the snapshot's "..").
 */
export class Layout {
  readonly root: string;
  readonly volumes: string;
  readonly snapshots: string;
  /** Data found without a record: moved here on start, never deleted by the driver. */
  readonly orphans: string;
  readonly meta: string;
  constructor(root: string) {
    this.root = root;
    this.volumes = path.join(root, "volumes");
    this.snapshots = path.join(root, "snapshots");
    this.orphans = path.join(root, "orphans");
    this.meta = path.join(root, "meta");
  }
  volume(id: string): string {
    if (!isVolumeId(id)) throw new Error(`refusing to build a path from volume id ${JSON.stringify(id)}`);
    return path.join(this.volumes, id);
  }
  snapshot(id: string): string {
    if (!isSnapshotId(id)) throw new Error(`refusing to build a path from snapshot id ${JSON.stringify(id)}`);
    return path.join(this.snapshots, id);
  }
  private parentOf(id: string): string {
    if (isVolumeId(id)) return this.volumes;
    if (isSnapshotId(id)) return this.snapshots;
    throw new Error(`refusing to build a path from id ${JSON.stringify(id)}`);
  }
  /** A fresh temporary name for building `id`. */
  tmpFor(id: string): string {
    return path.join(this.parentOf(id), `${TMP_PREFIX}${id}.${randomBytes(4).toString("hex")}`);
  }
  /** A fresh name to move `id`'s data to before removing it. */
  trashFor(id: string): string {
    return path.join(this.parentOf(id), `${TRASH_PREFIX}${id}.${randomBytes(4).toString("hex")}`);
  }
}

/** The file of a block volume inside its directory. */
export const BLOCK_FILE = "disk.img";
