// What the controller reads and writes, over the shared plain-JSON client (src/kube/rest.ts):
// schedules and their status, claims, VolumeSnapshots (create, delete with a uid precondition)
// and the few objects the rules read to choose a snapshot class.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type { Connection } from "../kube/connection.ts";
import { ApiError, callJson, getJson } from "../kube/rest.ts";
import { scheduleStore } from "../kube/schedules.ts";
import { SCHEDULE_LABEL } from "../rules/schedule/names.ts";
import {
  type LabelSelector,
  SCHEDULE_GROUP,
  SCHEDULE_PLURAL,
  SCHEDULE_VERSION,
  type ScheduleStatus,
  type SnapshotSchedule,
  selectorString,
} from "../rules/schedule/spec.ts";
import type { VolumeSnapshot, VolumeSnapshotClass } from "../rules/types.ts";

const SNAPSHOTS = "/apis/snapshot.storage.k8s.io/v1";
const SCHEDULES = `/apis/${SCHEDULE_GROUP}/${SCHEDULE_VERSION}`;
const enc = encodeURIComponent;

export interface ControllerApi {
  listSchedules(): Promise<SnapshotSchedule[]>;
  /** The snapshots a schedule labelled (whatever state they are in). */
  listScheduleSnapshots(namespace: string, schedule: string): Promise<VolumeSnapshot[]>;
  readClaim(namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined>;
  listClaims(namespace: string, selector: LabelSelector): Promise<V1PersistentVolumeClaim[]>;
  persistentVolume(name: string): Promise<V1PersistentVolume | undefined>;
  storageClass(name: string): Promise<V1StorageClass | undefined>;
  snapshotClasses(): Promise<VolumeSnapshotClass[]>;
  readSnapshot(namespace: string, name: string): Promise<VolumeSnapshot | undefined>;
  /** Creates it; `undefined` when an object of that name exists already. */
  createSnapshot(body: VolumeSnapshot): Promise<VolumeSnapshot | undefined>;
  /** Deletes that very object (uid precondition); a missing one or another uid is no error. */
  deleteSnapshot(namespace: string, name: string, uid: string | undefined): Promise<void>;
  patchStatus(namespace: string, name: string, status: ScheduleStatus): Promise<void>;
}

/** A write (or read) with a JSON body; rejects with ApiError carrying the HTTP status. */
export function sendJson<T>(
  conn: Connection,
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE",
  path: string,
  body?: unknown,
  o: { contentType?: string; timeoutMs?: number } = {},
): Promise<T> {
  return callJson<T>(conn, path, {
    method,
    body,
    contentType: o.contentType,
    deadlineMs: o.timeoutMs ?? 10_000,
  });
}

export function restApi(conn: Connection): ControllerApi {
  const items = async <T>(path: string): Promise<T[]> =>
    (await getJson<{ items: T[] }>(conn, path))?.items ?? [];
  return {
    listSchedules: () => scheduleStore(conn).list(undefined),
    listScheduleSnapshots: (ns, schedule) =>
      items<VolumeSnapshot>(
        `${SNAPSHOTS}/namespaces/${enc(ns)}/volumesnapshots?labelSelector=${enc(`${SCHEDULE_LABEL}=${schedule}`)}`,
      ),
    readClaim: (ns, name) =>
      getJson<V1PersistentVolumeClaim>(
        conn,
        `/api/v1/namespaces/${enc(ns)}/persistentvolumeclaims/${enc(name)}`,
      ),
    listClaims: (ns, selector) =>
      items<V1PersistentVolumeClaim>(
        `/api/v1/namespaces/${enc(ns)}/persistentvolumeclaims?labelSelector=${enc(selectorString(selector))}`,
      ),
    persistentVolume: (name) => getJson<V1PersistentVolume>(conn, `/api/v1/persistentvolumes/${enc(name)}`),
    storageClass: (name) =>
      getJson<V1StorageClass>(conn, `/apis/storage.k8s.io/v1/storageclasses/${enc(name)}`),
    snapshotClasses: () => items<VolumeSnapshotClass>(`${SNAPSHOTS}/volumesnapshotclasses`),
    readSnapshot: (ns, name) =>
      getJson<VolumeSnapshot>(conn, `${SNAPSHOTS}/namespaces/${enc(ns)}/volumesnapshots/${enc(name)}`),
    async createSnapshot(body) {
      const ns = body.metadata.namespace ?? "";
      try {
        return await sendJson<VolumeSnapshot>(
          conn,
          "POST",
          `${SNAPSHOTS}/namespaces/${enc(ns)}/volumesnapshots`,
          body,
        );
      } catch (err) {
        if (err instanceof ApiError && err.code === 409) return undefined;
        throw err;
      }
    },
    async deleteSnapshot(ns, name, uid) {
      try {
        await sendJson(conn, "DELETE", `${SNAPSHOTS}/namespaces/${enc(ns)}/volumesnapshots/${enc(name)}`, {
          apiVersion: "v1",
          kind: "DeleteOptions",
          ...(uid ? { preconditions: { uid } } : {}),
        });
      } catch (err) {
        if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return;
        throw err;
      }
    },
    async patchStatus(ns, name, status) {
      await sendJson(
        conn,
        "PATCH",
        `${SCHEDULES}/namespaces/${enc(ns)}/${SCHEDULE_PLURAL}/${enc(name)}/status`,
        { status },
        { contentType: "application/merge-patch+json" },
      );
    },
  };
}
