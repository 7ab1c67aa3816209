// SnapshotSchedules (vol.kubectl.io/v1alpha1) over the shared plain-JSON client: what the
// controller lists and the plugin's `schedule` verb reads and writes.
import {
  SCHEDULE_GROUP,
  SCHEDULE_PLURAL,
  SCHEDULE_VERSION,
  type SnapshotSchedule,
} from "../rules/schedule/spec.ts";
import type { Connection } from "./connection.ts";
import { callJson, getJson } from "./rest.ts";

const SCHEDULES = `/apis/${SCHEDULE_GROUP}/${SCHEDULE_VERSION}`;
const enc = encodeURIComponent;

/** SnapshotSchedules themselves, for the controller and the plugin's `schedule` verb. */
export interface ScheduleStore {
  /** Whether the API server serves vol.kubectl.io/v1alpha1 (the CRD is installed). */
  served(): Promise<boolean>;
  /** `namespace` undefined: every namespace. */
  list(namespace: string | undefined): Promise<SnapshotSchedule[]>;
  read(namespace: string, name: string): Promise<SnapshotSchedule | undefined>;
  /** Creates it, or replaces it when it carries a resourceVersion. */
  write(namespace: string, body: SnapshotSchedule, dryRun: boolean): Promise<SnapshotSchedule>;
}

export function scheduleStore(conn: Connection, timeoutMs = 10_000): ScheduleStore {
  const base = (ns: string | undefined) =>
    `${SCHEDULES}${ns === undefined ? "" : `/namespaces/${enc(ns)}`}/${SCHEDULE_PLURAL}`;
  const dry = (d: boolean) => (d ? "?dryRun=All" : "");
  return {
    served: async () => (await getJson(conn, SCHEDULES, timeoutMs)) !== undefined,
    list: async (ns) =>
      (await getJson<{ items: SnapshotSchedule[] }>(conn, base(ns), timeoutMs))?.items ?? [],
    read: (ns, name) => getJson<SnapshotSchedule>(conn, `${base(ns)}/${enc(name)}`, timeoutMs),
    write: (ns, body, dryRun) =>
      body.metadata.resourceVersion
        ? callJson(conn, `${base(ns)}/${enc(body.metadata.name)}${dry(dryRun)}`, {
            method: "PUT",
            body,
            deadlineMs: timeoutMs,
          })
        : callJson(conn, `${base(ns)}${dry(dryRun)}`, { method: "POST", body, deadlineMs: timeoutMs }),
  };
}
