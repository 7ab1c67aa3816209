// The contract of the data-source rules, shared by the webhook (server side) and the plugin
// (pre-flight). The rules are pure: they read the objects they need through a Lookup that the
// caller fills (the webhook from its watch caches with a direct read on a miss; the plugin from
// direct reads; unit tests from plain maps) and perform no other I/O.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type { LabelSelector } from "./selector.ts";

/** snapshot.storage.k8s.io/v1 objects, as far as the rules read them. */
export interface VolumeSnapshot {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    deletionTimestamp?: string | Date;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    uid?: string;
    creationTimestamp?: string | Date;
    /** A member of a VolumeGroupSnapshot is owned by it. */
    ownerReferences?: { apiVersion?: string; kind?: string; name?: string; uid?: string }[];
  };
  spec: {
    source: { persistentVolumeClaimName?: string; volumeSnapshotContentName?: string };
    volumeSnapshotClassName?: string;
  };
  status?: {
    boundVolumeSnapshotContentName?: string;
    readyToUse?: boolean;
    restoreSize?: string;
    creationTime?: string;
    error?: { message?: string; time?: string };
    /** Set by snapshot-controller on the members of a group snapshot. */
    volumeGroupSnapshotName?: string;
  };
}

export interface VolumeSnapshotContent {
  metadata: {
    name: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
    deletionTimestamp?: string | Date;
  };
  spec: {
    driver: string;
    volumeSnapshotRef: { name?: string; namespace?: string };
    sourceVolumeMode?: "Filesystem" | "Block";
    volumeSnapshotClassName?: string;
    source: { volumeHandle?: string; snapshotHandle?: string };
  };
  status?: {
    readyToUse?: boolean;
    restoreSize?: number;
    snapshotHandle?: string;
    error?: { message?: string };
  };
}

export interface VolumeSnapshotClass {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> };
  driver: string;
  deletionPolicy: "Delete" | "Retain";
  parameters?: Record<string, string>;
}

/** groupsnapshot.storage.k8s.io/v1 VolumeGroupSnapshot, as far as the rules and the plugin read it. */
export interface VolumeGroupSnapshot {
  apiVersion?: string;
  kind?: string;
  metadata: VolumeSnapshot["metadata"];
  spec: {
    source: { selector?: LabelSelector; volumeGroupSnapshotContentName?: string };
    volumeGroupSnapshotClassName?: string;
  };
  status?: {
    boundVolumeGroupSnapshotContentName?: string;
    creationTime?: string;
    readyToUse?: boolean;
    error?: { message?: string; time?: string };
  };
}

/** groupsnapshot.storage.k8s.io/v1 VolumeGroupSnapshotClass: the same fields as a VolumeSnapshotClass. */
export type VolumeGroupSnapshotClass = VolumeSnapshotClass & { apiVersion?: string; kind?: string };

/** gateway.networking.k8s.io ReferenceGrant, as far as the rules read it. */
export interface ReferenceGrant {
  metadata: { name: string; namespace?: string };
  spec: {
    from: { group: string; kind: string; namespace: string }[];
    to: { group: string; kind: string; name?: string }[];
  };
}

/** The kind a VolumePopulator (populator.storage.k8s.io) registers. */
export interface PopulatorKind {
  group: string;
  kind: string;
}

/** Read access to the cluster, filled by the caller. `undefined` means "does not exist". */
export interface Lookup {
  pvc(namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined>;
  storageClass(name: string): Promise<V1StorageClass | undefined>;
  /** Every StorageClass (the default one and the ones of a driver are found among them). */
  storageClasses(): Promise<V1StorageClass[]>;
  volumeSnapshot(namespace: string, name: string): Promise<VolumeSnapshot | undefined>;
  volumeSnapshotContent(name: string): Promise<VolumeSnapshotContent | undefined>;
  volumeSnapshotClasses(): Promise<VolumeSnapshotClass[]>;
  /** ReferenceGrants in a namespace; `undefined` when the CRD is not installed. */
  referenceGrants(namespace: string): Promise<ReferenceGrant[] | undefined>;
  /** Kinds registered by VolumePopulators; `undefined` when the CRD is not installed. */
  populatorKinds(): Promise<PopulatorKind[] | undefined>;
  /**
   * Optional: a PersistentVolume by name. When given, the driver of a Bound claim is read from
   * its volume's `spec.csi.driver` (what csi-provisioner and snapshot-controller use); without
   * it the rules fall back to the claim's StorageClass provisioner.
   */
  persistentVolume?(name: string): Promise<V1PersistentVolume | undefined>;
  /** Optional: every claim of a namespace (the group snapshot rules match a selector among them). */
  pvcs?(namespace: string): Promise<V1PersistentVolumeClaim[]>;
  /** Optional: every VolumeGroupSnapshotClass; `undefined` when the group snapshot CRDs are not installed. */
  volumeGroupSnapshotClasses?(): Promise<VolumeGroupSnapshotClass[] | undefined>;
  /** Optional: every PersistentVolume (a snapshot content names its volumes by CSI handle, not by name). */
  persistentVolumes?(): Promise<V1PersistentVolume[]>;
}

/** The admission operation a check runs for. Only CREATE is checked; the others pass. */
export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

/**
 * How a finding weighs. `deny`: refused wherever the rules run. `warn`: admitted, with the
 * message. `wait`: valid, but its source is not ready (a Pending claim, which may wait for a
 * first consumer): Kubernetes admits such an object and it waits, so the webhook admits it with
 * a warning (a file holding a source and its copy applies whole), while the plugin's pre-flight
 * stops with the message (what it would create could only wait). `blocks` is that one rule.
 */
export type Severity = "deny" | "warn" | "wait";

/** Where the rules run: the admission webhook, or the plugin before it creates anything. */
export type Caller = "admission" | "preflight";

/** One finding of one rule. `rule` is a stable id (used in metrics and tests). */
export interface Finding {
  rule: string;
  severity: Severity;
  /** One sentence: what is wrong, with which object, and what to do. */
  message: string;
}

export interface Decision {
  allowed: boolean;
  /** Every finding; `allowed` (for admission) is false when any blocks admission (severity "deny"). */
  findings: Finding[];
}

/** The lineage annotations the mutating webhook and the plugin write on a claim. */
export const LINEAGE_PREFIX = "vol.kubectl.io/";

/** What `chooseSnapshotClass` (or `chooseGroupSnapshotClass`) picked, and why. */
export type ClassChoice<C = VolumeSnapshotClass> =
  | {
      ok: true;
      class: C;
      /** named: spec.volumeSnapshotClassName; default: the driver's default class; only: the driver's only class. */
      how: "named" | "default" | "only";
    }
  | {
      ok: false;
      /** One sentence naming the driver, the candidates and the fix. */
      message: string;
      /** Names of the classes of that driver (all classes when none is). */
      candidates: string[];
    };

/** The result of `defaultClaim`: a changed deep copy (the input is never modified) and advice. */
export interface Defaulted {
  claim: V1PersistentVolumeClaim;
  /** Findings of severity "warn" explaining what was changed or could not be derived. */
  warnings: Finding[];
}
