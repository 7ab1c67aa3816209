// The objects the verbs create, built by pure functions from what was read and what was asked
// (no I/O, unit-tested without a cluster), and the choice of snapshot class.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type { VolumeSnapshot, VolumeSnapshotContent } from "../rules/types.ts";
import { OperationError } from "./errors.ts";
import { maxQuantity } from "./format.ts";
import { lineageAnnotations } from "./lineage.ts";

export const DEFAULT_SNAPSHOT_CLASS = "snapshot.storage.kubernetes.io/is-default-class";

export function buildSnapshot(a: {
  namespace: string;
  name: string;
  pvc: string;
  className: string;
}): VolumeSnapshot {
  return {
    apiVersion: "snapshot.storage.k8s.io/v1",
    kind: "VolumeSnapshot",
    metadata: {
      name: a.name,
      namespace: a.namespace,
      annotations: lineageAnnotations({ kind: "PersistentVolumeClaim", name: a.pvc }, "snapshot"),
    },
    spec: { volumeSnapshotClassName: a.className, source: { persistentVolumeClaimName: a.pvc } },
  };
}

/** The size of a claim: the larger of what it asked for and what it got. */
export function claimSize(pvc: V1PersistentVolumeClaim): string | undefined {
  return maxQuantity(pvc.spec?.resources?.requests?.storage, pvc.status?.capacity?.storage);
}

export function buildClone(a: {
  namespace: string;
  name: string;
  source: V1PersistentVolumeClaim;
  storageClass?: string;
  size?: string;
}): V1PersistentVolumeClaim {
  const src = a.source;
  const size = a.size ?? claimSize(src);
  const storageClassName = a.storageClass ?? src.spec?.storageClassName;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: a.name,
      namespace: a.namespace,
      annotations: lineageAnnotations(
        { kind: "PersistentVolumeClaim", name: src.metadata?.name ?? "" },
        "clone",
      ),
    },
    spec: {
      ...(storageClassName !== undefined ? { storageClassName } : {}),
      accessModes: src.spec?.accessModes ?? ["ReadWriteOnce"],
      ...(src.spec?.volumeMode ? { volumeMode: src.spec.volumeMode } : {}),
      resources: { requests: size ? { storage: size } : {} },
      dataSource: { kind: "PersistentVolumeClaim", name: src.metadata?.name ?? "" },
    },
  };
}

/**
 * A claim restored from a snapshot. Size: --size, else the larger of the source claim's
 * request and the snapshot's restoreSize. Class, access modes and volume mode: --storage-class
 * or the source claim's (when it still exists), else the cluster default / ReadWriteOnce / the
 * content's source volume mode.
 */
export function buildRestore(a: {
  namespace: string;
  name: string;
  snapshot: VolumeSnapshot;
  sourceClaim?: V1PersistentVolumeClaim;
  content?: VolumeSnapshotContent;
  storageClass?: string;
  size?: string;
}): V1PersistentVolumeClaim {
  const snapName = a.snapshot.metadata.name;
  const size =
    a.size ?? maxQuantity(a.sourceClaim?.spec?.resources?.requests?.storage, a.snapshot.status?.restoreSize);
  if (!size) {
    throw new OperationError(
      `VolumeSnapshot "${snapName}" in namespace "${a.namespace}" has no restoreSize yet and its source claim is gone: pass --size`,
    );
  }
  const storageClassName = a.storageClass ?? a.sourceClaim?.spec?.storageClassName;
  const volumeMode = a.sourceClaim?.spec?.volumeMode ?? a.content?.spec.sourceVolumeMode;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: a.name,
      namespace: a.namespace,
      annotations: lineageAnnotations({ kind: "VolumeSnapshot", name: snapName }, "restore"),
    },
    spec: {
      ...(storageClassName !== undefined ? { storageClassName } : {}),
      accessModes: a.sourceClaim?.spec?.accessModes ?? ["ReadWriteOnce"],
      ...(volumeMode ? { volumeMode } : {}),
      resources: { requests: { storage: size } },
      dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: snapName },
    },
  };
}

/** The CSI driver behind a claim: its bound volume's, else its StorageClass's provisioner. */
export function claimDriver(
  pv: V1PersistentVolume | undefined,
  sc: V1StorageClass | undefined,
): string | undefined {
  return pv?.spec?.csi?.driver ?? sc?.provisioner;
}
