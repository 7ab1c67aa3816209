// The crash-safe metadata store: one JSON file per volume or snapshot under meta/<kind>/.
// A write goes to a temporary file that is fsynced, renamed over the record and followed by an
// fsync of the directory, so after a crash every record is either its old or its new version.
// Records carry a state: `creating` and `deleting` mark an operation in flight; start-up
// reconciliation finishes or undoes them (see engine.ts).
import { mkdir, readdir, readFile, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { atomicWrite, fsyncDir, TMP_MARK } from "../kube/durable.ts";
import type { Logger } from "../kube/log.ts";

export type RecordState = "creating" | "ready" | "deleting";
export type AccessType = "mount" | "block";

export interface VolumeRecord {
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
}

export interface SnapshotRecord {
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
  id: string;
  seq: number;
}

// One durable write for the whole project (src/kube/durable.ts); engine.ts imports these from here.
export { atomicWrite, fsyncDir };

/** Records of one kind, all in memory, each persisted in its own file. */
export class RecordStore<R extends Keyed> {
  private readonly records = new Map<string, R>();
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
      if (name.startsWith(".") && name.includes(TMP_MARK)) {
        await unlink(file);
        log.info("removed an interrupted metadata write", { file });
        continue;
      }
      if (!name.endsWith(".json")) continue;
      let rec: unknown;
      try {
        rec = JSON.parse(await readFile(file, "utf8"));
      } catch {
        rec = undefined;
      }
      if (!isValid(rec) || `${rec.id}.json` !== name) {
        const aside = `${file}.unreadable`;
        await rename(file, aside);
        log.error("metadata record is unreadable; set it aside", { file, movedTo: aside });
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

  async put(rec: R): Promise<void> {
    await atomicWrite(path.join(this.dir, `${rec.id}.json`), `${JSON.stringify(rec, null, 1)}\n`);
    this.records.set(rec.id, structuredClone(rec));
  }

  async delete(id: string): Promise<void> {
    try {
      await unlink(path.join(this.dir, `${id}.json`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    await fsyncDir(this.dir);
    this.records.delete(id);
  }
}

const STATES = new Set(["creating", "ready", "deleting"]);
const ACCESS = new Set(["mount", "block"]);

function common(r: Record<string, unknown>): boolean {
  return (
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
  return common(v) && typeof v.capacityBytes === "number";
}

export function isSnapshotRecord(r: unknown): r is SnapshotRecord {
  if (!r || typeof r !== "object") return false;
  const v = r as Record<string, unknown>;
  return common(v) && typeof v.sourceVolumeId === "string" && typeof v.sizeBytes === "number";
}
