// The pre-flight rules of an in-place restore (`kubectl vol restore SNAPSHOT --in-place`): the
// claim to put back is the one the snapshot was taken from, the snapshot is ready, and the
// claim's class can restore it (driver, volume mode; the size is raised to the restoreSize).
// Pure: a function over the objects the caller read; nothing is read here.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { LINEAGE } from "./lineage.ts";
import { compareQuantities, formatBytes, parseQuantity } from "./quantity.ts";
import {
  ALLOW_VOLUME_MODE_CHANGE_ANNOTATION,
  decide,
  isDeleting,
  pvcName,
  restoreSizeOf,
  snapshotName,
  volumeModeOf,
} from "./source.ts";
import {
  type Decision,
  type Finding,
  LINEAGE_PREFIX,
  type VolumeSnapshot,
  type VolumeSnapshotContent,
} from "./types.ts";

/** The annotations of an in-place restore. */
export const IN_PLACE = {
  /** The record of a run in progress (JSON), on the claim and on the safety snapshot. */
  record: `${LINEAGE_PREFIX}restore-in-place`,
  /** On a claim recreated in place: the snapshot its data came from. */
  restoredFrom: `${LINEAGE_PREFIX}restored-in-place-from`,
  /** On a claim recreated in place: the volume it replaced (kept, reclaim policy Retain). */
  replacedVolume: `${LINEAGE_PREFIX}replaced-volume`,
  /**
   * On a claim recreated in place: the uids the claim of this name had before, oldest first,
   * joined by ",". A snapshot of any of them is a snapshot of this claim.
   */
  previousUids: `${LINEAGE_PREFIX}previous-uids`,
} as const;

/** The name of the claim a snapshot was taken from: spec.source, else its lineage annotations. */
export function snapshotClaimName(s: VolumeSnapshot): string | undefined {
  const a = s.metadata.annotations ?? {};
  const annotated = a[LINEAGE.sourceKind] === "PersistentVolumeClaim" ? a[LINEAGE.sourceName] : undefined;
  return s.spec?.source?.persistentVolumeClaimName || annotated || undefined;
}

/** The uid of the claim a snapshot was taken from, when its lineage annotations record it. */
export function snapshotClaimUid(s: VolumeSnapshot): string | undefined {
  const a = s.metadata.annotations ?? {};
  return a[LINEAGE.sourceKind] === "PersistentVolumeClaim" ? a[LINEAGE.sourceUid] || undefined : undefined;
}

/** Every uid a claim of this name has had: its own, and the ones before in-place restores. */
export function claimUids(claim: V1PersistentVolumeClaim): string[] {
  const before = (claim.metadata?.annotations?.[IN_PLACE.previousUids] ?? "").split(",").filter(Boolean);
  return [...before, ...(claim.metadata?.uid ? [claim.metadata.uid] : [])];
}

/** What the caller read for an in-place restore of `snapshot`. */
export interface InPlaceFacts {
  snapshot: VolumeSnapshot;
  /** The snapshot's bound content, when it has one. */
  content?: VolumeSnapshotContent;
  /** The claim named by snapshotClaimName, in the snapshot's namespace, if it exists. */
  claim?: V1PersistentVolumeClaim;
  /** The claim's PersistentVolume, if it is bound to one that exists. */
  volume?: V1PersistentVolume;
  /** The claim's StorageClass, if it names one that exists. */
  storageClass?: V1StorageClass;
  /** The driver of the snapshot when no content says (its class's driver). */
  snapshotClassDriver?: string;
}

const deny = (rule: string, message: string): Finding => ({ rule, severity: "deny", message });
const warn = (rule: string, message: string): Finding => ({ rule, severity: "warn", message });

/**
 * The rules, in order; the first denial about the snapshot or the claim's identity stops the
 * check (what follows would be about the wrong objects):
 *   inplace-snapshot-source   the snapshot was taken from a claim (not pre-provisioned content)
 *   inplace-snapshot-deleting | inplace-snapshot-error | inplace-snapshot-ready
 *   inplace-claim-exists      the claim is there (else: a plain restore under that name does it)
 *   inplace-claim-identity    the claim is the one the snapshot was taken of (uid when recorded)
 *   inplace-claim-busy        no other in-place restore of this claim is in progress
 *   inplace-claim-deleting | inplace-claim-bound | inplace-volume (a CSI volume to keep)
 *   inplace-class             the claim's StorageClass exists (it provisions the restored volume)
 *   inplace-driver            the class's provisioner is the snapshot's driver
 *   inplace-volume-mode       the claim's volume mode is the snapshot's (or the content allows a change)
 *   inplace-size (warn)       the restoreSize is more than the claim's request: the claim grows
 */
export function checkInPlace(f: InPlaceFacts): Decision {
  const ns = f.snapshot.metadata.namespace || "default";
  const snap = snapshotName(ns, f.snapshot.metadata.name);
  const name = snapshotClaimName(f.snapshot);
  if (!name) {
    return decide([
      deny(
        "inplace-snapshot-source",
        `${snap} was not taken from a claim (it names only VolumeSnapshotContent "${f.snapshot.spec?.source?.volumeSnapshotContentName ?? ""}"), so there is no claim to restore in place: restore it into a new claim with 'kubectl vol restore ${f.snapshot.metadata.name} --name NAME'`,
      ),
    ]);
  }
  const pvc = pvcName(ns, name);
  const plain = `'kubectl vol restore ${f.snapshot.metadata.name} --name ${name}'`;
  if (isDeleting(f.snapshot)) {
    return decide([
      deny("inplace-snapshot-deleting", `${snap} is being deleted: restore from another snapshot`),
    ]);
  }
  const error = f.snapshot.status?.error?.message ?? f.content?.status?.error?.message;
  if (error) {
    return decide([
      deny("inplace-snapshot-error", `${snap} failed (${error}): restore from another snapshot`),
    ]);
  }
  if (f.snapshot.status?.readyToUse !== true) {
    return decide([
      deny(
        "inplace-snapshot-ready",
        `${snap} is not ready to use yet: wait until it is (kubectl get volumesnapshot ${f.snapshot.metadata.name} -n ${ns}), then run the restore again`,
      ),
    ]);
  }
  const claim = f.claim;
  if (!claim) {
    return decide([
      deny(
        "inplace-claim-exists",
        `${pvc}, which ${snap} was taken from, does not exist, so there is nothing to restore in place: restore the snapshot under that name with ${plain}`,
      ),
    ]);
  }
  const uid = snapshotClaimUid(f.snapshot);
  if (uid && !claimUids(claim).includes(uid)) {
    return decide([
      deny(
        "inplace-claim-identity",
        `${snap} was taken of an earlier claim named "${name}" (uid ${uid}), not of the current ${pvc} (uid ${claim.metadata?.uid ?? "unknown"}): restore it into a new claim with 'kubectl vol restore ${f.snapshot.metadata.name} --name NAME', or restore ${pvc} from a snapshot of its own`,
      ),
    ]);
  }
  if (claim.metadata?.annotations?.[IN_PLACE.record]) {
    return decide([
      deny(
        "inplace-claim-busy",
        `${pvc} has an in-place restore in progress: finish it with 'kubectl vol restore --in-place --continue ${name} -n ${ns}' or roll it back with 'kubectl vol restore --in-place --abort ${name} -n ${ns}'`,
      ),
    ]);
  }
  if (isDeleting(claim)) {
    return decide([
      deny(
        "inplace-claim-deleting",
        `${pvc} is being deleted: restore the snapshot under that name once it is gone, with ${plain}`,
      ),
    ]);
  }
  const phase = claim.status?.phase ?? "Pending";
  if (phase !== "Bound" || !claim.spec?.volumeName) {
    return decide([
      deny(
        "inplace-claim-bound",
        `${pvc} is ${phase}, not Bound, so it holds no data to replace: delete it and restore the snapshot under that name with ${plain}`,
      ),
    ]);
  }
  if (!f.volume?.spec?.csi) {
    return decide([
      deny(
        "inplace-volume",
        f.volume
          ? `${pvc} is bound to PersistentVolume "${claim.spec.volumeName}", which is not a CSI volume, so it cannot be replaced from a snapshot: restore into a new claim with 'kubectl vol restore ${f.snapshot.metadata.name} --name NAME'`
          : `${pvc} is bound to PersistentVolume "${claim.spec.volumeName}", which does not exist: check the claim with 'kubectl describe pvc ${name} -n ${ns}'`,
      ),
    ]);
  }
  const findings: Finding[] = [];
  const className = claim.spec?.storageClassName;
  if (!className || !f.storageClass) {
    findings.push(
      deny(
        "inplace-class",
        className
          ? `StorageClass "${className}" of ${pvc} does not exist, and the restored claim is provisioned by it: create it again, or restore into a new claim with 'kubectl vol restore ${f.snapshot.metadata.name} --name NAME --storage-class CLASS'`
          : `${pvc} has no StorageClass (a statically bound volume), so nothing would provision the restored claim: restore into a new claim with 'kubectl vol restore ${f.snapshot.metadata.name} --name NAME --storage-class CLASS'`,
      ),
    );
  }
  const driver = f.content?.spec?.driver ?? f.snapshotClassDriver;
  const provisioner = f.storageClass?.provisioner;
  if (driver && provisioner && driver !== provisioner) {
    findings.push(
      deny(
        "inplace-driver",
        `${snap} was cut by driver "${driver}" but ${pvc} is provisioned by "${provisioner}" (StorageClass "${className}"), which cannot restore it: restore into a new claim of a class of "${driver}" with 'kubectl vol restore ${f.snapshot.metadata.name} --name NAME --storage-class CLASS'`,
      ),
    );
  }
  const mode = volumeModeOf(claim);
  const contentMode = f.content?.spec?.sourceVolumeMode;
  const allowed = f.content?.metadata?.annotations?.[ALLOW_VOLUME_MODE_CHANGE_ANNOTATION] === "true";
  if (contentMode && contentMode !== mode && !allowed) {
    findings.push(
      deny(
        "inplace-volume-mode",
        `${snap} was taken from a ${contentMode} volume but ${pvc} is ${mode}: restore into a new claim with spec.volumeMode: ${contentMode}`,
      ),
    );
  }
  const restoreSize = restoreSizeOf(f.snapshot, f.content);
  const request = claim.spec?.resources?.requests?.storage;
  if (restoreSize !== undefined && request !== undefined && compareQuantities(request, restoreSize) === -1) {
    const size = restoredSize(claim, f.snapshot, f.content);
    findings.push(
      warn(
        "inplace-size",
        `${pvc} requests ${request}, less than the ${size} ${snap} holds: the restored claim requests ${size}`,
      ),
    );
  }
  return decide(findings);
}

/** The size of the restored claim: the larger of the claim's request and the snapshot's restoreSize. */
export function restoredSize(
  claim: V1PersistentVolumeClaim,
  snapshot: VolumeSnapshot,
  content: VolumeSnapshotContent | undefined,
): string | undefined {
  const request = claim.spec?.resources?.requests?.storage;
  const restore = parseQuantity(restoreSizeOf(snapshot, content));
  const req = parseQuantity(request);
  if (restore === undefined || (req !== undefined && req >= restore)) return request;
  return formatBytes(restore);
}
