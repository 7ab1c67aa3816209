// What a claim's data source is, how objects are named in messages, and the facts about
// existing volumes and classes the rules compare (driver, size, volume mode). Pure.
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type {
  Caller,
  Decision,
  Finding,
  Lookup,
  ReferenceGrant,
  VolumeSnapshot,
  VolumeSnapshotContent,
} from "./types.ts";

export const SNAPSHOT_API_GROUP = "snapshot.storage.k8s.io";
export const GROUP_SNAPSHOT_API_GROUP = "groupsnapshot.storage.k8s.io";
export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
export const POPULATOR_API_GROUP = "populator.storage.k8s.io";
/** The annotation that marks a VolumeSnapshotClass as its driver's default. */
export const DEFAULT_SNAPSHOT_CLASS_ANNOTATION = "snapshot.storage.kubernetes.io/is-default-class";
/** The annotation on a VolumeSnapshotContent that permits restoring it with another volume mode. */
export const ALLOW_VOLUME_MODE_CHANGE_ANNOTATION = "snapshot.storage.kubernetes.io/allow-volume-mode-change";
/** Set by the PV controller on dynamically provisioned claims: the provisioner (CSI driver) name. */
export const STORAGE_PROVISIONER_ANNOTATIONS = [
  "volume.kubernetes.io/storage-provisioner",
  "volume.beta.kubernetes.io/storage-provisioner",
];

/** A claim's data source, resolved: `spec.dataSourceRef` wins over `spec.dataSource`. */
export interface DataSource {
  /** "" for the core group. */
  apiGroup: string;
  kind: string;
  name: string;
  /** The source's namespace: `dataSourceRef.namespace`, else the claim's. */
  namespace: string;
  /** True when `dataSourceRef.namespace` names a namespace other than the claim's. */
  crossNamespace: boolean;
  /** Which field it came from, for messages. */
  field: "spec.dataSourceRef" | "spec.dataSource";
  /** clone: a PVC; restore: a VolumeSnapshot; other: anything else (a populator's kind, or not allowed). */
  type: "clone" | "restore" | "other";
}

/** The claim's namespace as the rules see it ("default" when unset, as the API server does). */
export function claimNamespace(claim: V1PersistentVolumeClaim): string {
  return claim.metadata?.namespace || "default";
}

export function dataSourceOf(claim: V1PersistentVolumeClaim): DataSource | undefined {
  const ref = claim.spec?.dataSourceRef;
  const ds = claim.spec?.dataSource;
  const chosen = ref?.kind ? ref : ds?.kind ? ds : undefined;
  if (!chosen) return undefined;
  const field = chosen === ref ? "spec.dataSourceRef" : "spec.dataSource";
  const ns = claimNamespace(claim);
  const refNs = chosen === ref ? ref?.namespace : undefined;
  const apiGroup = chosen.apiGroup ?? "";
  const kind = chosen.kind;
  const type =
    apiGroup === "" && kind === "PersistentVolumeClaim"
      ? "clone"
      : apiGroup === SNAPSHOT_API_GROUP && kind === "VolumeSnapshot"
        ? "restore"
        : "other";
  return {
    apiGroup,
    kind,
    name: chosen.name ?? "",
    namespace: refNs || ns,
    crossNamespace: !!refNs && refNs !== ns,
    field,
    type,
  };
}

// --- how objects are named in messages -------------------------------------------------------

export function pvcName(namespace: string, name: string): string {
  return `PVC "${name}" in namespace "${namespace}"`;
}

export function snapshotName(namespace: string, name: string): string {
  return `VolumeSnapshot "${name}" in namespace "${namespace}"`;
}

/** The claim being admitted; it may have only a generateName. */
export function claimName(claim: V1PersistentVolumeClaim): string {
  const ns = claimNamespace(claim);
  const name = claim.metadata?.name;
  if (name) return pvcName(ns, name);
  const gen = claim.metadata?.generateName;
  return gen ? `PVC "${gen}…" in namespace "${ns}"` : `PVC (unnamed) in namespace "${ns}"`;
}

/** "PVC "db"" or "VolumeSnapshot "x"" for a data source (namespace added when it differs). */
export function sourceName(src: DataSource): string {
  if (src.type === "clone")
    return src.crossNamespace ? pvcName(src.namespace, src.name) : `PVC "${src.name}"`;
  if (src.type === "restore")
    return src.crossNamespace ? snapshotName(src.namespace, src.name) : `VolumeSnapshot "${src.name}"`;
  const g = src.apiGroup ? `${src.kind}.${src.apiGroup}` : src.kind;
  return src.crossNamespace ? `${g} "${src.name}" in namespace "${src.namespace}"` : `${g} "${src.name}"`;
}

// --- facts about existing objects -----------------------------------------------------------

export function isDeleting(obj: { metadata?: { deletionTimestamp?: unknown } }): boolean {
  return obj.metadata?.deletionTimestamp !== undefined && obj.metadata?.deletionTimestamp !== null;
}

export function volumeModeOf(claim: V1PersistentVolumeClaim): "Filesystem" | "Block" {
  return claim.spec?.volumeMode === "Block" ? "Block" : "Filesystem";
}

/** The size an existing claim holds: its status capacity, else its request. */
export function claimSize(claim: V1PersistentVolumeClaim): string | undefined {
  return claim.status?.capacity?.storage ?? claim.spec?.resources?.requests?.storage;
}

export function requestOf(claim: V1PersistentVolumeClaim): string | undefined {
  return claim.spec?.resources?.requests?.storage;
}

/** A snapshot's restore size: its status, else its bound content's status (bytes). */
export function restoreSizeOf(
  snap: VolumeSnapshot,
  content: VolumeSnapshotContent | undefined,
): string | number | undefined {
  return snap.status?.restoreSize ?? content?.status?.restoreSize;
}

/**
 * The CSI driver of an existing claim: its volume's `spec.csi.driver` when the Lookup can read
 * volumes, else its StorageClass's provisioner, else the provisioner annotation the PV
 * controller writes. `undefined` when none is known.
 */
export async function volumeDriver(
  pvc: V1PersistentVolumeClaim,
  lookup: Lookup,
): Promise<string | undefined> {
  const volumeName = pvc.spec?.volumeName;
  if (volumeName && lookup.persistentVolume) {
    const pv = await lookup.persistentVolume(volumeName);
    if (pv?.spec?.csi?.driver) return pv.spec.csi.driver;
  }
  const cls = pvc.spec?.storageClassName;
  if (cls) {
    const sc = await lookup.storageClass(cls);
    if (sc?.provisioner) return sc.provisioner;
  }
  for (const a of STORAGE_PROVISIONER_ANNOTATIONS) {
    const v = pvc.metadata?.annotations?.[a];
    if (v) return v;
  }
  return undefined;
}

/** The StorageClass a new claim will be provisioned with. */
export type ClaimClass =
  | { kind: "class"; name: string; class: V1StorageClass }
  /** storageClassName: "" — no dynamic provisioning. */
  | { kind: "none" }
  /** A named class that does not exist (yet). */
  | { kind: "missing"; name: string }
  /** No class named and no default class. */
  | { kind: "no-default" };

const DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class";

export function isDefaultStorageClass(sc: V1StorageClass): boolean {
  const a = sc.metadata?.annotations ?? {};
  return a[DEFAULT_CLASS] === "true" || a["storageclass.beta.kubernetes.io/is-default-class"] === "true";
}

/** The StorageClass marked default, if exactly one is (a claim with no class gets it). */
export async function defaultStorageClass(lookup: Lookup): Promise<V1StorageClass | undefined> {
  const marked = (await lookup.storageClasses()).filter(isDefaultStorageClass);
  return marked.length === 1 ? marked[0] : undefined;
}

/**
 * The StorageClass a new claim for `driver` would use when nothing else says: the default class
 * when its provisioner is `driver`, else the only class whose provisioner is `driver`.
 */
export async function storageClassForDriver(lookup: Lookup, driver: string): Promise<string | undefined> {
  const classes = await lookup.storageClasses();
  const mine = classes.filter((c) => c.provisioner === driver);
  const def = mine.filter(isDefaultStorageClass);
  const pick = def.length === 1 ? def[0] : mine.length === 1 ? mine[0] : undefined;
  return pick?.metadata?.name;
}

export async function claimClass(claim: V1PersistentVolumeClaim, lookup: Lookup): Promise<ClaimClass> {
  const name = claim.spec?.storageClassName;
  if (name === "") return { kind: "none" };
  if (name) {
    const sc = await lookup.storageClass(name);
    return sc ? { kind: "class", name, class: sc } : { kind: "missing", name };
  }
  const def = await defaultStorageClass(lookup);
  return def?.metadata?.name
    ? { kind: "class", name: def.metadata.name, class: def }
    : { kind: "no-default" };
}

/** True when a ReferenceGrant in the source's namespace lets claims of `fromNamespace` use it. */
export function granted(grants: ReferenceGrant[], fromNamespace: string, src: DataSource): boolean {
  return grants.some(
    (g) =>
      (g.spec?.from ?? []).some(
        (f) => f.group === "" && f.kind === "PersistentVolumeClaim" && f.namespace === fromNamespace,
      ) &&
      (g.spec?.to ?? []).some(
        (t) => (t.group ?? "") === src.apiGroup && t.kind === src.kind && (!t.name || t.name === src.name),
      ),
  );
}

/** Whether a finding stops the object where the rules run (see Severity). */
export function blocks(f: Finding, caller: Caller): boolean {
  return f.severity === "deny" || (f.severity === "wait" && caller === "preflight");
}

/** A decision from findings: admitted unless one blocks admission. */
export function decide(findings: Finding[]): Decision {
  return { allowed: !findings.some((f) => blocks(f, "admission")), findings };
}
