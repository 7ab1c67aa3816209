// The claims and snapshots of a namespace (or all) as lineage items, and the columns list and
// tree print them with. The columns are pure functions of an item.

import { selectorString } from "../rules/index.ts";
import { claimSize } from "./build.ts";
import type { Cluster } from "./cluster.ts";
import { formatAge } from "./format.ts";
import { type Item, itemName, itemNamespace, itemSource } from "./lineage.ts";
import { type Column, shortName } from "./printers.ts";
import type { Sink } from "./wait.ts";

/**
 * Every claim, snapshot and group snapshot; without the snapshot API, claims only (with a
 * warning); without the group snapshot CRDs, no group snapshots.
 */
export async function inventory(cluster: Cluster, namespace: string | undefined, err: Sink): Promise<Item[]> {
  const [claims, snaps, groups] = await Promise.all([
    cluster.listClaims(namespace),
    cluster.listSnapshots(namespace).catch((e: Error) => {
      if (e.name !== "MissingApiError") throw e;
      err.write(`Warning: ${e.message}; showing claims only\n`);
      return [];
    }),
    cluster.listGroupSnapshots(namespace),
  ]);
  return [
    ...claims.map((obj): Item => ({ kind: "PersistentVolumeClaim", obj })),
    ...snaps.map((obj): Item => ({ kind: "VolumeSnapshot", obj })),
    ...groups.map((obj): Item => ({ kind: "VolumeGroupSnapshot", obj })),
  ];
}

export function ready(it: Item): string {
  return it.kind === "PersistentVolumeClaim"
    ? String(it.obj.status?.phase === "Bound")
    : String(it.obj.status?.readyToUse === true);
}

export function size(it: Item): string {
  if (it.kind === "VolumeGroupSnapshot") return "";
  return (it.kind === "PersistentVolumeClaim" ? claimSize(it.obj) : it.obj.status?.restoreSize) ?? "";
}

export function status(it: Item): string {
  if (it.kind === "PersistentVolumeClaim") return it.obj.status?.phase ?? "Pending";
  if (it.obj.status?.readyToUse) return "ReadyToUse";
  return it.obj.status?.error?.message ? "Error" : "Pending";
}

export function className(it: Item): string {
  if (it.kind === "VolumeGroupSnapshot") return it.obj.spec?.volumeGroupSnapshotClassName ?? "";
  return (
    (it.kind === "PersistentVolumeClaim"
      ? it.obj.spec?.storageClassName
      : it.obj.spec.volumeSnapshotClassName) ?? ""
  );
}

/** What an item was made from: a claim or snapshot's source; a group snapshot's selector (-l). */
export function source(it: Item): string {
  if (it.kind === "VolumeGroupSnapshot") {
    const sel = it.obj.spec?.source?.selector;
    return sel ? `-l ${selectorString(sel)}` : "";
  }
  const s = itemSource(it);
  return s ? shortName(s.kind, s.name) : "";
}

/**
 * NAME, SOURCE, READY, SIZE, AGE; wide adds STATUS and CLASS. `name` renders the NAME cell. A
 * deleted link has only its NAME and SOURCE.
 */
export function itemColumns<R>(get: (r: R) => Item, name: (r: R) => string, now: Date): Column<R>[] {
  const live = (f: (it: Item) => string) => (r: R) => {
    const it = get(r);
    return it.deleted ? "" : f(it);
  };
  return [
    { header: "NAME", cell: name },
    { header: "SOURCE", cell: (r) => source(get(r)) },
    { header: "READY", cell: live(ready) },
    { header: "SIZE", cell: live(size) },
    { header: "AGE", cell: live((it) => formatAge(it.obj.metadata?.creationTimestamp, now)) },
    { header: "STATUS", priority: 1, cell: live(status) },
    { header: "CLASS", priority: 1, cell: live(className) },
  ];
}

export function namespaceColumn<R>(get: (r: R) => Item): Column<R> {
  return { header: "NAMESPACE", cell: (r) => itemNamespace(get(r)) };
}

export function itemLabel(it: Item): string {
  return `${shortName(it.kind, itemName(it))}${it.deleted ? " (deleted)" : ""}`;
}
