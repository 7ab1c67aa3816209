// A Lookup over plain lists of objects: for unit tests (here and in the plugin) and for callers
// that already hold the objects. No I/O.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type {
  Lookup,
  PopulatorKind,
  ReferenceGrant,
  VolumeGroupSnapshotClass,
  VolumeSnapshot,
  VolumeSnapshotClass,
  VolumeSnapshotContent,
} from "./types.ts";

export interface Objects {
  pvcs?: V1PersistentVolumeClaim[];
  pvs?: V1PersistentVolume[];
  storageClasses?: V1StorageClass[];
  volumeSnapshots?: VolumeSnapshot[];
  volumeSnapshotContents?: VolumeSnapshotContent[];
  volumeSnapshotClasses?: VolumeSnapshotClass[];
  /** `undefined`: the ReferenceGrant CRD is not installed. */
  referenceGrants?: ReferenceGrant[];
  /** `undefined`: the VolumePopulator CRD is not installed. */
  populatorKinds?: PopulatorKind[];
  /** `undefined`: the group snapshot CRDs are not installed. */
  volumeGroupSnapshotClasses?: VolumeGroupSnapshotClass[];
}

export function memoryLookup(o: Objects): Lookup {
  const ns = (m: { namespace?: string } | undefined) => m?.namespace || "default";
  const lookup: Lookup = {
    pvc: async (namespace, name) =>
      o.pvcs?.find((p) => ns(p.metadata) === namespace && p.metadata?.name === name),
    storageClass: async (name) => o.storageClasses?.find((c) => c.metadata?.name === name),
    storageClasses: async () => o.storageClasses ?? [],
    volumeSnapshot: async (namespace, name) =>
      o.volumeSnapshots?.find((s) => ns(s.metadata) === namespace && s.metadata.name === name),
    volumeSnapshotContent: async (name) => o.volumeSnapshotContents?.find((c) => c.metadata.name === name),
    volumeSnapshotClasses: async () => o.volumeSnapshotClasses ?? [],
    referenceGrants: async (namespace) => o.referenceGrants?.filter((g) => ns(g.metadata) === namespace),
    populatorKinds: async () => o.populatorKinds,
    pvcs: async (namespace) => (o.pvcs ?? []).filter((p) => ns(p.metadata) === namespace),
    volumeGroupSnapshotClasses: async () => o.volumeGroupSnapshotClasses,
  };
  if (o.pvs) {
    lookup.persistentVolume = async (name) => o.pvs?.find((v) => v.metadata?.name === name);
    lookup.persistentVolumes = async () => o.pvs ?? [];
  }
  return lookup;
}
