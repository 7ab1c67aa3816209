// The leader's loop: a pass reconciles every SnapshotSchedule; a pass runs when a schedule or a
// scheduled snapshot or group snapshot changes (watches), when the earliest slot or follow-up
// falls due (a timer), and at least every resync period (src/controller/loop.ts). Each pass
// reads the world afresh, so a missed event costs only time, never a slot.
import type { Connection } from "../kube/connection.ts";
import { errorMessage, type Logger } from "../kube/log.ts";
import { SCHEDULE_LABEL } from "../rules/schedule/names.ts";
import { SCHEDULE_GROUP, SCHEDULE_PLURAL, SCHEDULE_VERSION, type SpecRules } from "../rules/schedule/spec.ts";
import type { ControllerApi } from "./api.ts";
import { runPasses } from "./loop.ts";
import type { ControllerMetrics } from "./metrics.ts";
import { reconcileSchedule } from "./reconcile.ts";

export interface LoopOptions {
  api: ControllerApi;
  conn: Connection;
  rules: SpecRules;
  log: Logger;
  metrics: ControllerMetrics;
  resyncMs: number;
  /** Called after every pass (for /healthz). */
  onPass?: (at: number) => void;
}

const WATCHES = [
  `/apis/${SCHEDULE_GROUP}/${SCHEDULE_VERSION}/${SCHEDULE_PLURAL}?watch=1&allowWatchBookmarks=false`,
  `/apis/snapshot.storage.k8s.io/v1/volumesnapshots?watch=1&labelSelector=${encodeURIComponent(SCHEDULE_LABEL)}`,
  // A group schedule's snapshots (absent without the group snapshot API: retried, backing off).
  `/apis/groupsnapshot.storage.k8s.io/v1/volumegroupsnapshots?watch=1&labelSelector=${encodeURIComponent(SCHEDULE_LABEL)}`,
];

/** Runs passes until `signal` aborts (leadership lost or the process stopping). */
export async function runLoop(o: LoopOptions, signal: AbortSignal): Promise<void> {
  const backoff = new Map<string, number>();
  await runPasses({ conn: o.conn, log: o.log, watches: WATCHES }, signal, async () => {
    const started = Date.now();
    let wakeAt = started + o.resyncMs;
    try {
      const schedules = await o.api.listSchedules();
      for (const s of schedules) {
        if (signal.aborted) break;
        const key = `${s.metadata.namespace}/${s.metadata.name}`;
        try {
          const out = await reconcileSchedule(
            { api: o.api, rules: o.rules, log: o.log, metrics: o.metrics, now: Date.now() },
            s,
          );
          backoff.delete(key);
          if (out.wakeAt !== undefined) wakeAt = Math.min(wakeAt, out.wakeAt);
        } catch (err) {
          // An API failure: try this schedule again soon, backing off to the resync period.
          const delay = Math.min(o.resyncMs, (backoff.get(key) ?? 500) * 2);
          backoff.set(key, delay);
          wakeAt = Math.min(wakeAt, Date.now() + delay);
          o.metrics.reconcileError();
          o.log.warn("reconcile failed, retrying", {
            schedule: key,
            error: errorMessage(err),
            retryInMs: delay,
          });
        }
      }
    } catch (err) {
      o.metrics.reconcileError();
      o.log.warn("cannot list SnapshotSchedules", { error: errorMessage(err) });
      wakeAt = Math.min(wakeAt, Date.now() + 2000);
    }
    o.metrics.pass((Date.now() - started) / 1000);
    o.onPass?.(Date.now());
    return wakeAt;
  });
}
