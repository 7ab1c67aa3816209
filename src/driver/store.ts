// The crash-safe metadata store: one JSON file per volume or snapshot under meta/<kind>/.
// A write goes to a temporary file that is fsynced, renamed over the record and followed by an
// fsync of the directory, so after a crash every record is either its old or its new version.
// Records carry a state: `creating` and `deleting` mark an operation in flight; start-up
// reconciliation finishes or undoes them (see engine.ts). Writes of one record go in order (a
// write waits for the one before it), so a write started in the background (putInBackground)
// is never overtaken by a later one. Every record carries the schema
// version it was written with: a record of a newer schema stops the start (a downgraded driver
// must not misread or rewrite it); a record without one (written before versions existed) is
// read as version 1, which has the same fields.
import { mkdir, readdir, readFile, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { ATOMIC_TMP_MARK, fsyncDir, writeFileAtomic } from "../kube/atomic-file.ts";
import type { Logger } from "../kube/log.ts";

export { fsyncDir };

/** The version of the record format this driver writes, and the highest it reads. */
export const SCHEMA_VERSION = 1;

export type RecordState = "creating" | "ready" | "deleting";
export type AccessType = "mount" | "block";

export interface VolumeRecord {
  schemaVersion: number;
  id: string;
  name: string;
  /** Creation order, for stable pagination. */
  seq: number;
  state: RecordState;
  capacityBytes: number;
  accessType: AccessType;
  source?: { kind: "snapshot" | "volume"; id: string } | undefined;
  parameters: Record<string, string>;
  createdAt: string;
  /**
   * The XFS project id allocated to this volume (reflink backend with project quotas): unique
   * among the records of the data directory, released only when the record goes.
   */
  projectId?: number | undefined;
}

export interface SnapshotRecord {
  schemaVersion: number;
  id: string;
  name: string;
  seq: number;
  state: RecordState;
  sourceVolumeId: string;
  /** Capacity of the source volume when the snapshot was taken: the smallest restore size. */
  sizeBytes: number;
  accessType: AccessType;
  parameters: Record<string, string>;
  createdAt: string;
}

interface Keyed {
  schemaVersion: number;
  id: string;
  seq: number;
}

/** A record of a schema this driver does not know: the start stops with this error. */
export class SchemaError extends Error {
  constructor(file: string, version: unknown) {
    super(
      `metadata record ${file} has schema version ${JSON.stringify(version)}, newer than the ${SCHEMA_VERSION} this driver reads: run the driver version that wrote it (or a newer one) on this data directory`,
    );
    this.name = "SchemaError";
  }
}

/** Records of one kind, all in memory, each persisted in its own file. */
export class RecordStore<R extends Keyed> {
  private readonly records = new Map<string, R>();
  /** The last write of each id still running (it never rejects). */
  private readonly writes = new Map<string, Promise<void>>();
  private seq = 0;
  readonly dir: string;
  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Loads every record of `dir`; removes temp files of interrupted writes; sets aside unreadable files. */
  static async open<R extends Keyed>(
    dir: string,
    isValid: (r: unknown) => r is R,
    log: Logger,
  ): Promise<RecordStore<R>> {
    await mkdir(dir, { recursive: true });
    const s = new RecordStore<R>(dir);
    for (const name of await readdir(dir)) {
      const file = path.join(dir, name);
      if (name.startsWith(".") && name.includes(ATOMIC_TMP_MARK)) {
        await unlink(file);
        log.info("removed an interrupted metadata write", { file });
        continue;
      }
      if (!name.endsWith(".json")) continue;
      let rec: unknown;
      let why = "";
      try {
        rec = JSON.parse(await readFile(file, "utf8"));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code) throw err;
        why = (err as Error).message;
        rec = undefined;
      }
      if (rec && typeof rec === "object") {
        const r = rec as Record<string, unknown>;
        r.schemaVersion ??= 1;
        if (typeof r.schemaVersion === "number" && r.schemaVersion > SCHEMA_VERSION) {
          throw new SchemaError(file, r.schemaVersion);
        }
      }
      if (!isValid(rec) || `${rec.id}.json` !== name) {
        const aside = `${file}.unreadable`;
        await rename(file, aside);
        log.error("metadata record is unreadable; set it aside", {
          file,
          movedTo: aside,
          error: why || "not a valid record of this kind",
        });
        continue;
      }
      s.records.set(rec.id, rec);
      s.seq = Math.max(s.seq, rec.seq);
    }
    await fsyncDir(dir);
    return s;
  }

  get(id: string): R | undefined {
    return this.records.get(id);
  }

  /** Every record, oldest first. */
  all(): R[] {
    return [...this.records.values()].sort((a, b) => a.seq - b.seq);
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /**
   * Writes the record durably, then holds it in memory. `syncDir: false` leaves the rename of
   * the record file to be made durable by the caller (a filesystem commit it causes next).
   */
  async put(rec: R, options: { syncDir?: boolean } = {}): Promise<void> {
    const stamped = { ...rec, schemaVersion: SCHEMA_VERSION };
    await this.inOrder(rec.id, () => this.write(stamped, options.syncDir));
    this.records.set(rec.id, structuredClone(stamped));
  }

  /**
   * Holds the record in memory now and writes it in the background (after any earlier write
   * of it); `onError` gets a failed write. For a state whose loss a crash can repair: the
   * caller must make sure that start-up derives the same state from the disk.
   */
  putInBackground(rec: R, onError: (err: unknown) => void): void {
    const stamped = { ...rec, schemaVersion: SCHEMA_VERSION };
    this.records.set(rec.id, structuredClone(stamped));
    this.inOrder(rec.id, () => this.write(stamped, true)).catch(onError);
  }

  async delete(id: string): Promise<void> {
    await this.inOrder(id, async () => {
      try {
        await unlink(path.join(this.dir, `${id}.json`));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      await fsyncDir(this.dir);
    });
    this.records.delete(id);
  }

  /** Resolves when every write started so far has ended (for a clean stop and for tests). */
  async idle(): Promise<void> {
    while (this.writes.size > 0) await Promise.all(this.writes.values());
  }

  private write(stamped: R, syncDir: boolean | undefined): Promise<void> {
    return writeFileAtomic(
      path.join(this.dir, `${stamped.id}.json`),
      `${JSON.stringify(stamped, null, 1)}\n`,
      {
        syncDir,
      },
    );
  }

  /** Runs `fn` after every earlier write of `id` has ended (whatever their outcome). */
  private inOrder(id: string, fn: () => Promise<void>): Promise<void> {
    const before = this.writes.get(id);
    const run = before ? before.then(fn) : fn();
    const settled: Promise<void> = run.then(
      () => undefined,
      () => undefined,
    );
    this.writes.set(id, settled);
    void settled.then(() => {
      if (this.writes.get(id) === settled) this.writes.delete(id);
    });
    return run;
  }
}

const STATES = new Set(["creating", "ready", "deleting"]);
const ACCESS = new Set(["mount", "block"]);

function common(r: Record<string, unknown>): boolean {
  return (
    r.schemaVersion === SCHEMA_VERSION &&
    typeof r.id === "string" &&
    typeof r.name === "string" &&
    typeof r.seq === "number" &&
    STATES.has(r.state as string) &&
    ACCESS.has(r.accessType as string) &&
    typeof r.parameters === "object" &&
    r.parameters !== null &&
    typeof r.createdAt === "string"
  );
}

export function isVolumeRecord(r: unknown): r is VolumeRecord {
  if (!r || typeof r !== "object") return false;
  const v = r as Record<string, unknown>;
  return (
    common(v) &&
    typeof v.capacityBytes === "number" &&
    (v.projectId === undefined || (Number.isInteger(v.projectId) && (v.projectId as number) > 0))
  );
}

export function isSnapshotRecord(r: unknown): r is SnapshotRecord {
  if (!r || typeof r !== "object") return false;
  const v = r as Record<string, unknown>;
  return common(v) && typeof v.sourceVolumeId === "string" && typeof v.sizeBytes === "number";
}
