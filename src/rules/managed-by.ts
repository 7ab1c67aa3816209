// The node whose csi-snapshotter owns a snapshot content of a node-local driver. With
// distributed snapshotting each node's csi-snapshotter (--node-deployment) only sees the
// VolumeSnapshotContents and VolumeGroupSnapshotContents labelled
// snapshot.storage.kubernetes.io/managed-by=<its node>. snapshot-controller (v8.6.0) sets that
// label on the content of a single VolumeSnapshot, but not on a VolumeGroupSnapshotContent nor
// on the member VolumeSnapshotContents it makes for a group: no node would ever cut or finish a
// group. The mutating webhook fills the label in on CREATE from the members' PersistentVolumes
// (their node affinity, which csi-provisioner sets from the driver's topology). Pure.
import type { V1PersistentVolume } from "@kubernetes/client-node";
import { SNAPSHOT_MANAGED_BY } from "./defaults.ts";
import type { Finding } from "./types.ts";

/** Node affinity keys that pin a volume to one node: this project's driver topology, the node name. */
export const NODE_KEYS = ["topology.vol.kubectl.io/node", "kubernetes.io/hostname"] as const;

/** A VolumeSnapshotContent or a VolumeGroupSnapshotContent, as far as the label needs. */
export interface SnapshotContentLike {
  metadata?: { name?: string; labels?: Record<string, string> };
  spec?: {
    driver?: string;
    source?: { volumeHandle?: string; volumeHandles?: string[] };
    /** A VolumeGroupSnapshotContent's class. */
    volumeGroupSnapshotClassName?: string;
  };
}

/** The node a PersistentVolume's node affinity pins it to (one value of a node key), if any. */
export function nodeOfVolume(pv: V1PersistentVolume, nodeKeys: readonly string[]): string | undefined {
  for (const term of pv.spec?.nodeAffinity?.required?.nodeSelectorTerms ?? []) {
    for (const e of term.matchExpressions ?? []) {
      if (nodeKeys.includes(e.key) && e.operator === "In" && e.values?.length === 1) return e.values[0];
    }
  }
  return undefined;
}

export interface ManagedBy {
  /** The label value to set; undefined when none can be derived (or the label is already there). */
  node?: string;
  findings: Finding[];
}

/**
 * The managed-by node for `content` of `driver`, from the PersistentVolumes `pvs` (every one the
 * caller knows of; those of the content's volume handles are picked). Members on several nodes
 * get the first member's node (its driver then refuses the group, naming the stranger volume,
 * which surfaces on the VolumeGroupSnapshot's status instead of leaving it pending forever).
 */
export function managedByFor(
  content: SnapshotContentLike,
  driver: string,
  nodeKeys: readonly string[],
  pvs: readonly V1PersistentVolume[],
): ManagedBy {
  const findings: Finding[] = [];
  if (content.spec?.driver !== driver || content.metadata?.labels?.[SNAPSHOT_MANAGED_BY]) return { findings };
  const src = content.spec?.source;
  const handles = src?.volumeHandles ?? (src?.volumeHandle ? [src.volumeHandle] : []);
  if (handles.length === 0) return { findings }; // pre-provisioned: a snapshot handle, no volume
  const nodes: string[] = [];
  for (const h of handles) {
    const pv = pvs.find((v) => v.spec?.csi?.driver === driver && v.spec.csi.volumeHandle === h);
    const node = pv ? nodeOfVolume(pv, nodeKeys) : undefined;
    if (!node) {
      findings.push({
        rule: "managed-by",
        severity: "warn",
        message: `no PersistentVolume of driver ${driver} with volume handle ${h} names its node, so ${content.metadata?.name ?? "the snapshot content"} was not labelled ${SNAPSHOT_MANAGED_BY} and no node's csi-snapshotter will act on it: label it with the node that holds the volume`,
      });
      continue;
    }
    if (!nodes.includes(node)) nodes.push(node);
  }
  if (nodes.length > 1) {
    findings.push({
      rule: "managed-by",
      severity: "warn",
      message: `the volumes of ${content.metadata?.name ?? "the snapshot content"} are on nodes ${nodes.join(", ")}: node-local volumes on more than one node cannot be snapshotted together; group claims of one node only`,
    });
  }
  return nodes[0] ? { node: nodes[0], findings } : { findings };
}
