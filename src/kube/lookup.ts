// The rules' Lookup backed by direct reads from the API server (the plugin's pre-flight), over
// the resource table the webhook's caches use (resources.ts): the same versions, found the same
// way (an optional CRD at the first version the server serves, asked only when a read at the
// version expected answers 404). A missing object is `undefined`; a missing snapshot API is a
// MissingApiError (the verbs cannot work without it); a missing ReferenceGrant or
// VolumePopulator CRD is `undefined`, as the rules expect. Reads are memoised per lookup, so one
// verb never reads the same object twice.
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

/**
 * Reads of one resource by the table: its served version, an object, a list. A read goes
 * straight to the version last seen served (at first, the table's first): no discovery
 * round-trip before it. Only where that answers 404 does discovery say whether the API is
 * served at all, or at a later version (read there). Discovery documents are read once per
 * group version.
 */
export function resourceReader(get: Get) {
  const discovery = memo((path: string) => get<{ resources?: { name: string }[] }>(path));
  const discovered = memo(async (key: ResourceKey) => servedVersion(RESOURCES[key], discovery));
  const seen = new Map<ResourceKey, string>();
  /** The served version; a MissingApiError for a required API, `undefined` for an optional CRD. */
  const served = async (key: ResourceKey, required: boolean) => {
    const v = seen.get(key) ?? (await discovered(key));
    const r = RESOURCES[key];
    if (!v && required) throw new MissingApiError(`${r.group}/${r.versions[0]}`);
    return v;
  };
  /** The version to try first: the one seen served, else the table's first. */
  const likely = (key: ResourceKey) => seen.get(key) ?? (RESOURCES[key].versions[0] as string);
  /**
   * `read` at the likely version; after a 404 (`undefined`) of an optional CRD, at the version
   * discovery finds, if another (none: a MissingApiError when required, else `undefined`).
   */
  const readServed = async <T>(
    key: ResourceKey,
    required: boolean,
    read: (version: string) => Promise<T | undefined>,
  ): Promise<{ version?: string; found?: T }> => {
    const first = likely(key);
    const found = await read(first);
    if (found !== undefined || !RESOURCES[key].optional) {
      if (found !== undefined) seen.set(key, first);
      return { version: first, found };
    }
    const version = await served(key, required);
    if (!version) return {};
    seen.set(key, version);
    return { version, found: version === first ? undefined : await read(version) };
  };
  return {
    served,
    likely,
    one: async <T>(key: ResourceKey, name: string, namespace?: string) =>
      (await readServed(key, true, (v) => get<T>(objectPath(RESOURCES[key], v, name, namespace)))).found,
    /** `undefined`: an optional CRD that is not served (or a list that answered 404). */
    all: async <T>(key: ResourceKey, namespace: string | undefined, required: boolean) => {
      const r = RESOURCES[key];
      const { version, found } = await readServed(key, required, (v) =>
        get<{ items?: T[] }>(listPath(r, v, namespace)),
      );
      if (!found && required) throw new MissingApiError(`${r.group || "core"}/${version}`);
      return found ? (found.items ?? []) : undefined;
    },
  };
}

export type ResourceReader = ReturnType<typeof resourceReader>;

/** The rules' Lookup; `r` shares what it learns about served versions with the caller. */
export function apiLookup(get: Get, r: ResourceReader = resourceReader(get)): Lookup {
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
