// The data operations behind the controller, each crash-safe by the same protocol:
//   create:  record `creating` → build under .tmp.<id>.<nonce> → flush → rename into place →
//            record `ready` (the commit point: the answer is sent only after it)
//   delete:  record `deleting` → rename the data to .trash.<id>.<nonce> → delete the record
//            (commit) → remove the trash
// A SIGKILL at any point leaves a `creating` record (undone on start: no trace), a `deleting`
// record (finished on start), or a complete result. On start `reconcile` also removes every
// .tmp.* and .trash.* entry, detaches loop devices no mount uses, and moves data that has no record into orphans/
// (never deleting it). The caller holds the per-id locks.
import { lstat, mkdir, open, readdir, realpath, rename, stat } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../kube/log.ts";
import type { Backend } from "./backends/backend.ts";
import { identityIn, type Mounter, mountsOf, readMounts } from "./mounts.ts";
import { BLOCK_FILE, isSnapshotId, isVolumeId, Layout, TMP_PREFIX, TRASH_PREFIX } from "./names.ts";
import {
  fsyncDir,
  isSnapshotRecord,
  isVolumeRecord,
  RecordStore,
  type SnapshotRecord,
  type VolumeRecord,
} from "./store.ts";

export interface EngineOptions {
  backend: Backend;
  log: Logger;
  mounter: Mounter;
  /** Flush the filesystem (syncfs) before each commit, so a power loss cannot lose committed data. */
  syncData?: boolean;
}

/** What a caller gives to create a volume or a snapshot (the engine adds seq, state and time). */
export type NewVolume = Omit<VolumeRecord, "seq" | "state" | "createdAt">;
export type NewSnapshot = Omit<SnapshotRecord, "seq" | "state" | "createdAt">;

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if (isMissing(err)) return false;
    throw err;
  }
}

export class Engine {
  readonly layout: Layout;
  readonly backend: Backend;
  readonly volumes: RecordStore<VolumeRecord>;
  readonly snapshots: RecordStore<SnapshotRecord>;
  private readonly o: EngineOptions;

  private constructor(
    o: EngineOptions,
    layout: Layout,
    volumes: RecordStore<VolumeRecord>,
    snapshots: RecordStore<SnapshotRecord>,
  ) {
    this.o = o;
    this.backend = o.backend;
    this.layout = layout;
    this.volumes = volumes;
    this.snapshots = snapshots;
  }

  /** Opens the data directory of `backend`, creating its layout, and reconciles it. */
  static async open(o: EngineOptions): Promise<Engine> {
    const layout = new Layout(o.backend.root);
    for (const d of [layout.volumes, layout.snapshots, layout.meta]) {
      await mkdir(d, { recursive: true });
    }
    const volumes = await RecordStore.open(path.join(layout.meta, "volumes"), isVolumeRecord, o.log);
    const snapshots = await RecordStore.open(path.join(layout.meta, "snapshots"), isSnapshotRecord, o.log);
    const e = new Engine(o, layout, volumes, snapshots);
    await e.reconcile();
    return e;
  }

  volumePath(id: string): string {
    return this.layout.volume(id);
  }
  snapshotPath(id: string): string {
    return this.layout.snapshot(id);
  }
  blockFile(id: string): string {
    return path.join(this.layout.volume(id), BLOCK_FILE);
  }

  /**
   * Makes a finished build durable before it is committed, touching only its own files (a
   * syncfs would also wait for every other volume's dirty data). btrfs needs nothing: making a
   * subvolume or a snapshot commits a transaction.
   */
  private async flush(p: string): Promise<void> {
    if (this.o.syncData === false || this.backend.kind === "btrfs") return;
    await fsyncTree(p);
  }

  /** Renames `from` to `to` and makes the rename durable. */
  private async move(from: string, to: string): Promise<void> {
    await rename(from, to);
    await fsyncDir(path.dirname(from));
    if (path.dirname(from) !== path.dirname(to)) await fsyncDir(path.dirname(to));
  }

  /** Moves data at `p` (if any) to the trash and removes it. */
  private async discardData(id: string, p: string): Promise<void> {
    const t = this.layout.trashFor(id);
    try {
      await this.move(p, t);
    } catch (err) {
      if (isMissing(err)) return;
      throw err;
    }
    await this.removeTrash(t);
  }

  private async removeTrash(t: string): Promise<void> {
    try {
      await this.backend.remove(t);
    } catch (err) {
      // Already unreachable; the next start retries.
      this.o.log.warn("could not remove deleted data; it is retried on the next start", {
        path: t,
        error: (err as Error).message,
      });
    }
  }

  /** The create protocol: `creating` record, build under a temporary name, rename, `ready` record. */
  private async create<R extends VolumeRecord | SnapshotRecord>(
    store: RecordStore<R>,
    fields: Omit<R, "seq" | "state" | "createdAt">,
    finalPath: string,
    make: (tmp: string) => Promise<void>,
  ): Promise<R> {
    const rec = {
      ...fields,
      seq: store.nextSeq(),
      state: "creating",
      createdAt: new Date().toISOString(),
    } as R;
    await store.put(rec);
    const tmp = this.layout.tmpFor(rec.id);
    try {
      await make(tmp);
      await this.flush(tmp);
      await this.move(tmp, finalPath);
    } catch (err) {
      await this.backend.remove(tmp).catch(() => undefined);
      await store.delete(rec.id).catch(() => undefined);
      throw err;
    }
    rec.state = "ready";
    await store.put(rec);
    return rec;
  }

  /** The delete protocol: `deleting` record, rename aside, delete the record, remove the data. */
  private async remove<R extends VolumeRecord | SnapshotRecord>(
    store: RecordStore<R>,
    id: string,
    p: string,
  ): Promise<void> {
    const rec = store.get(id);
    if (!rec) return;
    if (rec.state !== "deleting") await store.put({ ...rec, state: "deleting" });
    await this.discardData(id, p);
    await store.delete(id);
  }

  createVolume(v: NewVolume): Promise<VolumeRecord> {
    return this.create(this.volumes, v, this.layout.volume(v.id), async (tmp) => {
      if (!v.source) {
        await this.backend.createVolume(tmp, v.capacityBytes);
        if (v.accessType === "block") await sizeFile(path.join(tmp, BLOCK_FILE), v.capacityBytes, true);
        return;
      }
      const src =
        v.source.kind === "snapshot" ? this.layout.snapshot(v.source.id) : this.layout.volume(v.source.id);
      await this.backend.clone(src, tmp, v.capacityBytes);
      if (v.accessType === "block") await sizeFile(path.join(tmp, BLOCK_FILE), v.capacityBytes, false);
    });
  }

  deleteVolume(id: string): Promise<void> {
    return this.remove(this.volumes, id, this.layout.volume(id));
  }

  createSnapshot(s: NewSnapshot): Promise<SnapshotRecord> {
    return this.create(this.snapshots, s, this.layout.snapshot(s.id), (tmp) =>
      this.backend.snapshot(this.layout.volume(s.sourceVolumeId), tmp),
    );
  }

  deleteSnapshot(id: string): Promise<void> {
    return this.remove(this.snapshots, id, this.layout.snapshot(id));
  }

  /** Grows a volume to `sizeBytes`: the filesystem limit first, then the block file, then the record. */
  async expandVolume(id: string, sizeBytes: number): Promise<VolumeRecord> {
    const rec = this.volumes.get(id);
    if (!rec) throw new Error(`volume ${id} has no record`);
    const dir = this.layout.volume(id);
    await this.backend.resize(dir, sizeBytes);
    if (rec.accessType === "block") {
      const file = path.join(dir, BLOCK_FILE);
      await sizeFile(file, sizeBytes, false);
      for (const loop of await this.o.mounter.loopsOf(await realpath(file))) {
        await this.o.mounter.refreshLoop(loop.name);
      }
    }
    const next = { ...rec, capacityBytes: sizeBytes };
    await this.volumes.put(next);
    return next;
  }

  /**
   * Undoes a `creating` record left by a failure (data and record go), finishes a `deleting` one.
   * Returns whether the record is gone. Used at start and by a retry that finds such a record.
   */
  async settle(kind: "volume" | "snapshot", id: string): Promise<boolean> {
    const store = (kind === "volume" ? this.volumes : this.snapshots) as RecordStore<
      VolumeRecord | SnapshotRecord
    >;
    const rec = store.get(id);
    if (!rec || rec.state === "ready") return !rec;
    const p = kind === "volume" ? this.layout.volume(id) : this.layout.snapshot(id);
    this.o.log.info(
      rec.state === "creating" ? "undoing an interrupted create" : "finishing an interrupted delete",
      {
        kind,
        id,
        name: rec.name,
      },
    );
    await this.remove(store, id, p);
    return true;
  }

  /** Start-up reconciliation of the store with the disk. */
  async reconcile(): Promise<void> {
    const log = this.o.log;
    // 1. Half-made builds and half-removed data: never referenced by a record.
    for (const dir of [this.layout.volumes, this.layout.snapshots]) {
      for (const name of await readdir(dir)) {
        if (!name.startsWith(TMP_PREFIX) && !name.startsWith(TRASH_PREFIX)) continue;
        const p = path.join(dir, name);
        await this.backend.remove(p);
        log.info("removed a leftover of an interrupted operation", { path: p });
      }
      await fsyncDir(dir);
    }
    // 2. Records of interrupted operations.
    for (const r of this.volumes.all()) await this.settle("volume", r.id);
    for (const r of this.snapshots.all()) await this.settle("snapshot", r.id);
    // 3. Data without a record is set aside, never deleted; records without data are reported.
    for (const [kind, dir, store, valid] of [
      ["volume", this.layout.volumes, this.volumes, isVolumeId],
      ["snapshot", this.layout.snapshots, this.snapshots, isSnapshotId],
    ] as const) {
      for (const name of await readdir(dir)) {
        if (valid(name) && store.get(name)) continue;
        await mkdir(this.layout.orphans, { recursive: true });
        const to = path.join(this.layout.orphans, `${kind}-${name}-${Date.now()}`);
        await this.move(path.join(dir, name), to);
        log.warn("data without a record was moved aside (not deleted)", { kind, name, movedTo: to });
      }
      for (const r of store.all()) {
        const p = kind === "volume" ? this.layout.volume(r.id) : this.layout.snapshot(r.id);
        if (!(await exists(p))) log.error("record without data", { kind, id: r.id, name: r.name, path: p });
      }
    }
    // 4. Loop devices of block volumes that no mount uses any more (a publish cut short).
    const mounts = await readMounts();
    for (const r of this.volumes.all()) {
      if (r.accessType !== "block") continue;
      const file = path.join(this.layout.volume(r.id), BLOCK_FILE);
      if (!(await exists(file))) continue;
      for (const loop of await this.o.mounter.loopsOf(await realpath(file))) {
        const id = identityIn(mounts, loop.name);
        if (id && mountsOf(mounts, id).length > 0) continue;
        await this.o.mounter.detachLoop(loop.name);
        log.info("detached an unused loop device", { volumeId: r.id, device: loop.name });
      }
    }
    log.info("reconciled the data directory", {
      root: this.layout.root,
      volumes: this.volumes.all().length,
      snapshots: this.snapshots.all().length,
    });
  }
}

/** fsyncs every file and directory under `p` (directories after their contents). */
async function fsyncTree(p: string): Promise<void> {
  const st = await lstat(p);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    for (const e of await readdir(p, { withFileTypes: true })) {
      if (e.isDirectory() || e.isFile()) await fsyncTree(path.join(p, e.name));
    }
  } else if (!st.isFile()) {
    return;
  }
  const fh = await open(p, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Sets a block file's size: creates it (sparse) when `create`, else only grows it. */
async function sizeFile(file: string, sizeBytes: number, create: boolean): Promise<void> {
  const fh = await open(file, create ? "wx" : "r+", 0o600);
  try {
    const { size } = await fh.stat();
    if (size < sizeBytes) await fh.truncate(sizeBytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
