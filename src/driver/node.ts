// CSI Node service: publish a volume at the path the kubelet gives (a bind mount of the volume
// directory; for a block volume, a loop device over its block file bound onto a file), unpublish
// it, report its usage and condition. No staging: a bind mount needs none.
import { mkdir, open, realpath, rmdir, unlink } from "node:fs/promises";
import path from "node:path";
import { NODE_CAPS, requireCap } from "./capabilities.ts";
import type { Engine } from "./engine.ts";
import { exists } from "./engine.ts";
import { alreadyExists, invalid, notFound, outOfRange, precondition } from "./errors.ts";
import { exclusive, type KeyedLocks, publishLocks } from "./locks.ts";
import {
  identityIn,
  lstatIfExists,
  type MountEntry,
  type Mounter,
  mountAt,
  mountsOf,
  readMounts,
  sameMount,
} from "./mounts.ts";
import { BLOCK_FILE, checkId, isVolumeId } from "./names.ts";
import type { Service } from "./rpc.ts";
import type { VolumeRecord } from "./store.ts";
import { checkCapability, checkHostPath, checkRange, sizeFor } from "./validate.ts";

export interface NodeDeps {
  engine: Engine;
  locks: KeyedLocks;
  mounter: Mounter;
  nodeId: string;
  topologyKey: string;
  maxVolumes: number;
}

/** A path argument that may be relative or stale (it is then simply "not published there"). */
function pathArg(p: unknown, field: string): string {
  if (typeof p !== "string" || p === "") throw invalid(`${field} is required`);
  if (p.includes("\0")) throw invalid(`${field} contains a NUL`);
  if (p.length > 4096) throw invalid(`${field} is longer than 4096 bytes`);
  return p.length > 1 ? p.replace(/\/+$/, "") : p;
}

export function nodeService(d: NodeDeps): Service {
  const { engine, locks, mounter } = d;
  const need = (cap: string, rpc: string) => requireCap(NODE_CAPS, cap, rpc);

  const readyVolume = (id: string): VolumeRecord | undefined => {
    const r = isVolumeId(id) ? engine.volumes.get(id) : undefined;
    return r?.state === "ready" ? r : undefined;
  };

  const blockFile = async (r: VolumeRecord): Promise<string> =>
    realpath(path.join(engine.volumePath(r.id), BLOCK_FILE));

  /** Whether the top mount at `target` is this volume (its directory, or one of its loop devices). */
  const isPublishedAt = async (r: VolumeRecord, mounts: MountEntry[], target: string): Promise<boolean> => {
    const cur = mountAt(mounts, target);
    if (!cur) return false;
    if (r.accessType === "mount") return sameMount(cur, identityIn(mounts, engine.volumePath(r.id)));
    if (!(await exists(path.join(engine.volumePath(r.id), BLOCK_FILE)))) return false;
    for (const l of await mounter.loopsOf(await blockFile(r))) {
      if (sameMount(cur, identityIn(mounts, l.name))) return true;
    }
    return false;
  };

  /** Detaches loop devices of `r` that no mount uses. */
  const releaseLoops = async (r: VolumeRecord): Promise<void> => {
    if (r.accessType !== "block" || !(await exists(path.join(engine.volumePath(r.id), BLOCK_FILE)))) return;
    const mounts = await readMounts();
    for (const l of await mounter.loopsOf(await blockFile(r))) {
      const ident = identityIn(mounts, l.name);
      if (ident && mountsOf(mounts, ident).length === 0) await mounter.detachLoop(l.name);
    }
  };

  const publishMount = async (
    r: VolumeRecord,
    target: string,
    readOnly: boolean,
    flags: string[],
  ): Promise<void> => {
    const src = engine.volumePath(r.id);
    const mounts = await readMounts();
    const cur = mountAt(mounts, target);
    if (cur) {
      if (!sameMount(cur, identityIn(mounts, src))) {
        throw alreadyExists(`target_path ${target} already has another mount (${cur.source} ${cur.root})`);
      }
      const isRo = cur.options.includes("ro");
      if (isRo === readOnly) return;
      // A read-only publish cut short between the bind and the remount: finish it.
      if (readOnly) return mounter.remount(target, [...flags, "ro"]);
      throw alreadyExists(
        `volume ${r.id} is published read-only at ${target}; a read-write publish there is incompatible`,
      );
    }
    await mkdir(target, { recursive: true });
    await mounter.bind(src, target, [...flags, ...(readOnly ? ["ro"] : [])]);
  };

  const publishBlock = async (r: VolumeRecord, target: string, readOnly: boolean): Promise<void> => {
    const file = await blockFile(r);
    let mounts = await readMounts();
    const loops = await mounter.loopsOf(file);
    const cur = mountAt(mounts, target);
    if (cur) {
      const mine = loops.find((l) => sameMount(cur, identityIn(mounts, l.name)));
      if (!mine)
        throw alreadyExists(`target_path ${target} already has another mount (${cur.source} ${cur.root})`);
      if (mine.readOnly === readOnly) return;
      throw alreadyExists(
        `volume ${r.id} is published at ${target} with read-only=${mine.readOnly}; read-only=${readOnly} was requested`,
      );
    }
    const st = await lstatIfExists(target);
    if (st?.isDirectory())
      throw precondition(`target_path ${target} is a directory; a block volume is published onto a file`);
    if (!st) {
      await mkdir(path.dirname(target), { recursive: true });
      await (await open(target, "a", 0o600)).close();
    }
    let loop = loops.find((l) => l.readOnly === readOnly)?.name;
    const fresh = !loop;
    loop ??= await mounter.attachLoop(file, readOnly);
    try {
      await mounter.bind(loop, target, readOnly ? ["ro"] : []);
    } catch (err) {
      mounts = await readMounts();
      const ident = identityIn(mounts, loop);
      if (fresh && ident && mountsOf(mounts, ident).length === 0) {
        await mounter.detachLoop(loop).catch((detachErr: unknown) =>
          engine.log.error("detaching the loop device of a failed publish failed", {
            volumeId: r.id,
            device: loop,
            error: (detachErr as Error).message,
            cause: (err as Error).message,
          }),
        );
      }
      throw err;
    }
  };

  return {
    NodeGetCapabilities: async () => ({ capabilities: NODE_CAPS.map((type) => ({ rpc: { type } })) }),

    NodeGetInfo: async () => ({
      node_id: d.nodeId,
      max_volumes_per_node: String(d.maxVolumes),
      accessible_topology: { segments: { [d.topologyKey]: d.nodeId } },
    }),

    NodePublishVolume: async (req) => {
      const id = checkId("volume_id", req.volume_id);
      const target = checkHostPath(req.target_path, "target_path");
      const cap = checkCapability(req.volume_capability, "volume_capability");
      const readOnly = Boolean(req.readonly) || cap.readOnlyMode || cap.flags.includes("ro");
      const flags = cap.flags.filter((f) => f !== "ro" && f !== "rw");
      return locks.with(publishLocks(id), `volume ${id}`, async () => {
        const r = readyVolume(id);
        if (!r) throw notFound(`volume ${id} does not exist on node ${d.nodeId}`);
        if (r.accessType !== cap.accessType) {
          throw invalid(
            `volume ${id} is a ${r.accessType} volume; volume_capability asks for ${cap.accessType} access`,
          );
        }
        if (r.accessType === "mount") await publishMount(r, target, readOnly, flags);
        else await publishBlock(r, target, readOnly);
        return {};
      });
    },

    NodeUnpublishVolume: async (req) => {
      const id = checkId("volume_id", req.volume_id);
      const target = checkHostPath(req.target_path, "target_path");
      return locks.with(publishLocks(id), `volume ${id}`, async () => {
        const r = isVolumeId(id) ? engine.volumes.get(id) : undefined;
        let mounts = await readMounts();
        const st = await lstatIfExists(target);
        if (!st && !mountAt(mounts, target)) {
          if (!r) throw notFound(`volume ${id} does not exist on node ${d.nodeId}`);
          return {};
        }
        if (mountAt(mounts, target)) {
          if (!r || !(await isPublishedAt(r, mounts, target))) {
            throw notFound(`volume ${id} is not published at ${target} (another mount is there)`);
          }
          for (let i = 0; i < 8 && mountAt(mounts, target); i++) {
            await mounter.unmount(target);
            mounts = await readMounts();
          }
        }
        const now = await lstatIfExists(target);
        if (now?.isDirectory()) await rmdir(target);
        else if (now) await unlink(target);
        if (r) await releaseLoops(r);
        return {};
      });
    },

    NodeGetVolumeStats: async (req) => {
      need("GET_VOLUME_STATS", "NodeGetVolumeStats");
      const id = checkId("volume_id", req.volume_id);
      const vp = pathArg(req.volume_path, "volume_path");
      const r = readyVolume(id);
      if (!r) throw notFound(`volume ${id} does not exist on node ${d.nodeId}`);
      const mounts = await readMounts();
      if (!vp.startsWith("/") || !(await isPublishedAt(r, mounts, vp))) {
        throw notFound(`volume ${id} is not published at ${vp}`);
      }
      const dir = engine.volumePath(r.id);
      if (r.accessType === "block") {
        return {
          usage: [{ unit: "BYTES", total: String(r.capacityBytes), used: "0", available: "0" }],
          volume_condition: { abnormal: false, message: "volume is healthy" },
        };
      }
      const [u, c] = await Promise.all([engine.backend.usage(dir), engine.backend.capacity()]);
      const total = r.capacityBytes;
      const available = Math.max(0, Math.min(total - u.bytes, c.availableBytes));
      const over = u.bytes > total;
      return {
        usage: [
          { unit: "BYTES", total: String(total), used: String(u.bytes), available: String(available) },
          {
            unit: "INODES",
            total: String(c.totalInodes),
            used: String(u.inodes),
            available: String(c.availableInodes),
          },
        ],
        volume_condition: over
          ? {
              abnormal: true,
              message: `volume ${id} uses ${u.bytes} bytes, more than its ${total}-byte capacity (this filesystem does not enforce sizes)`,
            }
          : { abnormal: false, message: "volume is healthy" },
      };
    },

    // Expansion happens here, on the volume's own node (csi-resizer runs once per cluster, so a
    // controller-side expand could not reach the other nodes' data). The kubelet calls this for
    // a published volume; the size limit is raised, a block file grown and its loop devices
    // refreshed, then the record is updated (an interrupted expand is simply redone).
    NodeExpandVolume: async (req) => {
      need("EXPAND_VOLUME", "NodeExpandVolume");
      const id = checkId("volume_id", req.volume_id);
      const vp = pathArg(req.volume_path, "volume_path");
      const cap = req.volume_capability
        ? checkCapability(req.volume_capability, "volume_capability")
        : undefined;
      const range = checkRange(req.capacity_range);
      return locks.with([exclusive(id)], `volume ${id}`, async () => {
        const r = readyVolume(id);
        if (!r) throw notFound(`volume ${id} does not exist on node ${d.nodeId}`);
        if (cap && cap.accessType !== r.accessType) {
          throw invalid(
            `volume ${id} is a ${r.accessType} volume; volume_capability asks for ${cap.accessType} access`,
          );
        }
        if (!vp.startsWith("/") || !(await isPublishedAt(r, await readMounts(), vp))) {
          throw notFound(`volume ${id} is not published at ${vp}; NodeExpandVolume grows a published volume`);
        }
        if (range.limit > 0 && r.capacityBytes > range.limit) {
          throw outOfRange(
            `volume ${id} has ${r.capacityBytes} bytes, more than limit_bytes ${range.limit}; volumes cannot shrink`,
          );
        }
        // No size asked for, or already that large: nothing to grow.
        if (r.capacityBytes >= range.required) return { capacity_bytes: String(r.capacityBytes) };
        const next = await engine.expandVolume(id, sizeFor(range));
        return { capacity_bytes: String(next.capacityBytes) };
      });
    },
  };
}
