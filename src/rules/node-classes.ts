// Per-node copies of VolumeGroupSnapshotClasses. With distributed snapshotting each node's
// csi-snapshotter (--node-deployment, v8.6.0) lists only the VolumeGroupSnapshotClasses labelled
// snapshot.storage.kubernetes.io/managed-by=<its node>, so a class shared by all nodes is found by
// none of them. vol-controller keeps one copy of each class of a node-local driver per node that
// runs the driver (labelled for that node, never a default), and the mutating webhook points a
// new VolumeGroupSnapshotContent at its node's copy when it labels the content. Users name and
// see only the classes they made: the copies are left out of class choice. Pure.
import { SNAPSHOT_MANAGED_BY } from "./defaults.ts";
import type { VolumeGroupSnapshotClass } from "./types.ts";

/** On a copy: the name of the class it copies. */
export const COPY_OF = "vol.kubectl.io/copy-of";

const MAX_NAME = 253;

/** Whether a class is a per-node copy that vol-controller keeps (not a class a user made). */
export function isNodeCopy(c: { metadata?: { labels?: Record<string, string> } }): boolean {
  return c.metadata?.labels?.[COPY_OF] !== undefined;
}

/** The name of the copy of class `name` for `node` (both DNS subdomains, so `name.node` is one when short enough). */
export function nodeClassName(name: string, node: string): string {
  const joined = `${name}.${node}`;
  if (joined.length <= MAX_NAME) return joined;
  // FNV-1a of the node name keeps long names apart without a crypto import in the rules.
  let h = 0x811c9dc5;
  for (let i = 0; i < node.length; i++) h = Math.imul(h ^ node.charCodeAt(i), 0x01000193) >>> 0;
  const tail = `.${h.toString(16).padStart(8, "0")}`;
  return `${name.slice(0, MAX_NAME - tail.length).replace(/[-.]+$/, "")}${tail}`;
}

/** The copies there should be: every class of `drivers` (not itself a copy or labelled for a node) on every node of its driver. */
export function desiredNodeClasses(
  classes: readonly VolumeGroupSnapshotClass[],
  nodesByDriver: ReadonlyMap<string, readonly string[]>,
): VolumeGroupSnapshotClass[] {
  const out: VolumeGroupSnapshotClass[] = [];
  for (const c of classes) {
    if (isNodeCopy(c) || c.metadata.labels?.[SNAPSHOT_MANAGED_BY]) continue;
    for (const node of nodesByDriver.get(c.driver) ?? []) {
      out.push({
        apiVersion: "groupsnapshot.storage.k8s.io/v1",
        kind: "VolumeGroupSnapshotClass",
        metadata: {
          name: nodeClassName(c.metadata.name, node),
          labels: {
            [SNAPSHOT_MANAGED_BY]: node,
            [COPY_OF]: c.metadata.name,
            "app.kubernetes.io/managed-by": "vol-controller",
          },
        },
        driver: c.driver,
        deletionPolicy: c.deletionPolicy,
        ...(c.parameters ? { parameters: { ...c.parameters } } : {}),
      });
    }
  }
  return out;
}

export interface NodeClassPlan {
  create: VolumeGroupSnapshotClass[];
  /** Copies whose original or node is gone (or that differ: classes are immutable, so they are made again). */
  remove: string[];
}

/** What to do to go from the copies there are to the copies there should be. */
export function planNodeClasses(
  existing: readonly VolumeGroupSnapshotClass[],
  desired: readonly VolumeGroupSnapshotClass[],
): NodeClassPlan {
  const have = new Map(existing.filter(isNodeCopy).map((c) => [c.metadata.name, c]));
  const create: VolumeGroupSnapshotClass[] = [];
  const remove: string[] = [];
  const wanted = new Set<string>();
  for (const d of desired) {
    wanted.add(d.metadata.name);
    const h = have.get(d.metadata.name);
    if (!h) {
      create.push(d);
      continue;
    }
    const same =
      h.driver === d.driver &&
      h.deletionPolicy === d.deletionPolicy &&
      JSON.stringify(h.parameters ?? {}) === JSON.stringify(d.parameters ?? {}) &&
      h.metadata.labels?.[SNAPSHOT_MANAGED_BY] === d.metadata.labels?.[SNAPSHOT_MANAGED_BY];
    if (!same) {
      remove.push(d.metadata.name);
      create.push(d);
    }
  }
  for (const name of have.keys()) if (!wanted.has(name)) remove.push(name);
  return { create, remove };
}

/**
 * The class a new VolumeGroupSnapshotContent on `node` should name: its node's copy of the class
 * it names, unless that class is already one a node's csi-snapshotter lists (labelled for a node).
 */
export function contentClassFor(
  className: string | undefined,
  node: string,
  classes: readonly VolumeGroupSnapshotClass[] | undefined,
): string | undefined {
  if (!className) return undefined;
  const c = classes?.find((x) => x.metadata.name === className);
  if (c?.metadata.labels?.[SNAPSHOT_MANAGED_BY]) return undefined;
  return nodeClassName(className, node);
}
