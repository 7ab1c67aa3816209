// Objects for the rule tests: a "shop" namespace with a Bound 10Gi claim "db" on driver
// vol.csi.kubectl.io, a ready snapshot of it, and classes for two drivers.
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type {
  Objects,
  VolumeSnapshot,
  VolumeSnapshotClass,
  VolumeSnapshotContent,
} from "../../../src/rules/index.ts";

export const DRIVER = "vol.csi.kubectl.io";
export const OTHER = "other.csi.example.com";

export const storageClass = (name: string, provisioner: string, isDefault = false): V1StorageClass => ({
  metadata: {
    name,
    annotations: isDefault ? { "storageclass.kubernetes.io/is-default-class": "true" } : {},
  },
  provisioner,
});

export const snapshotClass = (name: string, driver: string, isDefault = false): VolumeSnapshotClass => ({
  metadata: {
    name,
    annotations: isDefault ? { "snapshot.storage.kubernetes.io/is-default-class": "true" } : {},
  },
  driver,
  deletionPolicy: "Delete",
});

export function claim(
  name: string,
  spec: V1PersistentVolumeClaim["spec"] = {},
  extra: { namespace?: string; phase?: string; capacity?: string; deleting?: boolean; uid?: string } = {},
): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: extra.namespace ?? "shop",
      uid: extra.uid ?? `uid-${name}`,
      ...(extra.deleting ? { deletionTimestamp: new Date("2026-01-01T00:00:00Z") } : {}),
    },
    spec: { accessModes: ["ReadWriteOnce"], ...spec },
    ...(extra.phase
      ? {
          status: {
            phase: extra.phase,
            ...(extra.capacity ? { capacity: { storage: extra.capacity } } : {}),
          },
        }
      : {}),
  };
}

export const db = () =>
  claim(
    "db",
    { storageClassName: "fast", resources: { requests: { storage: "10Gi" } }, volumeMode: "Filesystem" },
    { phase: "Bound", capacity: "10Gi" },
  );

export function snapshot(
  name: string,
  opts: {
    pvc?: string;
    ready?: boolean;
    restoreSize?: string;
    content?: string;
    error?: string;
    deleting?: boolean;
  } = {},
): VolumeSnapshot {
  return {
    apiVersion: "snapshot.storage.k8s.io/v1",
    kind: "VolumeSnapshot",
    metadata: {
      name,
      namespace: "shop",
      uid: `uid-${name}`,
      ...(opts.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
    },
    spec: { source: { persistentVolumeClaimName: opts.pvc ?? "db" }, volumeSnapshotClassName: "snaps" },
    status: {
      readyToUse: opts.ready ?? true,
      ...(opts.restoreSize ? { restoreSize: opts.restoreSize } : {}),
      ...(opts.content ? { boundVolumeSnapshotContentName: opts.content } : {}),
      ...(opts.error ? { error: { message: opts.error } } : {}),
    },
  };
}

export const content = (
  name: string,
  driver = DRIVER,
  mode: "Filesystem" | "Block" = "Filesystem",
  annotations: Record<string, string> = {},
): VolumeSnapshotContent => ({
  metadata: { name, annotations },
  spec: {
    driver,
    volumeSnapshotRef: { name: "db-snap", namespace: "shop" },
    sourceVolumeMode: mode,
    source: { volumeHandle: "vol-1" },
  },
  status: { readyToUse: true, restoreSize: 10 * 2 ** 30 },
});

export function world(over: Partial<Objects> = {}): Objects {
  return {
    pvcs: [
      db(),
      claim("pending", { storageClassName: "fast", resources: { requests: { storage: "1Gi" } } }),
      claim(
        "raw",
        { storageClassName: "fast", resources: { requests: { storage: "4Gi" } }, volumeMode: "Block" },
        { phase: "Bound", capacity: "4Gi" },
      ),
      claim(
        "elsewhere",
        { storageClassName: "slow", resources: { requests: { storage: "1Gi" } } },
        { phase: "Bound", capacity: "1Gi" },
      ),
    ],
    storageClasses: [storageClass("fast", DRIVER, true), storageClass("slow", OTHER)],
    volumeSnapshots: [snapshot("db-snap", { restoreSize: "10Gi", content: "snapcontent-1" })],
    volumeSnapshotContents: [content("snapcontent-1")],
    volumeSnapshotClasses: [snapshotClass("snaps", DRIVER, true), snapshotClass("other-snaps", OTHER)],
    referenceGrants: [],
    populatorKinds: undefined,
    ...over,
  };
}

/** A new claim in "shop" restoring or cloning `source`. */
export function fromSource(
  kind: "PersistentVolumeClaim" | "VolumeSnapshot" | string,
  name: string,
  spec: V1PersistentVolumeClaim["spec"] = {},
  apiGroup?: string,
): V1PersistentVolumeClaim {
  const group = apiGroup ?? (kind === "VolumeSnapshot" ? "snapshot.storage.k8s.io" : undefined);
  return claim("new", {
    storageClassName: "fast",
    resources: { requests: { storage: "10Gi" } },
    dataSource: { kind, name, ...(group !== undefined ? { apiGroup: group } : {}) },
    ...spec,
  });
}
