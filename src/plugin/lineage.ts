// Where each claim and snapshot came from (the rules' parentOf: LINEAGE annotations, else
// spec.dataSource(Ref) / spec.source), and the tree of what was made from a claim, with a
// deleted link in the middle shown as such (from the ancestors its descendants recorded). Pure.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { ancestorsOf, LINEAGE, type LineageRef, parentOf } from "../rules/index.ts";
import { SCHEDULE_LABEL } from "../rules/schedule/names.ts";
import type { VolumeGroupSnapshot, VolumeSnapshot } from "../rules/types.ts";
import { byText } from "./format.ts";

export type SourceKind = LineageRef["kind"];
export type Ref = LineageRef;

/** The source of a claim: its lineage annotations, else its dataSourceRef / dataSource. */
export function claimSource(pvc: V1PersistentVolumeClaim): Ref | undefined {
  return parentOf("PersistentVolumeClaim", pvc);
}

/** The source of a snapshot: its lineage annotations, else spec.source.persistentVolumeClaimName. */
export function snapshotSource(snap: VolumeSnapshot): Ref | undefined {
  return parentOf("VolumeSnapshot", snap);
}

/**
 * A claim, snapshot or group snapshot; `deleted`: one that is gone, known only from what was
 * made from it. A group snapshot has no source here (its members' sources are their claims).
 */
export type Item =
  | { kind: "PersistentVolumeClaim"; obj: V1PersistentVolumeClaim; deleted?: true }
  | { kind: "VolumeSnapshot"; obj: VolumeSnapshot; deleted?: true }
  | { kind: "VolumeGroupSnapshot"; obj: VolumeGroupSnapshot; deleted?: true };

export function itemName(item: Item): string {
  return item.obj.metadata?.name ?? "";
}
export function itemNamespace(item: Item): string {
  return item.obj.metadata?.namespace ?? "";
}
export function itemSource(item: Item): Ref | undefined {
  if (item.kind === "VolumeGroupSnapshot") return undefined;
  return item.kind === "PersistentVolumeClaim" ? claimSource(item.obj) : snapshotSource(item.obj);
}

/** The SnapshotSchedule that made a snapshot or a group snapshot (its label), if one did. */
export function scheduleOf(item: Item): string | undefined {
  return item.kind === "VolumeSnapshot" || item.kind === "VolumeGroupSnapshot"
    ? item.obj.metadata.labels?.[SCHEDULE_LABEL] || undefined
    : undefined;
}

export interface TreeNode {
  item: Item;
  children: TreeNode[];
}

const key = (ns: string, kind: string, name: string) => `${ns}\u0000${kind}\u0000${name}`;

/**
 * `items` (one namespace) and, for every source they name that is not among them, a deleted
 * placeholder whose own source is the nearest ancestor the descendant recorded (so the tree can
 * go on through it). A source recorded without ancestors stays unattached.
 */
export function withMissingLinks(items: Item[]): Item[] {
  const out = [...items];
  const known = new Set(items.map((i) => key(itemNamespace(i), i.kind, itemName(i))));
  for (let i = 0; i < out.length; i++) {
    const it = out[i] as Item;
    const src = itemSource(it);
    const ns = itemNamespace(it);
    if (!src || known.has(key(ns, src.kind, src.name))) continue;
    known.add(key(ns, src.kind, src.name));
    const chain = ancestorsOf(it.obj);
    const parent = chain.at(-1);
    const annotations: Record<string, string> = parent
      ? {
          [LINEAGE.sourceKind]: parent.kind,
          [LINEAGE.sourceName]: parent.name,
          [LINEAGE.ancestors]: chain
            .slice(0, -1)
            .map((r) => `${r.kind}/${r.name}`)
            .join(","),
        }
      : {};
    const metadata = { name: src.name, namespace: ns, annotations };
    out.push(
      src.kind === "PersistentVolumeClaim"
        ? { kind: src.kind, obj: { metadata }, deleted: true }
        : { kind: src.kind, obj: { metadata, spec: { source: {} } }, deleted: true },
    );
  }
  return out;
}

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
  return ta - tb || byText(itemName(a), itemName(b));
}
