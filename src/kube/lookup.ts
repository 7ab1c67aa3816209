// The rules' Lookup backed by direct reads from the API server (the plugin's pre-flight). A
// 404 is "does not exist"; a missing CRD (snapshot, ReferenceGrant, VolumePopulator APIs) is
// told apart from a missing object by the Status details. Reads are memoised per lookup, so one
// verb never reads the same object twice.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type {
  Lookup,
  PopulatorKind,
  ReferenceGrant,
  VolumeSnapshot,
  VolumeSnapshotClass,
  VolumeSnapshotContent,
} from "../rules/types.ts";
import { type Clients, SNAPSHOT_GROUP, SNAPSHOT_VERSION, statusCode } from "./client.ts";

/** A 404 that means "this API is not served" rather than "this object does not exist". */
export function isMissingApi(err: unknown): boolean {
  if (statusCode(err) !== 404) return false;
  const body = (err as { body?: unknown }).body;
  const text = typeof body === "string" ? body : JSON.stringify(body ?? "");
  // A missing object's Status names it in details; a missing resource type has no details.
  return !/"details"\s*:\s*\{[^}]*"name"/.test(text);
}

export class MissingApiError extends Error {
  constructor(what: string) {
    super(`the ${what} API is not installed on this cluster: install its CRDs first`);
    this.name = "MissingApiError";
  }
}

async function orUndefined<T>(p: Promise<T>, api: string): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (statusCode(err) === 404) {
      if (isMissingApi(err)) throw new MissingApiError(api);
      return undefined;
    }
    throw err;
  }
}

async function listOrUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

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

const SNAPSHOT_API = `${SNAPSHOT_GROUP}/${SNAPSHOT_VERSION}`;

export function apiLookup(c: Clients): Lookup {
  const snap = { group: SNAPSHOT_GROUP, version: SNAPSHOT_VERSION };
  const storageClasses = memo(async () => (await c.storage.listStorageClass()).items);
  return {
    pvc: memo((namespace: string, name: string) =>
      orUndefined<V1PersistentVolumeClaim>(
        c.core.readNamespacedPersistentVolumeClaim({ namespace, name }),
        "core/v1",
      ),
    ),
    persistentVolume: memo((name: string) =>
      orUndefined<V1PersistentVolume>(c.core.readPersistentVolume({ name }), "core/v1"),
    ),
    storageClass: memo((name: string) =>
      orUndefined<V1StorageClass>(c.storage.readStorageClass({ name }), "storage.k8s.io/v1"),
    ),
    storageClasses,
    volumeSnapshot: memo(
      async (namespace: string, name: string) =>
        (await orUndefined(
          c.custom.getNamespacedCustomObject({ ...snap, namespace, plural: "volumesnapshots", name }),
          SNAPSHOT_API,
        )) as VolumeSnapshot | undefined,
    ),
    volumeSnapshotContent: memo(
      async (name: string) =>
        (await orUndefined(
          c.custom.getClusterCustomObject({ ...snap, plural: "volumesnapshotcontents", name }),
          SNAPSHOT_API,
        )) as VolumeSnapshotContent | undefined,
    ),
    volumeSnapshotClasses: memo(async () => {
      try {
        const list = (await c.custom.listClusterCustomObject({
          ...snap,
          plural: "volumesnapshotclasses",
        })) as {
          items: VolumeSnapshotClass[];
        };
        return list.items;
      } catch (err) {
        if (statusCode(err) === 404) throw new MissingApiError(SNAPSHOT_API);
        throw err;
      }
    }),
    referenceGrants: memo(async (namespace: string) => {
      const list = (await listOrUndefined(
        c.custom.listNamespacedCustomObject({
          group: "gateway.networking.k8s.io",
          version: "v1beta1",
          namespace,
          plural: "referencegrants",
        }),
      )) as { items: ReferenceGrant[] } | undefined;
      return list?.items;
    }),
    populatorKinds: memo(async () => {
      const list = (await listOrUndefined(
        c.custom.listClusterCustomObject({
          group: "populator.storage.k8s.io",
          version: "v1beta1",
          plural: "volumepopulators",
        }),
      )) as { items: { sourceKind: PopulatorKind }[] } | undefined;
      return list?.items.map((p) => p.sourceKind);
    }),
  };
}
