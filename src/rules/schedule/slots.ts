// When a schedule runs. Pure. A slot is an instant the schedule names: for `every` the
// multiples of the period since 1970-01-01T00:00Z (so `every: 1h` runs at the top of each hour
// and two replicas agree on the slots without talking), for `cron` the instants its expression
// names in its time zone.
import { cronNext, cronPrevious, parseCron } from "./cron.ts";
import { parseScheduleDuration, type ScheduleSpec } from "./spec.ts";

export interface Timing {
  /** The last slot at or before `at` (ms since the epoch). */
  previous(at: number): number | undefined;
  /** The first slot strictly after `after`. */
  next(after: number): number | undefined;
}

/** The timing of a valid spec (see specProblems); throws on a spec that has neither. */
export function timing(spec: ScheduleSpec): Timing {
  if (spec.every) {
    const period = parseScheduleDuration(spec.every);
    if (!period) throw new Error(`spec.every "${spec.every}" is not a duration`);
    return {
      previous: (at) => Math.floor(at / period) * period,
      next: (after) => (Math.floor(after / period) + 1) * period,
    };
  }
  if (spec.cron) {
    const c = parseCron(spec.cron);
    const zone = spec.timeZone || "UTC";
    return { previous: (at) => cronPrevious(c, zone, at), next: (after) => cronNext(c, zone, after) };
  }
  throw new Error("the spec has neither every nor cron");
}

export interface Due {
  /** The slot to take now, if any: the latest one that has come and was not run yet. */
  slot?: number;
  /** The slot after now. */
  next?: number;
}

/**
 * Which slot to run now. Only the latest slot that has come counts: slots missed while the
 * controller was down (or the schedule suspended) run once, not once each. Slots before the
 * schedule existed never run. `lastRun` is the slot the status records as run.
 */
export function dueSlot(t: Timing, now: number, created: number, lastRun: number | undefined): Due {
  const latest = t.previous(now);
  const next = t.next(now);
  if (latest === undefined || latest < created) return { next };
  if (lastRun !== undefined && latest <= lastRun) return { next };
  return { slot: latest, next };
}
