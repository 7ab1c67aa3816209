// CSI Controller service: volumes and snapshots in this node's data directory. Every RPC checks
// its capability, then its arguments, then takes the per-id locks (ABORTED when busy) and calls
// the crash-safe engine. Ids are derived from names (names.ts), so a retry finds its own work.
import { realpath } from "node:fs/promises";
import path from "node:path";
import { CONTROLLER_CAPS, requireCap } from "./capabilities.ts";
import type { Engine } from "./engine.ts";
import { exists } from "./engine.ts";
import { aborted, alreadyExists, Code, CsiError, invalid, notFound, precondition } from "./errors.ts";
import { exclusive, type KeyedLocks, type LockRequest, shared } from "./locks.ts";
import { identityIn, type Mounter, mountsOf, readMounts } from "./mounts.ts";
import {
  BLOCK_FILE,
  checkId,
  checkName,
  isSnapshotId,
  isVolumeId,
  snapshotIdFor,
  volumeIdFor,
} from "./names.ts";
import type { Message, Service } from "./rpc.ts";
import type { SnapshotRecord, VolumeRecord } from "./store.ts";
import {
  checkCapabilities,
  checkCapability,
  checkRange,
  fits,
  sameMap,
  sizeFor,
  stringMap,
} from "./validate.ts";

export interface ControllerDeps {
  engine: Engine;
  locks: KeyedLocks;
  mounter: Mounter;
  nodeId: string;
  topologyKey: string;
  /** The group snapshot a snapshot is a member of (see group.ts), if any. */
  groupOf?: (snapshotId: string) => string | undefined;
}

export const BACKEND_CONTEXT_KEY = "vol.kubectl.io/backend";

export function timestamp(iso: string): Message {
  const ms = Date.parse(iso);
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** The CSI Snapshot message of a ready snapshot; a member of a group snapshot carries the group's id. */
export function snapshotMessage(s: SnapshotRecord, groupSnapshotId = ""): Message {
  return {
    snapshot_id: s.id,
    source_volume_id: s.sourceVolumeId,
    size_bytes: String(s.sizeBytes),
    creation_time: timestamp(s.createdAt),
    ready_to_use: true,
    group_snapshot_id: groupSnapshotId,
  };
}

export function controllerService(d: ControllerDeps): Service {
  const { engine, locks } = d;
  const need = (cap: (typeof CONTROLLER_CAPS)[number] | string, rpc: string) =>
    requireCap(CONTROLLER_CAPS, cap, rpc);
  const topology = (): Message[] => [{ segments: { [d.topologyKey]: d.nodeId } }];

  const volumeMessage = (r: VolumeRecord): Message => ({
    volume_id: r.id,
    capacity_bytes: String(r.capacityBytes),
    volume_context: { [BACKEND_CONTEXT_KEY]: engine.backend.kind },
    content_source: r.source
      ? r.source.kind === "snapshot"
        ? { snapshot: { snapshot_id: r.source.id } }
        : { volume: { volume_id: r.source.id } }
      : null,
    accessible_topology: topology(),
  });

  const snapshotOf = (s: SnapshotRecord): Message => snapshotMessage(s, d.groupOf?.(s.id));

  const readyVolume = (id: string): VolumeRecord | undefined => {
    const r = isVolumeId(id) ? engine.volumes.get(id) : undefined;
    return r?.state === "ready" ? r : undefined;
  };
  const readySnapshot = (id: string): SnapshotRecord | undefined => {
    const r = isSnapshotId(id) ? engine.snapshots.get(id) : undefined;
    return r?.state === "ready" ? r : undefined;
  };

  const condition = async (r: VolumeRecord): Promise<Message> => {
    const dir = engine.volumePath(r.id);
    if (!(await exists(dir)))
      return { abnormal: true, message: `the data of volume ${r.id} is missing at ${dir}` };
    if (r.accessType === "block" && !(await exists(path.join(dir, BLOCK_FILE)))) {
      return { abnormal: true, message: `the block file of volume ${r.id} is missing` };
    }
    return { abnormal: false, message: "volume is healthy" };
  };

  const checkAccessible = (req: Message | null | undefined): void => {
    const all: Message[] = [...(req?.requisite ?? []), ...(req?.preferred ?? [])];
    if (all.length === 0) return;
    if (all.some((t) => t?.segments?.[d.topologyKey] === d.nodeId)) return;
    throw new CsiError(
      Code.RESOURCE_EXHAUSTED,
      `this driver instance provisions only on node ${d.nodeId} (${d.topologyKey}=${d.nodeId}), which the accessibility requirements do not include`,
    );
  };

  /** Where a volume is still in use on this node: bind mounts of its directory, loop devices of its block file. */
  const usersOf = async (r: VolumeRecord): Promise<string[]> => {
    const dir = engine.volumePath(r.id);
    if (!(await exists(dir))) return [];
    const mounts = await readMounts();
    const ident = identityIn(mounts, dir);
    const users = ident ? mountsOf(mounts, ident).map((m) => m.mountpoint) : [];
    if (r.accessType === "block") {
      const file = path.join(dir, BLOCK_FILE);
      if (await exists(file)) {
        for (const l of await d.mounter.loopsOf(await realpath(file))) users.push(l.name);
      }
    }
    return users;
  };

  const pageOf = <T extends { seq: number }>(
    items: T[],
    token: unknown,
    max: unknown,
  ): { page: T[]; next: string } => {
    const t = typeof token === "string" ? token : "";
    if (t !== "" && !/^\d{1,15}$/.test(t))
      throw aborted(`starting_token ${JSON.stringify(t)} is not a token this driver issued`);
    const after = t === "" ? 0 : Number(t);
    const m = Number(max ?? 0);
    if (!Number.isInteger(m) || m < 0) throw invalid("max_entries must not be negative");
    const rest = items.filter((i) => i.seq > after);
    if (m === 0 || rest.length <= m) return { page: rest, next: "" };
    const page = rest.slice(0, m);
    return { page, next: String(page[page.length - 1]?.seq ?? after) };
  };

  return {
    ControllerGetCapabilities: async () => ({
      capabilities: CONTROLLER_CAPS.map((type) => ({ rpc: { type } })),
    }),

    CreateVolume: async (req) => {
      need("CREATE_DELETE_VOLUME", "CreateVolume");
      const name = checkName("name", req.name);
      const caps = checkCapabilities(req.volume_capabilities, "volume_capabilities");
      const accessType = caps[0]?.accessType ?? "mount";
      const range = checkRange(req.capacity_range);
      const parameters = stringMap(req.parameters);
      if (Object.keys(stringMap(req.mutable_parameters)).length > 0) {
        throw invalid("mutable_parameters are not supported (this driver does not advertise MODIFY_VOLUME)");
      }
      let source: VolumeRecord["source"];
      const cs = req.volume_content_source;
      if (cs?.snapshot) {
        need("CREATE_DELETE_SNAPSHOT", "CreateVolume from a snapshot");
        source = {
          kind: "snapshot",
          id: checkId("volume_content_source.snapshot.snapshot_id", cs.snapshot.snapshot_id),
        };
      } else if (cs?.volume) {
        need("CLONE_VOLUME", "CreateVolume from a volume");
        source = {
          kind: "volume",
          id: checkId("volume_content_source.volume.volume_id", cs.volume.volume_id),
        };
      } else if (cs) {
        throw invalid("volume_content_source names neither a snapshot nor a volume");
      }
      checkAccessible(req.accessibility_requirements);

      const id = volumeIdFor(name);
      const lockReqs: LockRequest[] = [exclusive(id)];
      if (source) lockReqs.push(shared(source.id));
      return locks.with(lockReqs, `volume ${JSON.stringify(name)}`, async () => {
        await engine.settle("volume", id);
        const existing = engine.volumes.get(id);
        if (existing) {
          const diffs: string[] = [];
          if (existing.accessType !== accessType) diffs.push(`access type ${existing.accessType}`);
          if (!fits(existing.capacityBytes, range)) diffs.push(`capacity ${existing.capacityBytes} bytes`);
          if (existing.source?.kind !== source?.kind || existing.source?.id !== source?.id) {
            diffs.push(
              existing.source
                ? `content source ${existing.source.kind} ${existing.source.id}`
                : "no content source",
            );
          }
          if (!sameMap(existing.parameters, parameters)) diffs.push("other parameters");
          if (diffs.length > 0) {
            throw alreadyExists(`volume ${JSON.stringify(name)} already exists with ${diffs.join(", ")}`);
          }
          return { volume: volumeMessage(existing) };
        }
        let atLeast = 0;
        if (source?.kind === "snapshot") {
          const s = readySnapshot(source.id);
          if (!s) throw notFound(`source snapshot ${source.id} does not exist`);
          if (s.accessType !== accessType) {
            throw invalid(
              `source snapshot ${s.id} holds a ${s.accessType} volume; ${accessType} access was requested`,
            );
          }
          atLeast = s.sizeBytes;
        } else if (source?.kind === "volume") {
          const v = readyVolume(source.id);
          if (!v) throw notFound(`source volume ${source.id} does not exist`);
          if (v.accessType !== accessType) {
            throw invalid(
              `source volume ${v.id} is a ${v.accessType} volume; ${accessType} access was requested`,
            );
          }
          atLeast = v.capacityBytes;
        }
        const capacityBytes = sizeFor(range, atLeast);
        const rec = await engine.createVolume({ id, name, capacityBytes, accessType, source, parameters });
        return { volume: volumeMessage(rec) };
      });
    },

    DeleteVolume: async (req) => {
      need("CREATE_DELETE_VOLUME", "DeleteVolume");
      const id = checkId("volume_id", req.volume_id);
      if (!isVolumeId(id)) return {};
      return locks.with([exclusive(id)], `volume ${id}`, async () => {
        const rec = engine.volumes.get(id);
        if (!rec) return {};
        if (rec.state === "ready") {
          const users = await usersOf(rec);
          if (users.length > 0) {
            throw precondition(
              `volume ${id} is still in use (${users.join(", ")}); unpublish it before deleting it`,
            );
          }
        }
        await engine.deleteVolume(id);
        return {};
      });
    },

    ValidateVolumeCapabilities: async (req) => {
      const id = checkId("volume_id", req.volume_id);
      if (!req.volume_capabilities || req.volume_capabilities.length === 0)
        throw invalid("volume_capabilities is required");
      const rec = readyVolume(id);
      if (!rec) throw notFound(`volume ${id} does not exist`);
      const unconfirmed = (message: string) => ({ confirmed: null, message });
      for (const [i, c] of (req.volume_capabilities as Message[]).entries()) {
        let cap: ReturnType<typeof checkCapability>;
        try {
          cap = checkCapability(c, `volume_capabilities[${i}]`);
        } catch (err) {
          return unconfirmed((err as Error).message);
        }
        if (cap.accessType !== rec.accessType) {
          return unconfirmed(
            `volume ${id} is a ${rec.accessType} volume; ${cap.accessType} access is not possible`,
          );
        }
      }
      const params = stringMap(req.parameters);
      if (Object.keys(params).length > 0 && !sameMap(params, rec.parameters)) {
        return unconfirmed(`volume ${id} was created with other parameters`);
      }
      return {
        confirmed: {
          volume_context: req.volume_context ?? {},
          volume_capabilities: req.volume_capabilities,
          parameters: req.parameters ?? {},
        },
        message: "",
      };
    },

    ListVolumes: async (req) => {
      need("LIST_VOLUMES", "ListVolumes");
      const all = engine.volumes.all().filter((v) => v.state === "ready");
      const { page, next } = pageOf(all, req.starting_token, req.max_entries);
      const entries: Message[] = [];
      for (const v of page) {
        entries.push({
          volume: volumeMessage(v),
          status: { published_node_ids: [], volume_condition: await condition(v) },
        });
      }
      return { entries, next_token: next };
    },

    ControllerGetVolume: async (req) => {
      need("GET_VOLUME", "ControllerGetVolume");
      const id = checkId("volume_id", req.volume_id);
      const rec = readyVolume(id);
      if (!rec) throw notFound(`volume ${id} does not exist`);
      return {
        volume: volumeMessage(rec),
        status: { published_node_ids: [], volume_condition: await condition(rec) },
      };
    },

    GetCapacity: async (req) => {
      need("GET_CAPACITY", "GetCapacity");
      const zero = { available_capacity: "0", maximum_volume_size: null, minimum_volume_size: null };
      if (req.volume_capabilities?.length) {
        try {
          checkCapabilities(req.volume_capabilities, "volume_capabilities");
        } catch (err) {
          // The spec's answer for capabilities this driver cannot serve: no capacity for them.
          engine.log.debug("GetCapacity for unsupported capabilities: 0", { reason: (err as Error).message });
          return zero;
        }
      }
      const segs = req.accessible_topology?.segments;
      if (segs && Object.keys(segs).length > 0 && segs[d.topologyKey] !== d.nodeId) return zero;
      const c = await engine.backend.capacity();
      return {
        available_capacity: String(c.availableBytes),
        maximum_volume_size: null,
        minimum_volume_size: null,
      };
    },

    CreateSnapshot: async (req) => {
      need("CREATE_DELETE_SNAPSHOT", "CreateSnapshot");
      const name = checkName("name", req.name);
      const sourceId = checkId("source_volume_id", req.source_volume_id);
      const parameters = stringMap(req.parameters);
      const id = snapshotIdFor(name);
      return locks.with([exclusive(id), shared(sourceId)], `snapshot ${JSON.stringify(name)}`, async () => {
        await engine.settle("snapshot", id);
        const existing = engine.snapshots.get(id);
        if (existing) {
          if (existing.sourceVolumeId !== sourceId) {
            throw alreadyExists(
              `snapshot ${JSON.stringify(name)} already exists for another source volume (${existing.sourceVolumeId})`,
            );
          }
          if (!sameMap(existing.parameters, parameters)) {
            throw alreadyExists(`snapshot ${JSON.stringify(name)} already exists with other parameters`);
          }
          return { snapshot: snapshotOf(existing) };
        }
        const v = readyVolume(sourceId);
        if (!v) throw notFound(`source volume ${sourceId} does not exist`);
        const rec = await engine.createSnapshot({
          id,
          name,
          sourceVolumeId: sourceId,
          sizeBytes: v.capacityBytes,
          accessType: v.accessType,
          parameters,
        });
        return { snapshot: snapshotOf(rec) };
      });
    },

    DeleteSnapshot: async (req) => {
      need("CREATE_DELETE_SNAPSHOT", "DeleteSnapshot");
      const id = checkId("snapshot_id", req.snapshot_id);
      if (!isSnapshotId(id)) return {};
      return locks.with([exclusive(id)], `snapshot ${id}`, async () => {
        // Volumes restored from it are independent copies: nothing else to check. A member of a
        // group snapshot is reported with the group's id, which the spec reads as "must not be
        // deleted on its own": it goes with its group.
        const group = d.groupOf?.(id);
        if (group && engine.snapshots.get(id)) {
          throw precondition(
            `snapshot ${id} is a member of group snapshot ${group}: delete the group snapshot (its VolumeGroupSnapshot) instead`,
          );
        }
        await engine.deleteSnapshot(id);
        return {};
      });
    },

    ListSnapshots: async (req) => {
      need("LIST_SNAPSHOTS", "ListSnapshots");
      const snapId = req.snapshot_id ? checkId("snapshot_id", req.snapshot_id) : "";
      const srcId = req.source_volume_id ? checkId("source_volume_id", req.source_volume_id) : "";
      const all = engine.snapshots
        .all()
        .filter(
          (s) =>
            s.state === "ready" && (!snapId || s.id === snapId) && (!srcId || s.sourceVolumeId === srcId),
        );
      const { page, next } = pageOf(all, req.starting_token, req.max_entries);
      return { entries: page.map((s) => ({ snapshot: snapshotOf(s) })), next_token: next };
    },
  };
}
