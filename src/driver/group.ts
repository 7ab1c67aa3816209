// CSI GroupController service: one snapshot of several volumes of this node at one instant.
// Members are ordinary snapshots (restorable by CreateVolume like any), reported with the
// group's id, and go with their group: deleting one alone is FAILED_PRECONDITION.
//
// Crash safety, one record per group under meta/groups/ (the store of store.ts):
//   create:  group record `creating` (names its volumes and member ids) → the members by the
//            engine's create protocol, cut while their writers are held (freeze.ts) → group
//            record `ready` (the commit point: the answer is sent only after it)
//   delete:  group record `deleting` → every member deleted → group record removed
// On start a group record that is not `ready` is undone or finished: its members are deleted
// (whatever state they reached) and the record goes. So after any crash a group is all of its
// members or none. Processes a killed driver left stopped are continued first (freeze.ts).
//
// Crash-consistent on btrfs and reflink: the writers of every member are held while all member
// snapshots are cut. The copy backend copies in proportion to the bytes, too long to hold a
// workload: its members are cut one after another with writes going on, and the group is not
// one instant (logged as such, and said in the README).
import { createHash } from "node:crypto";
import path from "node:path";
import type { Logger } from "../kube/log.ts";
import { GROUP_CONTROLLER_CAPS, requireCap } from "./capabilities.ts";
import { snapshotMessage, timestamp } from "./controller.ts";
import type { Engine } from "./engine.ts";
import { alreadyExists, invalid, notFound, precondition } from "./errors.ts";
import { type HoldReport, WriteHold } from "./freeze.ts";
import { exclusive, type KeyedLocks, shared } from "./locks.ts";
import { checkId, checkName, isVolumeId, snapshotIdFor } from "./names.ts";
import type { Message, Service } from "./rpc.ts";
import { type RecordState, RecordStore, SCHEMA_VERSION } from "./store.ts";
import { sameMap, stringMap } from "./validate.ts";

export interface GroupRecord {
  schemaVersion: number;
  id: string;
  name: string;
  seq: number;
  state: RecordState;
  /** The source volumes, in the order the request gave them. */
  sourceVolumeIds: string[];
  /** The member snapshot ids, one per source volume, same order. */
  snapshotIds: string[];
  parameters: Record<string, string>;
  createdAt: string;
}

const GROUP_ID = /^group-[0-9a-f]{32}$/;
export const isGroupId = (id: string): boolean => GROUP_ID.test(id);
export const groupIdFor = (name: string): string =>
  `group-${createHash("sha256").update(`group\0${name}`).digest("hex").slice(0, 32)}`;
/** A member's snapshot name: it holds a "/", which no CO name may, so it never meets a CreateSnapshot's. */
export const memberName = (groupId: string, volumeId: string): string => `${groupId}/${volumeId}`;
export const memberIdFor = (groupId: string, volumeId: string): string =>
  snapshotIdFor(memberName(groupId, volumeId));

const STATES = new Set(["creating", "ready", "deleting"]);
const strings = (v: unknown): boolean => Array.isArray(v) && v.every((x) => typeof x === "string");

export function isGroupRecord(r: unknown): r is GroupRecord {
  if (!r || typeof r !== "object") return false;
  const v = r as Record<string, unknown>;
  return (
    v.schemaVersion === SCHEMA_VERSION &&
    typeof v.id === "string" &&
    isGroupId(v.id) &&
    typeof v.name === "string" &&
    typeof v.seq === "number" &&
    STATES.has(v.state as string) &&
    strings(v.sourceVolumeIds) &&
    strings(v.snapshotIds) &&
    (v.sourceVolumeIds as string[]).length === (v.snapshotIds as string[]).length &&
    typeof v.parameters === "object" &&
    v.parameters !== null &&
    typeof v.createdAt === "string"
  );
}

/** A test's way to kill the driver at one step of a group operation (VOL_CSI_CRASH_AT=<step>). */
function crashPoint(step: string): void {
  if (process.env.VOL_CSI_CRASH_AT === step) process.kill(process.pid, "SIGKILL");
}

/** The groups of a data directory: their records, the write hold, and which group a snapshot belongs to. */
export class Groups {
  readonly store: RecordStore<GroupRecord>;
  readonly hold: WriteHold;
  private readonly engine: Engine;
  private readonly log: Logger;

  private constructor(engine: Engine, store: RecordStore<GroupRecord>, hold: WriteHold) {
    this.engine = engine;
    this.store = store;
    this.hold = hold;
    this.log = engine.log;
  }

  /** Opens meta/groups, continues processes a killed driver left stopped, and settles interrupted groups. */
  static async open(engine: Engine, o: { maxHoldMs?: number } = {}): Promise<Groups> {
    const store = await RecordStore.open(path.join(engine.layout.meta, "groups"), isGroupRecord, engine.log);
    const hold = new WriteHold({
      log: engine.log,
      recordFile: path.join(engine.layout.meta, "held.json"),
      ...(o.maxHoldMs === undefined ? {} : { maxHoldMs: o.maxHoldMs }),
    });
    const g = new Groups(engine, store, hold);
    await hold.resumeRecorded();
    for (const r of store.all()) {
      if (r.state === "ready") {
        const missing = r.snapshotIds.filter((id) => engine.snapshots.get(id)?.state !== "ready");
        if (missing.length > 0)
          engine.log.error("group snapshot without some of its members", { id: r.id, name: r.name, missing });
        continue;
      }
      engine.log.info(
        r.state === "creating"
          ? "undoing an interrupted group snapshot"
          : "finishing an interrupted group delete",
        { id: r.id, name: r.name },
      );
      try {
        await g.removeMembers(r);
      } catch (err) {
        engine.log.error(
          "start-up could not remove an interrupted group snapshot; retried on the next start",
          {
            id: r.id,
            error: (err as Error).message,
          },
        );
      }
    }
    return g;
  }

  /** The group (not being deleted) a snapshot is a member of. */
  groupOf = (snapshotId: string): string | undefined => {
    for (const r of this.store.all()) if (r.snapshotIds.includes(snapshotId)) return r.id;
    return undefined;
  };

  /** Deletes every member (whatever state it reached), then the record. */
  async removeMembers(r: GroupRecord): Promise<void> {
    if (r.state !== "deleting") await this.store.put({ ...r, state: "deleting" });
    crashPoint("group-deleting");
    for (const id of r.snapshotIds) await this.engine.deleteSnapshot(id);
    await this.store.delete(r.id);
  }

  /** The group's message: every member with the group's id. */
  message(r: GroupRecord): Message {
    const snapshots = r.snapshotIds.map((id) => {
      const s = this.engine.snapshots.get(id);
      if (!s) throw new Error(`member ${id} of group snapshot ${r.id} has no record`);
      return snapshotMessage(s, r.id);
    });
    return { group_snapshot_id: r.id, snapshots, creation_time: timestamp(r.createdAt), ready_to_use: true };
  }

  /** Cuts the members, holding the writers where the backend is quick enough for it. */
  async create(r: GroupRecord): Promise<GroupRecord> {
    const { engine } = this;
    await this.store.put(r);
    crashPoint("group-recorded");
    const list = r.sourceVolumeIds.map((vid, i) => {
      const v = engine.volumes.get(vid);
      if (!v) throw new Error(`volume ${vid} has no record`);
      return {
        id: r.snapshotIds[i] as string,
        name: memberName(r.id, vid),
        sourceVolumeId: vid,
        sizeBytes: v.capacityBytes,
        accessType: v.accessType,
        parameters: r.parameters,
      };
    });
    const dirs = r.sourceVolumeIds.map((vid) => engine.volumePath(vid));
    const t0 = performance.now();
    let made: { held: HoldReport<unknown> };
    try {
      made = await engine.createSnapshotSet(list, async (cut) => {
        const inHold = async (held: boolean) => {
          crashPoint("group-writes-held");
          const reports = await cut(held);
          crashPoint("group-members-cut");
          return reports;
        };
        if (engine.backend.kind === "copy") {
          const t = performance.now();
          const reports = await inHold(false);
          return { result: reports, windowMs: Math.round(performance.now() - t), held: [] };
        }
        return this.hold.hold(dirs, () => inHold(true));
      });
    } catch (err) {
      // The members were undone; the record goes too (or at the next start).
      await this.store.delete(r.id).catch((e: unknown) =>
        this.log.error("removing the record of a failed group snapshot failed; the next start does", {
          id: r.id,
          error: (e as Error).message,
        }),
      );
      throw err;
    }
    crashPoint("group-members-ready");
    const ready = { ...r, state: "ready" as const };
    await this.store.put(ready);
    const held = made.held;
    const fields = {
      id: r.id,
      name: r.name,
      members: r.snapshotIds.length,
      backend: engine.backend.kind,
      ms: Math.round(performance.now() - t0),
      processesHeld: held.held.map((h) => h.pid),
    };
    if (engine.backend.kind === "copy")
      this.log.warn("group snapshot cut without holding writes (copy backend): not crash-consistent", {
        ...fields,
        cutMs: held.windowMs,
      });
    else this.log.info("group snapshot cut at one instant", { ...fields, freezeWindowMs: held.windowMs });
    return ready;
  }
}

export interface GroupControllerDeps {
  engine: Engine;
  groups: Groups;
  locks: KeyedLocks;
  nodeId: string;
}

/** The snapshot ids a request names, when it names any, must be the group's. */
function checkMembers(req: Message, r: GroupRecord): void {
  const given = ((req.snapshot_ids ?? []) as unknown[]).map((x, i) => checkId(`snapshot_ids[${i}]`, x));
  if (given.length === 0) return;
  if (given.length !== r.snapshotIds.length || !given.every((g) => r.snapshotIds.includes(g))) {
    throw invalid(
      `snapshot_ids (${given.join(", ")}) are not the members of group snapshot ${r.id} (${r.snapshotIds.join(", ")})`,
    );
  }
}

export function groupControllerService(d: GroupControllerDeps): Service {
  const { engine, groups, locks } = d;
  const need = (rpc: string) =>
    requireCap(GROUP_CONTROLLER_CAPS, "CREATE_DELETE_GET_VOLUME_GROUP_SNAPSHOT", rpc);
  const lockFor = (id: string, r: { sourceVolumeIds: string[]; snapshotIds: string[] }) => [
    exclusive(id),
    ...r.sourceVolumeIds.map(shared),
    ...r.snapshotIds.map(exclusive),
  ];

  return {
    GroupControllerGetCapabilities: async () => ({
      capabilities: GROUP_CONTROLLER_CAPS.map((type) => ({ rpc: { type } })),
    }),

    CreateVolumeGroupSnapshot: async (req) => {
      need("CreateVolumeGroupSnapshot");
      const name = checkName("name", req.name);
      const raw = (req.source_volume_ids ?? []) as unknown[];
      if (raw.length === 0) throw invalid("source_volume_ids is required (the volumes to snapshot together)");
      const sources = raw.map((v, i) => checkId(`source_volume_ids[${i}]`, v));
      const dup = sources.find((v, i) => sources.indexOf(v) !== i);
      if (dup) throw invalid(`source_volume_ids names volume ${dup} twice`);
      const parameters = stringMap(req.parameters);
      const id = groupIdFor(name);
      const snapshotIds = sources.map((v) => memberIdFor(id, v));
      return locks.with(
        lockFor(id, { sourceVolumeIds: sources, snapshotIds }),
        `group snapshot ${JSON.stringify(name)}`,
        async () => {
          const existing = groups.store.get(id);
          if (existing?.state === "ready") {
            const same = new Set(existing.sourceVolumeIds);
            if (same.size !== sources.length || !sources.every((v) => same.has(v))) {
              throw alreadyExists(
                `group snapshot ${JSON.stringify(name)} already exists for other volumes (${existing.sourceVolumeIds.join(", ")})`,
              );
            }
            if (!sameMap(existing.parameters, parameters))
              throw alreadyExists(
                `group snapshot ${JSON.stringify(name)} already exists with other parameters`,
              );
            return { group_snapshot: groups.message(existing) };
          }
          if (existing) await groups.removeMembers(existing);
          for (const v of sources) {
            const rec = isVolumeId(v) ? engine.volumes.get(v) : undefined;
            if (rec?.state !== "ready") {
              throw precondition(
                `volume ${v} is not on node ${d.nodeId}: a group snapshot of node-local volumes needs every member on one node; group only claims whose volumes are on the same node`,
              );
            }
          }
          // Leftovers of an earlier attempt under the same member ids are undone first.
          for (const s of snapshotIds) await engine.settle("snapshot", s);
          const rec = await groups.create({
            schemaVersion: SCHEMA_VERSION,
            id,
            name,
            seq: groups.store.nextSeq(),
            state: "creating",
            sourceVolumeIds: sources,
            snapshotIds,
            parameters,
            createdAt: new Date().toISOString(),
          });
          return { group_snapshot: groups.message(rec) };
        },
      );
    },

    DeleteVolumeGroupSnapshot: async (req) => {
      need("DeleteVolumeGroupSnapshot");
      const id = checkId("group_snapshot_id", req.group_snapshot_id);
      const r = isGroupId(id) ? groups.store.get(id) : undefined;
      if (!r) return {};
      checkMembers(req, r);
      return locks.with(
        lockFor(id, { sourceVolumeIds: [], snapshotIds: r.snapshotIds }),
        `group snapshot ${id}`,
        async () => {
          const now = groups.store.get(id);
          if (now) await groups.removeMembers(now);
          return {};
        },
      );
    },

    GetVolumeGroupSnapshot: async (req) => {
      need("GetVolumeGroupSnapshot");
      const id = checkId("group_snapshot_id", req.group_snapshot_id);
      const r = isGroupId(id) ? groups.store.get(id) : undefined;
      if (r?.state !== "ready") throw notFound(`group snapshot ${id} does not exist`);
      checkMembers(req, r);
      return { group_snapshot: groups.message(r) };
    },
  };
}
