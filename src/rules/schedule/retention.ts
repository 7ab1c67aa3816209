// Which scheduled snapshots to delete. Pure, and safe by construction:
// - it only ever considers snapshots this schedule made (the schedule label names it) that are
//   not being deleted and not annotated vol.kubectl.io/keep: "true" — those it leaves alone and
//   does not count;
// - per claim, the newest ready snapshot is never deleted, whatever keep and maxAge say (for a
//   group schedule: the newest ready group snapshot, and the newest ready one holding each claim);
// - only ready snapshots count toward `keep`: a failed or not-ready snapshot never takes the
//   place of a good one;
// - a not-ready snapshot is deleted only once a newer snapshot of its claim is ready (it is
//   superseded), when it is older than maxAge, or when more than `keep` of them pile up (the
//   oldest go first, so the latest failures stay visible) — but never the oldest one still
//   being cut (no error yet): cuts slower than the period still end in a ready snapshot.
// A group schedule's unit is a VolumeGroupSnapshot: keep counts ready groups (a group is ready
// when it and every member are), and deleting one deletes its members.
import { groupReady, memberClaim } from "../group.ts";
import { KEEP_ANNOTATION, SCHEDULE_LABEL, SLOT_ANNOTATION } from "./names.ts";
import { parseScheduleDuration, type ScheduleSpec } from "./spec.ts";

/** A VolumeSnapshot as far as retention reads it. */
export interface Snap {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
  };
  spec?: { source?: { persistentVolumeClaimName?: string } };
  status?: { readyToUse?: boolean; error?: { message?: string } };
}

export interface Retention {
  /** Ready snapshots kept, per the rules, newest first (every claim). */
  kept: string[];
  /** Snapshots to delete. */
  delete: string[];
}

/** The time a snapshot stands for: its slot, else its creation. */
export function snapTime(s: Pick<Snap, "metadata">): number {
  const slot = Date.parse(s.metadata.annotations?.[SLOT_ANNOTATION] ?? "");
  if (Number.isFinite(slot)) return slot;
  const created = new Date(s.metadata.creationTimestamp ?? 0).getTime();
  return Number.isFinite(created) ? created : 0;
}

export function isReady(s: Pick<Snap, "status">): boolean {
  return s.status?.readyToUse === true && !s.status.error?.message;
}

/** Whether retention may consider this snapshot at all. */
export function managedBy(s: Pick<Snap, "metadata">, schedule: string): boolean {
  return (
    s.metadata.labels?.[SCHEDULE_LABEL] === schedule &&
    s.metadata.annotations?.[KEEP_ANNOTATION] !== "true" &&
    !s.metadata.deletionTimestamp
  );
}

/**
 * What retention weighs: one VolumeSnapshot (per-claim schedules) or one VolumeGroupSnapshot
 * with its members (a group schedule).
 */
interface Unit {
  name: string;
  time: number;
  ready: boolean;
  /** It failed (an error in its status); not ready and not failed is still being cut. */
  failed: boolean;
  /** `keep` counts within a series: a claim's snapshots, or a group schedule's groups. */
  series: string;
  /** The claims it holds a copy of: the newest ready unit of each claim is never deleted. */
  claims: string[];
}

type Limits = Pick<ScheduleSpec, "keep" | "maxAge">;

function retainUnits(limits: Limits, units: Unit[], now: number): Retention {
  const keep = limits.keep ?? Number.POSITIVE_INFINITY;
  const maxAgeMs = limits.maxAge ? parseScheduleDuration(limits.maxAge) : undefined;
  const tooOld = (u: Unit) => maxAgeMs !== undefined && now - u.time > maxAgeMs;
  const newest = (a: Unit, b: Unit) => b.time - a.time || b.name.localeCompare(a.name);
  const bySeries = new Map<string, Unit[]>();
  for (const u of units) bySeries.set(u.series, [...(bySeries.get(u.series) ?? []), u]);
  const kept = new Set<Unit>();
  const del = new Set<Unit>();
  for (const list of bySeries.values()) {
    list.sort(newest);
    const ready = list.filter((u) => u.ready);
    ready.forEach((u, i) => {
      // The newest ready one (i = 0) stays whatever the counts say.
      if (i === 0 || (i < keep && !tooOld(u))) kept.add(u);
      else del.add(u);
    });
    const newestReady = ready[0]?.time ?? Number.NEGATIVE_INFINITY;
    const notReady = list.filter((u) => !u.ready);
    // The oldest one still being cut is left to finish: were cuts slower than the period, the
    // pile-up rule would otherwise delete each before it is ready, and none would ever be.
    const inFlight = notReady.filter((u) => !u.failed && u.time >= newestReady).at(-1);
    notReady.forEach((u, i) => {
      if (u.time < newestReady || tooOld(u) || (i >= keep && u !== inFlight)) del.add(u);
    });
  }
  // A group schedule whose selector changed: a claim that left it keeps its newest ready copy.
  const claims = new Set(units.flatMap((u) => u.claims));
  for (const claim of claims) {
    const last = units.filter((u) => u.ready && u.claims.includes(claim)).sort(newest)[0];
    if (last && del.delete(last)) kept.add(last);
  }
  return {
    kept: [...kept].sort(newest).map((u) => u.name),
    delete: [...del].map((u) => u.name).sort(),
  };
}

/** Retention of a per-claim schedule: each claim's snapshots on their own. */
export function retention(
  schedule: { metadata: { name: string }; spec: Limits },
  snapshots: Snap[],
  now: number,
): Retention {
  const units = snapshots
    .filter((s) => managedBy(s, schedule.metadata.name))
    .map((s): Unit => {
      const claim = s.spec?.source?.persistentVolumeClaimName ?? "";
      return {
        name: s.metadata.name,
        time: snapTime(s),
        ready: isReady(s),
        failed: Boolean(s.status?.error?.message),
        series: claim,
        claims: [claim],
      };
    });
  return retainUnits(schedule.spec, units, now);
}

/** A VolumeGroupSnapshot as far as retention reads it (its members are passed beside it). */
export interface GroupSnap {
  metadata: Snap["metadata"];
  status?: { readyToUse?: boolean; error?: { message?: string } };
}

/**
 * Retention of a group schedule: its group snapshots as one series, each with `membersOf`
 * it (a group is deleted with every member, so one whose member is annotated
 * vol.kubectl.io/keep: "true" is left alone, as is a group annotated so). A group counts as
 * ready only when it and every member are.
 */
export function groupRetention(
  schedule: { metadata: { name: string }; spec: Limits },
  groups: GroupSnap[],
  membersOf: (g: GroupSnap) => Snap[],
  now: number,
): Retention {
  const units = groups
    .filter((g) => managedBy(g, schedule.metadata.name))
    .flatMap((g): Unit[] => {
      const members = membersOf(g);
      if (members.some((m) => m.metadata.annotations?.[KEEP_ANNOTATION] === "true")) return [];
      const ready = groupReady(g, members) && !members.some((m) => m.metadata.deletionTimestamp);
      return [
        {
          name: g.metadata.name,
          time: snapTime(g),
          ready,
          failed: Boolean(g.status?.error?.message || members.some((m) => m.status?.error?.message)),
          series: "",
          claims: members.map(memberClaim),
        },
      ];
    });
  return retainUnits(schedule.spec, units, now);
}
