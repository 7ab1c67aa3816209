// The data-source rules and defaults, shared by the webhook (server side, every `kubectl apply`)
// and the plugin (pre-flight). Pure functions: they read the cluster only through the `Lookup`
// the caller fills (`memoryLookup` builds one from plain lists) and perform no other I/O. They
// never throw for bad objects; an error thrown by the Lookup propagates.
//
// Stable API (signatures do not change; additions only):
//
//   checkClaim(claim, lookup, op = "CREATE"): Promise<Decision>
//     A PVC with spec.dataSource / spec.dataSourceRef (dataSourceRef wins). Only CREATE is
//     checked; UPDATE/DELETE/CONNECT are always allowed (the source is immutable; finalizers,
//     labels, annotations, status and deletion must keep working). Rules, in order (the first
//     two stop the check when they deny; nothing in another namespace is read before a grant):
//       source-kind          (first, droppedDataSource) a spec.dataSource of another kind with no
//                            dataSourceRef: Kubernetes drops it and creates the claim empty
//       source-kind          PersistentVolumeClaim (core), VolumeSnapshot (snapshot.storage.k8s.io),
//                            or a kind a VolumePopulator registers (when that CRD exists)
//       source-namespace     dataSourceRef.namespace ≠ claim's: needs a ReferenceGrant there
//       clone-source-exists | clone-source-deleting
//       clone-source-bound   Lost: deny; Pending: wait (admitted with a warning by the webhook,
//                            stopped by the plugin's pre-flight; see Severity and blocks())
//       clone-source-csi     the source's volume is a CSI volume (a hostPath PV cannot be cloned)
//       clone-driver         the new claim's StorageClass provisioner = the source volume's driver
//                            (deny on mismatch or storageClassName ""; warn when unknowable)
//       clone-volume-mode    same volumeMode
//       clone-size           request ≥ the source's capacity
//       restore-source-exists | restore-source-deleting | restore-source-error
//       restore-source-ready (warn) not ready yet: admitted, so apply-both-at-once works
//       restore-driver       the new claim's StorageClass provisioner = the content's driver
//       restore-volume-mode  = content.spec.sourceVolumeMode unless the content carries
//                            snapshot.storage.kubernetes.io/allow-volume-mode-change: "true"
//       restore-size         request ≥ restoreSize
//
//   defaultClaim(claim, lookup, { raise = true }?): Promise<Defaulted>  → { claim: changed deep copy, warnings }
//     No request → the source's size (restore: max(restoreSize, the snapshotted PVC's request));
//     a request below the source → raised (warning, rule clone-size / restore-size) unless
//     raise: false (the webhook, where checkClaim denies it instead); no
//     volumeMode → the source's; no storageClassName → the source's; LINEAGE annotations.
//     Idempotent. The input is never modified.
//
//   checkSnapshot(snapshot, lookup, op = "CREATE"): Promise<Decision>
//     snapshot-source-exists | snapshot-source-bound (Pending: wait, else deny) | snapshot-source-deleting
//     snapshot-source-csi  the PVC's volume is a CSI volume (only a CSI driver takes snapshots)
//     snapshot-class   named class exists and is for the PVC's driver; none named → the driver
//                      has exactly one default class
//     snapshot-content-exists (warn) pre-provisioned content not there yet
//
//   blocks(finding, "admission" | "preflight"): whether a finding stops the object there
//     (deny everywhere; wait only in the pre-flight; warn never). Decision.allowed is for admission.
//
//   chooseSnapshotClass(driver, classes, named?): ClassChoice
//     named → must exist and be for `driver`; else the driver's default class; else its only
//     class (how: "only"); else { ok: false, message, candidates }.
//
//   volumeDriver(pvc, lookup): the CSI driver of an existing claim (PV spec.csi.driver when the
//     Lookup has persistentVolume, else its StorageClass provisioner, else the PV controller's
//     provisioner annotation).
//   dataSourceOf(claim), lineageAnnotations(src, source?, snapshotOf?), LINEAGE, parentOf and
//     ancestorsOf (where an object came from, and the chain above that),
//   parseQuantity / compareQuantities / formatBytes, memoryLookup(objects).
//
//   checkGroupSnapshot(group, lookup, op = "CREATE"): Promise<Decision>
//     A VolumeGroupSnapshot with spec.source.selector (only CREATE is checked; status, finalizer
//     and label updates pass). groupFacts(namespace, selector, className?, lookup) runs the
//     rules and returns the members, their driver and node and the class chosen:
//       group-selector      the selector matches at least one PVC of the namespace
//       group-member-bound  every member Bound and not being deleted
//       group-member-csi    every member on a CSI volume
//       group-driver        one CSI driver (known) for all members
//       group-node          one node for a node-local driver (NODE_LOCAL_DRIVERS, or volumes whose
//                           node affinity uses topology.vol.kubectl.io/node); claimNode
//       group-class         chooseGroupSnapshotClass: named, else the driver's default
//                           (groupsnapshot.storage.kubernetes.io/is-default-class), else its only
//                           class (the webhook then asks to name it)
//     Needs the Lookup's optional pvcs and volumeGroupSnapshotClasses. A member VolumeSnapshot
//     (isGroupMember: owned by a VolumeGroupSnapshot) passes checkSnapshot.
//   LabelSelector, matchesSelector, selectorString (selector.ts).
//
//   checkInPlace(facts): Decision — the pre-flight of `kubectl vol restore S --in-place` over the
//     objects read (inplace-* rules); IN_PLACE (its annotations), snapshotClaimName/Uid,
//     claimUids, restoredSize.
//
// SnapshotSchedule rules live in ./schedule/ (imported by file, not from here): spec.ts (the
// resource and its spec checks), cron.ts, slots.ts, names.ts, retention.ts, and check.ts
// (checkSchedule, the admission checks the plugin and the webhook both run).
//
// Messages are one sentence naming the object and the fix, e.g.
//   PVC "db" in namespace "shop" is Pending, not Bound: a clone needs a Bound source
export { checkClaim, droppedDataSource, readSources, type Sources, sourcePermitted } from "./claim.ts";
export { type DefaultOptions, defaultClaim, SELECTED_NODE, SNAPSHOT_MANAGED_BY } from "./defaults.ts";
export {
  buildGroupSnapshot,
  checkGroupSnapshot,
  chooseGroupSnapshotClass,
  claimNode,
  DEFAULT_GROUP_SNAPSHOT_CLASS_ANNOTATION,
  type GroupFacts,
  groupFacts,
  groupMembers,
  groupReady,
  groupSnapshotName,
  memberClaim,
  memberOf,
  NODE_LOCAL_DRIVERS,
} from "./group.ts";
export {
  checkInPlace,
  claimUids,
  IN_PLACE,
  type InPlaceFacts,
  restoredSize,
  snapshotClaimName,
  snapshotClaimUid,
} from "./inplace.ts";
export { ancestorsOf, LINEAGE, type LineageRef, lineageAnnotations, parentOf } from "./lineage.ts";
export {
  type ManagedBy,
  managedByFor,
  NODE_KEYS,
  nodeOfVolume,
  type SnapshotContentLike,
} from "./managed-by.ts";
export { memoryLookup, type Objects } from "./memory-lookup.ts";
export {
  COPY_OF,
  contentClassFor,
  desiredNodeClasses,
  isNodeCopy,
  type NodeClassPlan,
  nodeClassName,
  planNodeClasses,
} from "./node-classes.ts";
export { compareQuantities, formatBytes, parseQuantity } from "./quantity.ts";
export { type LabelSelector, matchesSelector, selectorString } from "./selector.ts";
export {
  checkSnapshot,
  chooseClass,
  chooseSnapshotClass,
  isDefaultSnapshotClass,
  isGroupMember,
} from "./snapshot.ts";
export {
  ALLOW_VOLUME_MODE_CHANGE_ANNOTATION,
  blocks,
  type ClaimClass,
  claimClass,
  claimName,
  claimNamespace,
  type DataSource,
  DEFAULT_SNAPSHOT_CLASS_ANNOTATION,
  dataSourceOf,
  decide,
  defaultStorageClass,
  GATEWAY_API_GROUP,
  GROUP_SNAPSHOT_API_GROUP,
  isDefaultStorageClass,
  POPULATOR_API_GROUP,
  pvcName,
  SNAPSHOT_API_GROUP,
  snapshotName,
  storageClassForDriver,
  volumeDriver,
} from "./source.ts";
export * from "./types.ts";
export { nonCsiSourceFinding, nonCsiVolumeType } from "./volume.ts";
