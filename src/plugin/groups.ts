// Group snapshots as the plugin sees them: the group's default name, its state while --wait
// shows progress, and its place in list and tree (its members are found by the rules'
// groupMembers). Pure.
import { groupMembers, groupReady, type LabelSelector, memberClaim, memberOf } from "../rules/index.ts";
import type { VolumeGroupSnapshot, VolumeSnapshot } from "../rules/types.ts";
import { RESTORED_FROM_GROUP } from "./build.ts";
import { derivedName } from "./format.ts";
import { type Item, lineageTree, type TreeNode } from "./lineage.ts";
import type { Column } from "./printers.ts";
import type { State } from "./wait.ts";

/** kubectl's names for the kind, as an argument's `kind/` prefix (`vgs/NAME`). */
export const GROUP_ARG_NAMES = [
  "vgs",
  "volumegroupsnapshot",
  "volumegroupsnapshots",
  "volumegroupsnapshot.groupsnapshot.storage.k8s.io",
  "volumegroupsnapshots.groupsnapshot.storage.k8s.io",
];

/** The default name of a group snapshot of `selector`: its label values (else "group") and the time. */
export function groupName(selector: LabelSelector, stamp: string): string {
  const values = Object.values(selector.matchLabels ?? {})
    .join("-")
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return derivedName(values || "group", stamp);
}

function memberText(s: VolumeSnapshot): string {
  const claim = memberClaim(s) || s.metadata.name;
  if (s.status?.readyToUse)
    return `pvc/${claim} ready${s.status.restoreSize ? ` (${s.status.restoreSize})` : ""}`;
  if (s.status?.error?.message) return `pvc/${claim} failed: ${s.status.error.message}`;
  return `pvc/${claim} being cut`;
}

/** What --wait shows for a group: its state and each member's. */
export function groupState(group: VolumeGroupSnapshot | undefined, members: VolumeSnapshot[]): State {
  if (!group) return { done: false, failed: true, text: "deleted" };
  if (group.metadata.deletionTimestamp) return { done: false, failed: true, text: "being deleted" };
  const each = members.map(memberText).join(", ");
  const ready = members.filter((m) => m.status?.readyToUse).length;
  if (groupReady(group, members)) {
    return { done: true, text: `ready to use: ${members.length} members (${each})` };
  }
  if (group.status?.error?.message) return { done: false, text: `not ready: ${group.status.error.message}` };
  if (members.length === 0) {
    return {
      done: false,
      text: group.status?.boundVolumeGroupSnapshotContentName
        ? `not ready: content ${group.status.boundVolumeGroupSnapshotContentName} is being cut`
        : "not ready: waiting for the snapshot controller",
    };
  }
  return { done: false, text: `not ready: ${ready} of ${members.length} members ready (${each})` };
}

/** The group snapshot an item belongs to: a member's group, or the group a claim was restored from. */
export function groupOf(it: Item): string | undefined {
  if (it.kind === "VolumeSnapshot") return memberOf(it.obj)?.name;
  if (it.kind === "PersistentVolumeClaim")
    return it.obj.metadata?.annotations?.[RESTORED_FROM_GROUP] || undefined;
  return undefined;
}

/** The GROUP column of list and tree, there only when some row belongs to a group snapshot. */
export function groupColumns<R>(get: (r: R) => Item, rows: R[]): Column<R>[] {
  if (!rows.some((r) => groupOf(get(r)) !== undefined)) return [];
  return [{ header: "GROUP", cell: (r) => groupOf(get(r)) ?? "" }];
}

/**
 * The tree under a group snapshot: its members (by claim), each with what was made from it
 * (lineageTree among `items`).
 */
export function groupTree(group: Item & { kind: "VolumeGroupSnapshot" }, items: Item[]): TreeNode {
  const snaps = items.flatMap((i) => (i.kind === "VolumeSnapshot" ? [i.obj] : []));
  const members = groupMembers(group.obj, snaps).map((obj): Item => ({ kind: "VolumeSnapshot", obj }));
  return { item: group, children: members.map((m) => lineageTree(m, items)) };
}
