// The objects the verbs create, built by pure functions from what was read and what was asked
// (no I/O, unit-tested without a cluster). Claims are built as skeletons holding only what the
// user chose and what the rules do not derive (access modes); the rules' defaultClaim then
// fills size, class, volume mode and lineage exactly as the mutating webhook would.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { lineageAnnotations, SNAPSHOT_API_GROUP } from "../rules/index.ts";
import type { VolumeSnapshot } from "../rules/types.ts";

export function buildSnapshot(a: {
  namespace: string;
  name: string;
  pvc: V1PersistentVolumeClaim;
  className: string;
}): VolumeSnapshot {
  const pvc = a.pvc.metadata?.name ?? "";
  return {
    apiVersion: `${SNAPSHOT_API_GROUP}/v1`,
    kind: "VolumeSnapshot",
    metadata: {
      name: a.name,
      namespace: a.namespace,
      annotations: lineageAnnotations(
        { kind: "PersistentVolumeClaim", name: pvc, namespace: a.namespace },
        a.pvc,
      ),
    },
    spec: { volumeSnapshotClassName: a.className, source: { persistentVolumeClaimName: pvc } },
  };
}

/** The annotation on a claim restored from a group snapshot's member: the group's name. */
export const RESTORED_FROM_GROUP = "vol.kubectl.io/group-snapshot";

export interface ClaimChoices {
  namespace: string;
  name: string;
  storageClass?: string;
  size?: string;
}

function skeleton(
  c: ClaimChoices,
  accessModes: string[] | undefined,
  dataSource: { apiGroup?: string; kind: string; name: string },
): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: c.name, namespace: c.namespace },
    spec: {
      ...(c.storageClass !== undefined ? { storageClassName: c.storageClass } : {}),
      accessModes: accessModes?.length ? accessModes : ["ReadWriteOnce"],
      resources: { requests: c.size ? { storage: c.size } : {} },
      dataSource,
    },
  };
}

/** A clone of `source`: its access modes; size, class and volume mode come from defaultClaim. */
export function buildClone(c: ClaimChoices, source: V1PersistentVolumeClaim): V1PersistentVolumeClaim {
  return skeleton(c, source.spec?.accessModes, {
    kind: "PersistentVolumeClaim",
    name: source.metadata?.name ?? "",
  });
}

/**
 * A claim from `snapshot`: the snapshotted claim's access modes when it still exists. A member
 * of a group snapshot (`group`) also records the group's name (RESTORED_FROM_GROUP).
 */
export function buildRestore(
  c: ClaimChoices,
  snapshot: VolumeSnapshot,
  sourceClaim: V1PersistentVolumeClaim | undefined,
  group?: string,
): V1PersistentVolumeClaim {
  const claim = skeleton(c, sourceClaim?.spec?.accessModes, {
    apiGroup: SNAPSHOT_API_GROUP,
    kind: "VolumeSnapshot",
    name: snapshot.metadata.name,
  });
  if (group && claim.metadata) claim.metadata.annotations = { [RESTORED_FROM_GROUP]: group };
  return claim;
}

/** The size a claim shows: what it got, else what it asked for. */
export function claimSize(pvc: V1PersistentVolumeClaim): string | undefined {
  return pvc.status?.capacity?.storage ?? pvc.spec?.resources?.requests?.storage;
}
