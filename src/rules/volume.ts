// Whether an existing claim's volume can be copied at all: only a CSI driver clones or
// snapshots a volume, so a claim bound to a volume of another type (a static hostPath, local or
// NFS PersistentVolume, an in-tree plugin) can never be a clone's or a snapshot's source. Pure.
import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { pvcName } from "./source.ts";
import type { Finding, Lookup } from "./types.ts";

/** PersistentVolume spec fields that are not its volume source. */
const NOT_A_SOURCE = new Set([
  "accessModes",
  "capacity",
  "claimRef",
  "mountOptions",
  "nodeAffinity",
  "persistentVolumeReclaimPolicy",
  "storageClassName",
  "volumeAttributesClassName",
  "volumeMode",
]);

/** The volume type of a PersistentVolume that is not CSI ("hostPath", "nfs", ...), else undefined. */
export function nonCsiVolumeType(pv: V1PersistentVolume): string | undefined {
  const spec = (pv.spec ?? {}) as Record<string, unknown>;
  if (spec.csi) return undefined;
  const source = Object.keys(spec).find(
    (k) => !NOT_A_SOURCE.has(k) && spec[k] !== undefined && spec[k] !== null,
  );
  return source ?? "unknown";
}

/**
 * A denial when `pvc` (Bound) is on a volume that is not CSI: nothing would ever make the
 * clone or snapshot (`what`: "clone", "snapshot"), which would wait forever. Needs the Lookup's
 * persistentVolume; without it, or when the volume cannot be read, there is no finding.
 */
export async function nonCsiSourceFinding(
  pvc: V1PersistentVolumeClaim,
  lookup: Lookup,
  rule: string,
  what: "clone" | "snapshot",
): Promise<Finding | undefined> {
  const volumeName = pvc.spec?.volumeName;
  if (!volumeName || !lookup.persistentVolume) return undefined;
  const pv = await lookup.persistentVolume(volumeName);
  const type = pv ? nonCsiVolumeType(pv) : undefined;
  if (!type) return undefined;
  const source = pvcName(pvc.metadata?.namespace || "default", pvc.metadata?.name ?? "");
  return {
    rule,
    severity: "deny",
    message: `${source} is bound to PersistentVolume "${volumeName}", a ${type} volume, not a CSI volume: only a CSI driver can ${what === "clone" ? "clone" : "take a snapshot of"} a volume, so the ${what} would never be made; copy the data with a pod that mounts both claims instead`,
  };
}
