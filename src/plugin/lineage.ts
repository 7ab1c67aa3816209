// Where each claim and snapshot came from, and the tree of what was made from a claim. The
// plugin and the webhook's mutation record the source in the rules' LINEAGE annotations;
// objects made by hand fall back to spec.dataSource(Ref) / spec.source. Pure.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { SCHEDULE_LABEL } from "../controller/names.ts";
import { dataSourceOf, LINEAGE } from "../rules/index.ts";
import type { VolumeSnapshot } from "../rules/types.ts";

export type SourceKind = "PersistentVolumeClaim" | "VolumeSnapshot";
export interface Ref {
  kind: SourceKind;
  name: string;
}

function fromAnnotations(annotations: Record<string, string> | undefined): Ref | undefined {
  const kind = annotations?.[LINEAGE.sourceKind];
  const name = annotations?.[LINEAGE.sourceName];
  if (!name || (kind !== "PersistentVolumeClaim" && kind !== "VolumeSnapshot")) return undefined;
  return { kind, name };
}

/** The source of a claim: its lineage annotations, else its dataSourceRef / dataSource. */
export function claimSource(pvc: V1PersistentVolumeClaim): Ref | undefined {
  const annotated = fromAnnotations(pvc.metadata?.annotations);
  if (annotated) return annotated;
  const ds = dataSourceOf(pvc);
  if (!ds?.name || ds.crossNamespace || ds.type === "other") return undefined;
  return { kind: ds.type === "clone" ? "PersistentVolumeClaim" : "VolumeSnapshot", name: ds.name };
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

/** The SnapshotSchedule that made a snapshot (its label), if one did. */
export function scheduleOf(item: Item): string | undefined {
  return item.kind === "VolumeSnapshot" ? item.obj.metadata.labels?.[SCHEDULE_LABEL] || undefined : undefined;
}

export interface TreeNode {
  item: Item;
  children: TreeNode[];
}

const key = (ns: string, kind: string, name: string) => `${ns}\u0000${kind}\u0000${name}`;

/**
 * The lineage tree under `root` among `items` (one namespace): snapshots of a claim and claims
 * cloned from it, claims restored from a snapshot, recursively; a claim's snapshots come before
 * its clones, each by creation time then name. A cycle (only possible with hand-edited annotations) is cut where it closes.
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
    kids.sort((a, b) => kindOrder(a) - kindOrder(b) || byCreation(a, b));
    return { item, children: kids.map(build) };
  };
  return build(root);
}

/** The root and everything in its tree, depth first. */
export function flatten(node: TreeNode): Item[] {
  return [node.item, ...node.children.flatMap(flatten)];
}

const kindOrder = (i: Item) => (i.kind === "VolumeSnapshot" ? 0 : 1);

export function byCreation(a: Item, b: Item): number {
  const ta = new Date(a.obj.metadata?.creationTimestamp ?? 0).getTime();
  const tb = new Date(b.obj.metadata?.creationTimestamp ?? 0).getTime();
  return ta - tb || itemName(a).localeCompare(itemName(b));
}
