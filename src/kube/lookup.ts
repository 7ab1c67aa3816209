// The rules' Lookup backed by direct reads from the API server (the plugin's pre-flight), over
// the resource table the webhook's caches use (resources.ts): the same versions, found the same
// way (an optional CRD at the first version the server serves). A missing object is
// `undefined`; a missing snapshot API is a MissingApiError (the verbs cannot work without it);
// a missing ReferenceGrant or VolumePopulator CRD is `undefined`, as the rules expect. Reads are
// memoised per lookup, so one verb never reads the same object twice.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type {
  Lookup,
  PopulatorKind,
  ReferenceGrant,
  VolumeGroupSnapshotClass,
  VolumeSnapshot,
  VolumeSnapshotClass,
  VolumeSnapshotContent,
} from "../rules/types.ts";
import { listPath, objectPath, RESOURCES, type ResourceKey, servedVersion } from "./resources.ts";

export class MissingApiError extends Error {
  constructor(what: string) {
    super(`the ${what} API is not installed on this cluster: install its CRDs first`);
    this.name = "MissingApiError";
  }
}

/** A GET by path: the parsed answer, `undefined` on 404; other failures throw. */
export type Get = <T>(path: string) => Promise<T | undefined>;

function memo<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  const cache = new Map<string, Promise<R>>();
  return (...args: A) => {
    const k = JSON.stringify(args);
    let hit = cache.get(k);
    if (!hit) {
      hit = fn(...args);
      cache.set(k, hit);
      hit.catch(() => cache.delete(k));
    }
    return hit;
  };
}

/** Reads of one resource by the table: its served version (memoised), an object, a list. */
export function resourceReader(get: Get) {
  const version = memo(async (key: ResourceKey) => servedVersion(RESOURCES[key], (p) => get(p)));
  /** The served version; a MissingApiError for a required API, `undefined` for an optional CRD. */
  const served = async (key: ResourceKey, required: boolean) => {
    const v = await version(key);
    const r = RESOURCES[key];
    if (!v && required) throw new MissingApiError(`${r.group}/${r.versions[0]}`);
    return v;
  };
  return {
    served,
    one: async <T>(key: ResourceKey, name: string, namespace?: string) => {
      const v = await served(key, true);
      return get<T>(objectPath(RESOURCES[key], v as string, name, namespace));
    },
    /** `undefined`: an optional CRD that is not served (or a list that answered 404). */
    all: async <T>(key: ResourceKey, namespace: string | undefined, required: boolean) => {
      const v = await served(key, required);
      if (!v) return undefined;
      const l = await get<{ items?: T[] }>(listPath(RESOURCES[key], v, namespace));
      if (!l && required) throw new MissingApiError(`${RESOURCES[key].group || "core"}/${v}`);
      return l ? (l.items ?? []) : undefined;
    },
  };
}

export function apiLookup(get: Get): Lookup {
  const r = resourceReader(get);
  return {
    pvc: memo((ns: string, name: string) => r.one<V1PersistentVolumeClaim>("pvcs", name, ns)),
    persistentVolume: memo((name: string) => r.one<V1PersistentVolume>("pvs", name)),
    storageClass: memo((name: string) => r.one<V1StorageClass>("storageClasses", name)),
    storageClasses: memo(async () => (await r.all<V1StorageClass>("storageClasses", undefined, true)) ?? []),
    volumeSnapshot: memo((ns: string, name: string) => r.one<VolumeSnapshot>("volumeSnapshots", name, ns)),
    volumeSnapshotContent: memo((name: string) =>
      r.one<VolumeSnapshotContent>("volumeSnapshotContents", name),
    ),
    volumeSnapshotClasses: memo(
      async () => (await r.all<VolumeSnapshotClass>("volumeSnapshotClasses", undefined, true)) ?? [],
    ),
    referenceGrants: memo((ns: string) => r.all<ReferenceGrant>("referenceGrants", ns, false)),
    pvcs: memo(async (ns: string) => (await r.all<V1PersistentVolumeClaim>("pvcs", ns, true)) ?? []),
    volumeGroupSnapshotClasses: memo(() =>
      r.all<VolumeGroupSnapshotClass>("volumeGroupSnapshotClasses", undefined, false),
    ),
    populatorKinds: memo(async () => {
      const pops = await r.all<{ sourceKind?: PopulatorKind }>("volumePopulators", undefined, false);
      return pops?.flatMap((p) =>
        p.sourceKind?.kind ? [{ group: p.sourceKind.group ?? "", kind: p.sourceKind.kind }] : [],
      );
    }),
  };
}
