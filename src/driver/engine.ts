// The data operations behind the controller, each crash-safe by the same protocol:
//   create:  check that the final path is free → record `creating` (with any quota id allocated
//            for it) → build under .tmp.<id>.<nonce> → flush → rename into place and make the
//            rename durable (the commit point: the data is complete and durable at its final
//            path) → answer, with the `ready` record written in the background. On btrfs a
//            snapshot is built at its final path at once (it appears there complete, in one
//            transaction commit), and the `creating` record needs no directory fsync: every
//            btrfs build ends in a transaction commit (a snapshot commits one; so does the fsync
//            of a directory a subvolume was renamed into), which makes the record durable with it.
//   delete:  record `deleting` (the commit point) → rename the data to .trash.<id>.<nonce>
//            (which frees the name for a new create; a crash that loses the rename leaves the
//            data at its path, which the removal then takes) → answer; then, in the background,
//            remove the trash (and any .tmp.<id>.*), make the removal durable → delete the
//            record. The answer takes the same short time whatever the size of the data; the
//            record (and the quota id in it) goes only when the data is gone.
// A SIGKILL at any point leaves a `creating` record without data at the final path (undone on
// start like a delete: no trace), a `creating` record with its data in place (a finished build
// whose `ready` record was not written yet: start-up writes it), a `deleting` record (its
// removal is finished on start, in the background), or a complete result. Because the final
// path is checked free before the `creating` record is written, data there under a `creating`
// record can only be the build's own. On start `reconcile` also removes .tmp.* and .trash.* entries no record owns (in the
// background), detaches loop devices no mount uses, and moves data that has no record into
// orphans/ (never deleting it). Start-up never gives up on one thing it cannot repair: it logs
// it, leaves it where it is (retried on the next start) and serves.
// The data directory records the backend it was set up with (meta/backend.json, written on
// the first start); a start that detects another backend is refused (see checkBackend).
// The caller holds the per-id locks.
import { lstat, mkdir, open, readdir, readFile, realpath, rename, stat } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../kube/atomic-file.ts";
import type { Logger } from "../kube/log.ts";
import type { Backend, BackendKind, CopyReport, QuotaIds } from "./backends/backend.ts";
import { aborted } from "./errors.ts";
import { identityIn, type Mounter, mountsOf, readMounts } from "./mounts.ts";
import { BLOCK_FILE, isSnapshotId, isVolumeId, Layout, TMP_PREFIX, TRASH_PREFIX } from "./names.ts";
import {
  fsyncDir,
  isSnapshotRecord,
  isVolumeRecord,
  RecordStore,
  SCHEMA_VERSION,
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

type Generated = "schemaVersion" | "seq" | "state" | "createdAt";
/** What a caller gives to create a volume or a snapshot (the engine adds the rest). */
export type NewVolume = Omit<VolumeRecord, Generated | "projectId">;
export type NewSnapshot = Omit<SnapshotRecord, Generated>;
type Kind = "volume" | "snapshot";
type AnyRecord = VolumeRecord | SnapshotRecord;

/** The file in meta/ that records which backend the data directory was set up with. */
export const BACKEND_FILE = "backend.json";

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
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

/** The smallest id ≥ 1 not in `used` (quota ids are reused only once released). Pure. */
export function lowestFreeId(used: Iterable<number>): number {
  const taken = new Set(used);
  let id = 1;
  while (taken.has(id)) id++;
  return id;
}

const PROBES: Record<BackendKind, string> = {
  btrfs: "creating and deleting a test subvolume",
  reflink: "a test reflink copy (FICLONE)",
  copy: "nothing (copy is the fallback)",
};

/**
 * Records the backend on the first start; on every later one, refuses a backend other than the
 * recorded one (a transient probe failure must not switch a btrfs data directory to reflink).
 */
export async function checkBackend(layout: Layout, kind: BackendKind, log: Logger): Promise<void> {
  const file = path.join(layout.meta, BACKEND_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (!isMissing(err)) throw err;
    await writeFileAtomic(
      file,
      `${JSON.stringify({ schemaVersion: SCHEMA_VERSION, backend: kind, recordedAt: new Date().toISOString() })}\n`,
    );
    log.info("recorded the backend of the data directory", { root: layout.root, backend: kind, file });
    return;
  }
  let recorded: { schemaVersion?: unknown; backend?: unknown };
  try {
    recorded = JSON.parse(text) as typeof recorded;
  } catch (err) {
    throw new Error(
      `${file} (the backend record of data directory ${layout.root}) is not valid JSON (${errorText(err)}): restore it, or remove it to record the detected backend (${kind}) again`,
    );
  }
  if (typeof recorded.schemaVersion === "number" && recorded.schemaVersion > SCHEMA_VERSION) {
    throw new Error(
      `${file} has schema version ${recorded.schemaVersion}, newer than the ${SCHEMA_VERSION} this driver reads: run the driver version that wrote it (or a newer one) on data directory ${layout.root}`,
    );
  }
  const was = recorded.backend;
  if (was === kind) return;
  if (was !== "btrfs" && was !== "reflink" && was !== "copy") {
    throw new Error(
      `${file} names no known backend (${JSON.stringify(was)}): restore it, or remove it to record the detected backend (${kind}) again`,
    );
  }
  throw new Error(
    `data directory ${layout.root} was set up with the ${was} backend but the ${kind} backend was detected now: find out why ${PROBES[was]} fails in ${layout.root} and restart the driver (to really switch backends, move the volumes out and remove ${file})`,
  );
}

export class Engine {
  readonly layout: Layout;
  readonly backend: Backend;
  readonly volumes: RecordStore<VolumeRecord>;
  readonly snapshots: RecordStore<SnapshotRecord>;
  readonly log: Logger;
  private readonly o: EngineOptions;
  /** Removals running in the background, by id (or "leftovers" for entries no record owns). */
  private readonly jobs = new Map<string, Promise<void>>();
  /** Project ids handed out whose `creating` record is not written yet. */
  private readonly reservedIds = new Set<number>();

  private constructor(
    o: EngineOptions,
    layout: Layout,
    volumes: RecordStore<VolumeRecord>,
    snapshots: RecordStore<SnapshotRecord>,
  ) {
    this.o = o;
    this.log = o.log;
    this.backend = o.backend;
    this.layout = layout;
    this.volumes = volumes;
    this.snapshots = snapshots;
  }

  /** Opens the data directory of `backend`, creating its layout, checks its backend and reconciles it. */
  static async open(o: EngineOptions): Promise<Engine> {
    const layout = new Layout(o.backend.root);
    for (const d of [layout.volumes, layout.snapshots, layout.meta]) {
      await mkdir(d, { recursive: true });
    }
    await checkBackend(layout, o.backend.kind, o.log);
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

  private storeOf(kind: Kind): RecordStore<AnyRecord> {
    return (kind === "volume" ? this.volumes : this.snapshots) as RecordStore<AnyRecord>;
  }
  private pathOf(kind: Kind, id: string): string {
    return kind === "volume" ? this.layout.volume(id) : this.layout.snapshot(id);
  }

  /** Waits until every background removal and record write has ended (for a clean stop and for tests). */
  async drain(): Promise<void> {
    while (this.jobs.size > 0) await Promise.all(this.jobs.values());
    await this.recordsWritten();
  }

  /** Waits until every record write started so far (those of the background included) has ended. */
  async recordsWritten(): Promise<void> {
    await Promise.all([this.volumes.idle(), this.snapshots.idle()]);
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

  /** Hands out a project id no record holds (the caller writes it into a record, then calls the release). */
  private reserveProjectId(): { id: number | undefined; release: () => void } {
    if (!this.backend.usesProjectIds) return { id: undefined, release: () => undefined };
    const used = [...this.reservedIds];
    for (const r of this.volumes.all()) if (r.projectId !== undefined) used.push(r.projectId);
    const id = lowestFreeId(used);
    this.reservedIds.add(id);
    return { id, release: () => this.reservedIds.delete(id) };
  }

  /** Throws unless the final path of a new record is free (what is found there later is then its build's own). */
  private async checkFree(kind: Kind, id: string): Promise<void> {
    const final = this.pathOf(kind, id);
    if (await exists(final)) {
      throw new Error(
        `${kind} ${id} has no record but there is data at ${final}: restart the driver, which sets it aside into ${this.layout.orphans}, then retry`,
      );
    }
  }

  /**
   * The create protocol (see the top of this file): free final path, `creating` record, build
   * (under a temporary name, or in place for a btrfs snapshot), rename, answer; the `ready`
   * record is written in the background.
   */
  private async create<R extends AnyRecord>(
    kind: Kind,
    rec: R,
    make: (dst: string) => Promise<CopyReport | undefined>,
  ): Promise<R> {
    const store = this.storeOf(kind) as unknown as RecordStore<R>;
    const final = this.pathOf(kind, rec.id);
    await this.checkFree(kind, rec.id);
    const committed = this.backend.commitsBuilds;
    const t0 = performance.now();
    await store.put(rec, { syncDir: !committed });
    const inPlace = committed && kind === "snapshot";
    const dst = inPlace ? final : this.layout.tmpFor(rec.id);
    try {
      const t1 = performance.now();
      const report = await make(dst);
      const t2 = performance.now();
      if (!inPlace) {
        await this.flush(dst);
        await rename(dst, final);
        await fsyncDirs(dst, final);
      }
      // Where the time of a create goes (the driver benchmark reads these lines).
      this.log.debug("created", {
        kind,
        id: rec.id,
        recordMs: tenths(t1 - t0),
        buildMs: tenths(t2 - t1),
        placeMs: tenths(performance.now() - t2),
      });
      if (report) this.logCopy(kind, rec.id, report);
    } catch (err) {
      // Undone like a delete: the record says `deleting`, the half-made data goes in the
      // background (whatever is at the final path is this build's: it was free before).
      await this.remove(kind, rec.id).catch((undoErr: unknown) =>
        this.log.error("undoing a failed create failed; the next start finishes it", {
          kind,
          id: rec.id,
          error: errorText(undoErr),
          cause: errorText(err),
        }),
      );
      throw err;
    }
    // Committed: a crash from here on leaves the data in place, and start-up records it ready.
    const ready = { ...rec, state: "ready" as const };
    store.putInBackground(ready, (err) =>
      this.log.error(`writing the ready record of a ${kind} failed; the next start writes it`, {
        kind,
        id: rec.id,
        error: errorText(err),
      }),
    );
    return ready;
  }

  private logCopy(kind: Kind, id: string, r: CopyReport): void {
    const fields = { kind, id, windowMs: r.windowMs, passes: r.passes, pointInTime: r.pointInTime };
    if (r.pointInTime) this.log.info("copied the source at one point in time", fields);
    else
      this.log.warn("the source changed while it was copied: this copy is not point-in-time", {
        ...fields,
        backend: this.backend.kind,
      });
  }

  /**
   * The delete protocol's answered part: `deleting` record (durable), data renamed aside (not
   * made durable: see the top of this file); the removal itself is started in the background
   * (see purge). Absent records are fine.
   */
  private async remove(kind: Kind, id: string): Promise<void> {
    const store = this.storeOf(kind);
    const rec = store.get(id);
    if (!rec) return;
    const t0 = performance.now();
    if (rec.state !== "deleting") await store.put({ ...rec, state: "deleting" });
    const t1 = performance.now();
    try {
      await rename(this.pathOf(kind, id), this.layout.trashFor(id));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
    this.log.debug("removal started", {
      kind,
      id,
      recordMs: tenths(t1 - t0),
      renameMs: tenths(performance.now() - t1),
    });
    this.purgeInBackground(kind, id);
  }

  private purgeInBackground(kind: Kind, id: string): Promise<void> {
    const running = this.jobs.get(id);
    if (running) return running;
    const job = this.purge(kind, id)
      .catch((err: unknown) =>
        this.log.error(`removing the data of a deleted ${kind} failed; it is retried on the next start`, {
          kind,
          id,
          error: errorText(err),
        }),
      )
      .finally(() => this.jobs.delete(id));
    this.jobs.set(id, job);
    return job;
  }

  /**
   * Removes every .tmp.<id>.* and .trash.<id>.* entry, makes the removal durable, then deletes
   * the record (releasing its quota id).
   */
  private async purge(kind: Kind, id: string): Promise<void> {
    const t0 = performance.now();
    const store = this.storeOf(kind);
    const rec = store.get(id);
    const ids: QuotaIds = { projectId: (rec as VolumeRecord | undefined)?.projectId };
    const parent = path.dirname(this.pathOf(kind, id));
    for (const name of await readdir(parent)) {
      if (name.startsWith(`${TMP_PREFIX}${id}.`) || name.startsWith(`${TRASH_PREFIX}${id}.`)) {
        await this.backend.remove(path.join(parent, name), ids);
      }
    }
    // Before the record goes, or a power loss could bring back data that no record owns.
    await fsyncDir(parent);
    await store.delete(id);
    this.log.info(`removed the data of a deleted ${kind}`, {
      kind,
      id,
      name: rec?.name,
      ms: Math.round(performance.now() - t0),
    });
  }

  createVolume(v: NewVolume): Promise<VolumeRecord> {
    const pid = this.reserveProjectId();
    const rec: VolumeRecord = {
      ...v,
      ...(pid.id === undefined ? {} : { projectId: pid.id }),
      schemaVersion: SCHEMA_VERSION,
      seq: this.volumes.nextSeq(),
      state: "creating",
      createdAt: new Date().toISOString(),
    };
    const ids: QuotaIds = { projectId: pid.id };
    return this.create("volume", rec, async (tmp) => {
      pid.release(); // the creating record holds the id from here on
      if (!v.source) {
        await this.backend.createVolume(tmp, v.capacityBytes, ids);
        if (v.accessType === "block") await sizeFile(path.join(tmp, BLOCK_FILE), v.capacityBytes, true);
        return undefined;
      }
      const src =
        v.source.kind === "snapshot" ? this.layout.snapshot(v.source.id) : this.layout.volume(v.source.id);
      const report = await this.backend.clone(src, tmp, v.capacityBytes, ids);
      if (v.accessType === "block") await sizeFile(path.join(tmp, BLOCK_FILE), v.capacityBytes, false);
      return report;
    }).finally(pid.release);
  }

  /** Deletes a volume: returns once its record says `deleting` and its data is out of the way. */
  deleteVolume(id: string): Promise<void> {
    return this.remove("volume", id);
  }

  createSnapshot(s: NewSnapshot): Promise<SnapshotRecord> {
    const rec: SnapshotRecord = {
      ...s,
      schemaVersion: SCHEMA_VERSION,
      seq: this.snapshots.nextSeq(),
      state: "creating",
      createdAt: new Date().toISOString(),
    };
    return this.create("snapshot", rec, (tmp) =>
      this.backend.snapshot(this.layout.volume(s.sourceVolumeId), tmp),
    );
  }

  /** Deletes a snapshot: returns once its record says `deleting` and its data is out of the way. */
  deleteSnapshot(id: string): Promise<void> {
    return this.remove("snapshot", id);
  }

  /**
   * Snapshots of several volumes cut together, by the create protocol of each: every `creating`
   * record first; then every backend snapshot inside `around` (which holds the writes to all
   * sources while it runs the cut), in parallel; then each build is flushed, renamed into place
   * and recorded `ready`. A failure undoes every member (a group is all of them or none).
   */
  async createSnapshotSet<W>(
    list: NewSnapshot[],
    around: (cut: (held: boolean) => Promise<CopyReport[]>) => Promise<W>,
  ): Promise<{ records: SnapshotRecord[]; held: W }> {
    const recs: SnapshotRecord[] = list.map((s) => ({
      ...s,
      schemaVersion: SCHEMA_VERSION,
      seq: this.snapshots.nextSeq(),
      state: "creating",
      createdAt: new Date().toISOString(),
    }));
    for (const r of recs) await this.checkFree("snapshot", r.id);
    try {
      for (const r of recs) await this.snapshots.put(r);
      const tmps = recs.map((r) => this.layout.tmpFor(r.id));
      const held = await around(async (writersHeld) => {
        // Every build ends before any undo starts (an undo must not race a build still running).
        const done = await Promise.allSettled(
          recs.map((r, i) =>
            this.backend.snapshot(this.layout.volume(r.sourceVolumeId), tmps[i] as string, {
              held: writersHeld,
            }),
          ),
        );
        const failed = done.find((d) => d.status === "rejected");
        if (failed) throw failed.reason;
        return done.map((d) => (d as PromiseFulfilledResult<CopyReport>).value);
      });
      for (const [i, r] of recs.entries()) {
        const tmp = tmps[i] as string;
        await this.flush(tmp);
        await rename(tmp, this.layout.snapshot(r.id));
        await fsyncDirs(tmp, this.layout.snapshot(r.id));
      }
      const ready = recs.map((r) => ({ ...r, state: "ready" as const }));
      for (const r of ready) await this.snapshots.put(r);
      return { records: ready, held };
    } catch (err) {
      for (const r of recs) {
        await this.remove("snapshot", r.id).catch((undoErr: unknown) =>
          this.log.error("undoing a failed group of snapshots failed; the next start finishes it", {
            id: r.id,
            error: errorText(undoErr),
            cause: errorText(err),
          }),
        );
      }
      throw err;
    }
  }

  /** Grows a volume to `sizeBytes`: the filesystem limit first, then the block file, then the record. */
  async expandVolume(id: string, sizeBytes: number): Promise<VolumeRecord> {
    const rec = this.volumes.get(id);
    if (!rec) throw new Error(`volume ${id} has no record`);
    const dir = this.layout.volume(id);
    await this.backend.resize(dir, sizeBytes, { projectId: rec.projectId });
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
   * Undoes a `creating` record left by a failure (data and record go), finishes a `deleting`
   * one, waiting for the removal. Used at start and by a retry that finds such a record; throws
   * ABORTED when the record cannot go (the removal failed: logged, retried on the next start).
   */
  async settle(kind: Kind, id: string): Promise<boolean> {
    const store = this.storeOf(kind);
    const rec = store.get(id);
    if (!rec || rec.state === "ready") return !rec;
    let job = this.jobs.get(id);
    if (!job) {
      this.log.info(
        rec.state === "creating" ? "undoing an interrupted create" : "finishing an interrupted delete",
        { kind, id, name: rec.name },
      );
      await this.remove(kind, id);
      job = this.jobs.get(id);
    }
    await job;
    if (store.get(id)) throw aborted(`${kind} ${id} is still being removed; retry later`);
    return true;
  }

  /** Start-up reconciliation of the store with the disk: repairs what it can, logs the rest, never throws for one item. */
  async reconcile(): Promise<void> {
    const log = this.o.log;
    const problems: string[] = [];
    const attempt = async (what: string, fields: Record<string, unknown>, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        problems.push(what);
        log.error(`start-up could not ${what}; it is left as it is and retried on the next start`, {
          ...fields,
          error: errorText(err),
        });
      }
    };
    // 1. Records of interrupted operations: a create whose data is in place is recorded ready
    // (it had passed its commit point); the others are undone or finished (the removals run in
    // the background).
    for (const kind of ["volume", "snapshot"] as const) {
      const store = this.storeOf(kind);
      for (const r of store.all()) {
        if (r.state === "ready") continue;
        if (r.state === "creating" && (await exists(this.pathOf(kind, r.id)))) {
          log.info("finishing an interrupted create: its data is complete", { kind, id: r.id, name: r.name });
          await attempt(`record ${kind} ${r.id} ready`, { kind, id: r.id }, () =>
            store.put({ ...r, state: "ready" }),
          );
          continue;
        }
        log.info(
          r.state === "creating" ? "undoing an interrupted create" : "finishing an interrupted delete",
          {
            kind,
            id: r.id,
            name: r.name,
          },
        );
        await attempt(`finish the removal of ${kind} ${r.id}`, { kind, id: r.id }, () =>
          this.remove(kind, r.id),
        );
      }
    }
    // 2. Half-made builds and half-removed data no record owns: removed in the background.
    const leftovers: string[] = [];
    for (const [dir, store] of [
      [this.layout.volumes, this.volumes],
      [this.layout.snapshots, this.snapshots],
    ] as const) {
      for (const name of await readdir(dir)) {
        if (!name.startsWith(TMP_PREFIX) && !name.startsWith(TRASH_PREFIX)) continue;
        const owner = name.split(".")[2] ?? "";
        if (!store.get(owner)) leftovers.push(path.join(dir, name));
      }
    }
    if (leftovers.length > 0) this.removeLeftovers(leftovers);
    // 3. Data without a record is set aside, never deleted; records without data are reported.
    for (const [kind, dir, store, valid] of [
      ["volume", this.layout.volumes, this.volumes, isVolumeId],
      ["snapshot", this.layout.snapshots, this.snapshots, isSnapshotId],
    ] as const) {
      for (const name of await readdir(dir)) {
        if (name.startsWith(TMP_PREFIX) || name.startsWith(TRASH_PREFIX)) continue;
        if (valid(name) && store.get(name)) continue;
        const from = path.join(dir, name);
        const to = path.join(this.layout.orphans, `${kind}-${name}-${Date.now()}`);
        await attempt(`set aside data without a record`, { kind, name, path: from }, async () => {
          await mkdir(this.layout.orphans, { recursive: true });
          await this.backend.relocate(from, to);
          await fsyncDirs(from, to);
          log.warn("data without a record was moved aside (not deleted)", { kind, name, movedTo: to });
        });
      }
      for (const r of store.all()) {
        if (r.state !== "ready") continue;
        const p = this.pathOf(kind, r.id);
        if (!(await exists(p))) log.error("record without data", { kind, id: r.id, name: r.name, path: p });
      }
    }
    // 4. Loop devices of block volumes that no mount uses any more (a publish cut short).
    const mounts = await readMounts();
    for (const r of this.volumes.all()) {
      if (r.accessType !== "block" || r.state !== "ready") continue;
      await attempt(`detach the unused loop devices of volume ${r.id}`, { volumeId: r.id }, async () => {
        const file = path.join(this.layout.volume(r.id), BLOCK_FILE);
        if (!(await exists(file))) return;
        for (const loop of await this.o.mounter.loopsOf(await realpath(file))) {
          const id = identityIn(mounts, loop.name);
          if (id && mountsOf(mounts, id).length > 0) continue;
          await this.o.mounter.detachLoop(loop.name);
          log.info("detached an unused loop device", { volumeId: r.id, device: loop.name });
        }
      });
    }
    log[problems.length > 0 ? "warn" : "info"]("reconciled the data directory", {
      root: this.layout.root,
      backend: this.backend.kind,
      enforcesSize: this.backend.enforcesSize,
      volumes: this.volumes.all().length,
      snapshots: this.snapshots.all().length,
      removingInBackground: this.jobs.size,
      leftovers: leftovers.length,
      unresolved: problems,
    });
  }

  /** Removes entries of interrupted operations that no record owns, each on its own (a failure is logged). */
  private removeLeftovers(paths: string[]): void {
    const job = (async () => {
      for (const p of paths) {
        try {
          await this.backend.remove(p);
          this.log.info("removed a leftover of an interrupted operation", { path: p });
        } catch (err) {
          this.log.error(
            "could not remove a leftover of an interrupted operation; it is retried on the next start",
            {
              path: p,
              error: errorText(err),
            },
          );
        }
      }
    })().finally(() => this.jobs.delete("leftovers"));
    this.jobs.set("leftovers", job);
  }
}

const tenths = (ms: number): number => Math.round(ms * 10) / 10;

/** fsyncs the directories of `from` and `to` (once when they are the same), after a rename. */
async function fsyncDirs(from: string, to: string): Promise<void> {
  await fsyncDir(path.dirname(from));
  if (path.dirname(from) !== path.dirname(to)) await fsyncDir(path.dirname(to));
}

/** How many fsyncs of one tree run at once (they wait on the same journal commits). */
const FSYNC_PARALLEL = 8;

/** fsyncs every file and directory under `p`, several at a time (all have ended when it returns). */
async function fsyncTree(p: string): Promise<void> {
  const todo: string[] = [];
  const walk = async (q: string, st: { isDirectory(): boolean; isFile(): boolean }): Promise<void> => {
    if (st.isDirectory()) {
      for (const e of await readdir(q, { withFileTypes: true })) {
        if (e.isDirectory() || e.isFile()) await walk(path.join(q, e.name), e);
      }
    } else if (!st.isFile()) {
      return;
    }
    todo.push(q);
  };
  await walk(p, await lstat(p));
  const worker = async (): Promise<void> => {
    for (let q = todo.pop(); q !== undefined; q = todo.pop()) {
      const fh = await open(q, "r");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FSYNC_PARALLEL, todo.length) }, worker));
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
