// Which scheduled snapshots to delete. Pure, and safe by construction:
// - it only ever considers snapshots this schedule made (the schedule label names it) that are
//   not being deleted and not annotated vol.kubectl.io/keep: "true" — those it leaves alone and
//   does not count;
// - per claim, the newest ready snapshot is never deleted, whatever keep and maxAge say;
// - only ready snapshots count toward `keep`: a failed or not-ready snapshot never takes the
//   place of a good one;
// - a not-ready snapshot is deleted only once a newer snapshot of its claim is ready (it is
//   superseded), when it is older than maxAge, or when more than `keep` of them pile up (the
//   oldest go first, so the latest failures stay visible).
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
export function snapTime(s: Snap): number {
  const slot = Date.parse(s.metadata.annotations?.[SLOT_ANNOTATION] ?? "");
  if (Number.isFinite(slot)) return slot;
  const created = new Date(s.metadata.creationTimestamp ?? 0).getTime();
  return Number.isFinite(created) ? created : 0;
}

export function isReady(s: Snap): boolean {
  return s.status?.readyToUse === true && !s.status.error?.message;
}

/** Whether retention may consider this snapshot at all. */
export function managedBy(s: Snap, schedule: string): boolean {
  return (
    s.metadata.labels?.[SCHEDULE_LABEL] === schedule &&
    s.metadata.annotations?.[KEEP_ANNOTATION] !== "true" &&
    !s.metadata.deletionTimestamp
  );
}

const newestFirst = (a: Snap, b: Snap) =>
  snapTime(b) - snapTime(a) || b.metadata.name.localeCompare(a.metadata.name);

export function retention(
  schedule: { metadata: { name: string }; spec: Pick<ScheduleSpec, "keep" | "maxAge"> },
  snapshots: Snap[],
  now: number,
): Retention {
  const keep = schedule.spec.keep ?? Number.POSITIVE_INFINITY;
  const maxAgeMs = schedule.spec.maxAge ? parseScheduleDuration(schedule.spec.maxAge) : undefined;
  const tooOld = (s: Snap) => maxAgeMs !== undefined && now - snapTime(s) > maxAgeMs;
  const byClaim = new Map<string, Snap[]>();
  for (const s of snapshots) {
    if (!managedBy(s, schedule.metadata.name)) continue;
    const claim = s.spec?.source?.persistentVolumeClaimName ?? "";
    byClaim.set(claim, [...(byClaim.get(claim) ?? []), s]);
  }
  const kept: Snap[] = [];
  const del: string[] = [];
  for (const list of byClaim.values()) {
    list.sort(newestFirst);
    const ready = list.filter(isReady);
    ready.forEach((s, i) => {
      // The newest ready snapshot (i = 0) stays whatever the counts say.
      if (i === 0 || (i < keep && !tooOld(s))) kept.push(s);
      else del.push(s.metadata.name);
    });
    const newestReady = ready[0] ? snapTime(ready[0]) : Number.NEGATIVE_INFINITY;
    list
      .filter((s) => !isReady(s))
      .forEach((s, i) => {
        if (snapTime(s) < newestReady || tooOld(s) || i >= keep) del.push(s.metadata.name);
      });
  }
  kept.sort(newestFirst);
  return { kept: kept.map((s) => s.metadata.name), delete: del.sort() };
}
