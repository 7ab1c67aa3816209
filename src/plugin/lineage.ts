// Where each claim and snapshot came from, and the tree of what was made from a claim. The
// plugin (and the webhook's mutation) record the source in annotations under LINEAGE_PREFIX;
// objects made by hand fall back to spec.dataSource(Ref) / spec.source. Pure.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { LINEAGE_PREFIX, type VolumeSnapshot } from "../rules/types.ts";

export const SOURCE_KIND_ANNOTATION = `${LINEAGE_PREFIX}source-kind`;
export const SOURCE_NAME_ANNOTATION = `${LINEAGE_PREFIX}source-name`;
/** Set by the plugin on what it creates: "snapshot", "clone" or "restore". */
export const CREATED_BY_ANNOTATION = `${LINEAGE_PREFIX}created-by`;

export type SourceKind = "PersistentVolumeClaim" | "VolumeSnapshot";
export interface Ref {
  kind: SourceKind;
  name: string;
}

/** The lineage annotations for an object made from `source` by `verb`. */
export function lineageAnnotations(
  source: Ref,
  verb: "snapshot" | "clone" | "restore",
): Record<string, string> {
  return {
    [SOURCE_KIND_ANNOTATION]: source.kind,
    [SOURCE_NAME_ANNOTATION]: source.name,
    [CREATED_BY_ANNOTATION]: `kubectl-vol ${verb}`,
  };
}

function fromAnnotations(annotations: Record<string, string> | undefined): Ref | undefined {
  const kind = annotations?.[SOURCE_KIND_ANNOTATION];
  const name = annotations?.[SOURCE_NAME_ANNOTATION];
  if (!name || (kind !== "PersistentVolumeClaim" && kind !== "VolumeSnapshot")) return undefined;
  return { kind, name };
}

/** The source of a claim: its lineage annotations, else its dataSourceRef / dataSource. */
export function claimSource(pvc: V1PersistentVolumeClaim): Ref | undefined {
  const annotated = fromAnnotations(pvc.metadata?.annotations);
  if (annotated) return annotated;
  const ds = pvc.spec?.dataSourceRef ?? pvc.spec?.dataSource;
  if (!ds?.name) return undefined;
  if (ds.kind === "PersistentVolumeClaim" && !ds.apiGroup) return { kind: ds.kind, name: ds.name };
  if (ds.kind === "VolumeSnapshot" && ds.apiGroup === "snapshot.storage.k8s.io") {
    return { kind: ds.kind, name: ds.name };
  }
  return undefined;
}

/** The source of a snapshot: its lineage annotations, else spec.source.persistentVolumeClaimName. */
export function snapshotSource(snap: VolumeSnapshot): Ref | undefined {
  const annotated = fromAnnotations(snap.metadata.annotations);
  if (annotated) return annotated;
  const name = snap.spec?.source?.persistentVolumeClaimName;
  return name ? { kind: "PersistentVolumeClaim", name } : undefined;
}

export type Item =
  | { kind: "PersistentVolumeClaim"; obj: V1PersistentVolumeClaim }
  | { kind: "VolumeSnapshot"; obj: VolumeSnapshot };

export function itemName(item: Item): string {
  return item.obj.metadata?.name ?? "";
}
export function itemNamespace(item: Item): string {
  return item.obj.metadata?.namespace ?? "";
}
export function itemSource(item: Item): Ref | undefined {
  return item.kind === "PersistentVolumeClaim" ? claimSource(item.obj) : snapshotSource(item.obj);
}

export interface TreeNode {
  item: Item;
  children: TreeNode[];
}

const key = (ns: string, kind: string, name: string) => `${ns}\u0000${kind}\u0000${name}`;

/**
 * The lineage tree under `root` among `items` (one namespace): snapshots of a claim and claims
 * cloned from it, claims restored from a snapshot, recursively; ordered by creation time then
 * name. A cycle (only possible with hand-edited annotations) is cut where it closes.
 */
export function lineageTree(root: Item, items: Item[]): TreeNode {
  const byParent = new Map<string, Item[]>();
  for (const it of items) {
    const src = itemSource(it);
    if (!src) continue;
    const k = key(itemNamespace(it), src.kind, src.name);
    const list = byParent.get(k) ?? [];
    list.push(it);
    byParent.set(k, list);
  }
  const seen = new Set<string>();
  const build = (item: Item): TreeNode => {
    const k = key(itemNamespace(item), item.kind, itemName(item));
    seen.add(k);
    const kids = (byParent.get(k) ?? []).filter((c) => !seen.has(key(itemNamespace(c), c.kind, itemName(c))));
    kids.sort(byCreation);
    return { item, children: kids.map(build) };
  };
  return build(root);
}

/** The root and everything in its tree, depth first. */
export function flatten(node: TreeNode): Item[] {
  return [node.item, ...node.children.flatMap(flatten)];
}

export function byCreation(a: Item, b: Item): number {
  const ta = new Date(a.obj.metadata?.creationTimestamp ?? 0).getTime();
  const tb = new Date(b.obj.metadata?.creationTimestamp ?? 0).getTime();
  return ta - tb || itemName(a).localeCompare(itemName(b));
}
