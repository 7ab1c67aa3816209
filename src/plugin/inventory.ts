// The claims and snapshots of a namespace (or all) as lineage items, and the columns list and
// tree print them with. The columns are pure functions of an item.

import { claimSize } from "./build.ts";
import type { Cluster } from "./cluster.ts";
import { formatAge } from "./format.ts";
import { type Item, itemName, itemNamespace, itemSource } from "./lineage.ts";
import { type Column, shortName } from "./printers.ts";
import type { Sink } from "./wait.ts";

/** Every claim and snapshot; without the snapshot API, claims only (with a warning). */
export async function inventory(cluster: Cluster, namespace: string | undefined, err: Sink): Promise<Item[]> {
  const [claims, snaps] = await Promise.all([
    cluster.listClaims(namespace),
    cluster.listSnapshots(namespace).catch((e: Error) => {
      if (e.name !== "MissingApiError") throw e;
      err.write(`Warning: ${e.message}; showing claims only\n`);
      return [];
    }),
  ]);
  return [
    ...claims.map((obj): Item => ({ kind: "PersistentVolumeClaim", obj })),
    ...snaps.map((obj): Item => ({ kind: "VolumeSnapshot", obj })),
  ];
}

export function ready(it: Item): string {
  return it.kind === "PersistentVolumeClaim"
    ? String(it.obj.status?.phase === "Bound")
    : String(it.obj.status?.readyToUse === true);
}

export function size(it: Item): string {
  return (it.kind === "PersistentVolumeClaim" ? claimSize(it.obj) : it.obj.status?.restoreSize) ?? "";
}

export function status(it: Item): string {
  if (it.kind === "PersistentVolumeClaim") return it.obj.status?.phase ?? "Pending";
  if (it.obj.status?.readyToUse) return "ReadyToUse";
  return it.obj.status?.error?.message ? "Error" : "Pending";
}

export function className(it: Item): string {
  return (
    (it.kind === "PersistentVolumeClaim"
      ? it.obj.spec?.storageClassName
      : it.obj.spec.volumeSnapshotClassName) ?? ""
  );
}

export function source(it: Item): string {
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
