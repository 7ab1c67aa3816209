// What a scheduled snapshot is called and carries. Pure. The name is derived from the schedule,
// the claim and the slot, so a retry, a restarted controller or a second replica that takes the
// same slot finds the snapshot already there instead of making another.
import { createHash } from "node:crypto";
import { buildGroupSnapshot, lineageAnnotations, SNAPSHOT_API_GROUP } from "../index.ts";
import type { LabelSelector } from "../selector.ts";
import type { VolumeGroupSnapshot, VolumeSnapshot } from "../types.ts";

/** The label naming the schedule that made a snapshot; retention only touches snapshots with it. */
export const SCHEDULE_LABEL = "vol.kubectl.io/schedule";
/** The slot a scheduled snapshot was taken for (RFC 3339, UTC). */
export const SLOT_ANNOTATION = "vol.kubectl.io/schedule-slot";
/** `"true"` on a snapshot: retention leaves it alone (and does not count it). */
export const KEEP_ANNOTATION = "vol.kubectl.io/keep";

const MAX_NAME = 253;

/** 20261201T030000Z → "20261201-030000". */
export function slotStamp(slot: number): string {
  const iso = new Date(slot).toISOString();
  return `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
}

/**
 * `<schedule>-<stamp>` for a schedule of one claim (or a group schedule's group snapshot),
 * `<schedule>-<claim>-<stamp>` for a selector (each claim its own snapshot). Too long for an object name: the middle is cut and a hash of
 * what was cut keeps names apart.
 */
export function snapshotName(schedule: string, claim: string | undefined, slot: number): string {
  const base = claim === undefined ? schedule : `${schedule}-${claim}`;
  const tail = `-${slotStamp(slot)}`;
  if (base.length + tail.length <= MAX_NAME) return `${base}${tail}`;
  const hash = createHash("sha256").update(base).digest("hex").slice(0, 10);
  const room = MAX_NAME - tail.length - hash.length - 1;
  return `${base.slice(0, room).replace(/[-.]+$/, "")}-${hash}${tail}`;
}

export interface SnapshotFor {
  schedule: { metadata: { name: string; namespace?: string } };
  claim: { metadata?: { name?: string; uid?: string } };
  /** Whether the schedule names one claim (spec.claim) rather than a selector. */
  single: boolean;
  slot: number;
  className: string;
}

/** The VolumeSnapshot of one claim for one slot. */
export function buildScheduledSnapshot(a: SnapshotFor): VolumeSnapshot {
  const ns = a.schedule.metadata.namespace ?? "";
  const claim = a.claim.metadata?.name ?? "";
  return {
    apiVersion: `${SNAPSHOT_API_GROUP}/v1`,
    kind: "VolumeSnapshot",
    metadata: {
      name: snapshotName(a.schedule.metadata.name, a.single ? undefined : claim, a.slot),
      namespace: ns,
      labels: { [SCHEDULE_LABEL]: a.schedule.metadata.name },
      annotations: {
        ...lineageAnnotations({ kind: "PersistentVolumeClaim", name: claim, namespace: ns }, a.claim),
        [SLOT_ANNOTATION]: new Date(a.slot).toISOString(),
      },
    },
    spec: { volumeSnapshotClassName: a.className, source: { persistentVolumeClaimName: claim } },
  };
}

/**
 * The VolumeGroupSnapshot of a group schedule for one slot: one point in time for every claim
 * `selector` matches (snapshot-controller makes a member VolumeSnapshot per claim, owned by it).
 */
export function buildScheduledGroupSnapshot(a: {
  schedule: { metadata: { name: string; namespace?: string } };
  selector: LabelSelector;
  slot: number;
  className: string;
}): VolumeGroupSnapshot {
  return buildGroupSnapshot({
    namespace: a.schedule.metadata.namespace ?? "",
    name: snapshotName(a.schedule.metadata.name, undefined, a.slot),
    selector: a.selector,
    className: a.className,
    labels: { [SCHEDULE_LABEL]: a.schedule.metadata.name },
    annotations: { [SLOT_ANNOTATION]: new Date(a.slot).toISOString() },
  });
}
