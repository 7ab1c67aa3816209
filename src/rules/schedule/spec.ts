// The SnapshotSchedule resource (vol.kubectl.io/v1alpha1): its shape, its durations, and the
// checks of a spec that the CRD's schema cannot express. Pure; shared by the controller, the
// plugin's `schedule` verb and the webhook.
import type { LabelSelector } from "../selector.ts";
import { CronError, checkTimeZone, parseCron } from "./cron.ts";

export { type LabelSelector, matchesSelector, selectorString } from "../selector.ts";

export const SCHEDULE_GROUP = "vol.kubectl.io";
export const SCHEDULE_VERSION = "v1alpha1";
export const SCHEDULE_PLURAL = "snapshotschedules";
export const SCHEDULE_KIND = "SnapshotSchedule";

const OPERATORS: readonly string[] = ["In", "NotIn", "Exists", "DoesNotExist"];

export interface ScheduleSpec {
  /** One claim by name; or `selector`. */
  claim?: string;
  /** Claims by label; each matched claim gets its own snapshots (or, with `group`, one group). */
  selector?: LabelSelector;
  /**
   * With `selector`: each slot takes one VolumeGroupSnapshot of every matched claim (one point
   * in time for all of them), and retention counts groups.
   */
  group?: boolean;
  /** With `group`: the VolumeGroupSnapshotClass (default: the driver's default, else its only class). */
  groupSnapshotClassName?: string;
  /** A duration ("1h", "30m", "1h30m", "1d"); or `cron`. */
  every?: string;
  /** A 5-field cron expression; or `every`. */
  cron?: string;
  /** The IANA time zone of `cron` (default UTC). */
  timeZone?: string;
  /** How many ready snapshots to keep per claim (with `group`: ready group snapshots). */
  keep?: number;
  /** Delete ready snapshots older than this (a duration such as "7d"). */
  maxAge?: string;
  /** The VolumeSnapshotClass (default: the claim driver's default class, else its only class). */
  snapshotClassName?: string;
  /** No new snapshots and no pruning while true. */
  suspend?: boolean;
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export type Result = "Succeeded" | "Failed" | "Running" | "Suspended" | "Invalid";

export interface ScheduleStatus {
  observedGeneration?: number;
  /** The slot of the last run (RFC 3339). */
  lastRunTime?: string;
  /** The next slot (RFC 3339); absent while suspended or invalid. */
  nextRunTime?: string;
  /** The result of the last run and why. */
  result?: Result;
  reason?: string;
  message?: string;
  /** The snapshots retention keeps, newest first (ready ones, the ones counted by `keep`). */
  kept?: string[];
  keptCount?: number;
  conditions?: Condition[];
}

export interface SnapshotSchedule {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    generation?: number;
    creationTimestamp?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: ScheduleSpec;
  status?: ScheduleStatus;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a schedule duration: one or more `<n><unit>` with units s, m, h, d. */
export function parseScheduleDuration(text: string): number | undefined {
  const t = text.trim();
  if (!/^(\d+[smhd])+$/.test(t)) return undefined;
  return [...t.matchAll(/(\d+)([smhd])/g)].reduce((sum, [, n, u]) => sum + Number(n) * UNITS[u!]!, 0);
}

export interface SpecRules {
  /** The shortest `every` allowed, in ms (production: one minute). */
  minIntervalMs: number;
}

export const PRODUCTION_RULES: SpecRules = { minIntervalMs: 60_000 };

/**
 * What is wrong with a spec, one sentence each (empty when it is fine). The CRD's schema and
 * CEL rules check shapes; this checks them again (a cluster may run without the CRD's latest
 * schema) plus what CEL cannot: the cron syntax, the time zone, the minimum interval.
 */
export function specProblems(spec: ScheduleSpec, rules: SpecRules = PRODUCTION_RULES): string[] {
  const out: string[] = [];
  // null is absent, as the API server's JSON decoding of a schema'd field has it.
  const hasSelector = spec.selector != null;
  if ((spec.claim ? 1 : 0) + (hasSelector ? 1 : 0) !== 1)
    out.push("give exactly one of spec.claim and spec.selector");
  const bad = (spec.selector?.matchExpressions ?? []).findIndex(
    (e) =>
      typeof e?.key !== "string" ||
      !OPERATORS.includes(e.operator) ||
      (e.values != null && !(Array.isArray(e.values) && e.values.every((v) => typeof v === "string"))),
  );
  if (spec.group === true && !hasSelector)
    out.push("spec.group takes the claims of spec.selector as one group snapshot: give spec.selector");
  if (spec.groupSnapshotClassName != null && spec.group !== true)
    out.push("spec.groupSnapshotClassName applies with spec.group: true only: remove it or set spec.group");
  if (spec.group === true && spec.snapshotClassName != null)
    out.push(
      "spec.snapshotClassName names a VolumeSnapshotClass, which a group schedule does not use: name the VolumeGroupSnapshotClass in spec.groupSnapshotClassName",
    );
  if (bad >= 0)
    out.push(
      `spec.selector.matchExpressions[${bad}] needs a key, an operator (In, NotIn, Exists or DoesNotExist) and values as a list of strings`,
    );
  if ((spec.every ? 1 : 0) + (spec.cron ? 1 : 0) !== 1)
    out.push("give exactly one of spec.every and spec.cron");
  if (spec.every) {
    const ms = parseScheduleDuration(spec.every);
    if (ms === undefined) out.push(`spec.every "${spec.every}" is not a duration such as 30m, 1h or 1d`);
    else if (ms < rules.minIntervalMs)
      out.push(`spec.every "${spec.every}" is shorter than the minimum of ${rules.minIntervalMs / 1000}s`);
    if (spec.timeZone) out.push("spec.timeZone applies to spec.cron only: remove it or use cron");
  }
  if (spec.cron) {
    try {
      parseCron(spec.cron);
    } catch (err) {
      if (!(err instanceof CronError)) throw err;
      out.push(`spec.cron: ${err.message}`);
    }
  }
  if (spec.timeZone && spec.cron) {
    try {
      checkTimeZone(spec.timeZone);
    } catch (err) {
      out.push(`spec.timeZone: ${(err as Error).message}`);
    }
  }
  if (spec.keep == null && spec.maxAge == null)
    out.push("give spec.keep or spec.maxAge (or both): without either every snapshot would be kept forever");
  if (spec.keep != null && (!Number.isInteger(spec.keep) || spec.keep < 1))
    out.push(`spec.keep ${spec.keep} must be a whole number of at least 1`);
  if (spec.maxAge != null && parseScheduleDuration(spec.maxAge) === undefined)
    out.push(`spec.maxAge "${spec.maxAge}" is not a duration such as 12h or 7d`);
  return out;
}
