// What the controller reads and writes, over the shared plain-JSON client (src/kube/rest.ts):
// schedules and their status, claims, VolumeSnapshots and VolumeGroupSnapshots (create, delete
// with a uid precondition) and the few objects the rules read to choose a class.
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
import type {
  VolumeGroupSnapshot,
  VolumeGroupSnapshotClass,
  VolumeSnapshot,
  VolumeSnapshotClass,
} from "../rules/types.ts";

const SNAPSHOTS = "/apis/snapshot.storage.k8s.io/v1";
const GROUPS = "/apis/groupsnapshot.storage.k8s.io/v1";
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
  /** Every VolumeSnapshot of a namespace (a group's members carry no schedule label). */
  listSnapshots(namespace: string): Promise<VolumeSnapshot[]>;
  /** Every VolumeGroupSnapshotClass; `undefined` when the group snapshot API is not installed. */
  groupSnapshotClasses(): Promise<VolumeGroupSnapshotClass[] | undefined>;
  /** The group snapshots a schedule labelled ([] without the group snapshot API). */
  listScheduleGroups(namespace: string, schedule: string): Promise<VolumeGroupSnapshot[]>;
  readGroupSnapshot(namespace: string, name: string): Promise<VolumeGroupSnapshot | undefined>;
  /** Creates it; `undefined` when an object of that name exists already. */
  createGroupSnapshot(body: VolumeGroupSnapshot): Promise<VolumeGroupSnapshot | undefined>;
  /** Deletes that very group (uid precondition), and so its members; a missing one is no error. */
  deleteGroupSnapshot(namespace: string, name: string, uid: string | undefined): Promise<void>;
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
  const byLabel = (schedule: string) => `labelSelector=${enc(`${SCHEDULE_LABEL}=${schedule}`)}`;
  const snapshots = (ns: string) => `${SNAPSHOTS}/namespaces/${enc(ns)}/volumesnapshots`;
  const groups = (ns: string) => `${GROUPS}/namespaces/${enc(ns)}/volumegroupsnapshots`;
  /** POSTs `body`; `undefined` when its name is taken (409). */
  const create = async <T>(path: string, body: T): Promise<T | undefined> => {
    try {
      return await sendJson<T>(conn, "POST", path, body);
    } catch (err) {
      if (err instanceof ApiError && err.code === 409) return undefined;
      throw err;
    }
  };
  /** DELETEs that very object; gone already (404) or another uid (409) is no error. */
  const remove = async (path: string, uid: string | undefined): Promise<void> => {
    try {
      await sendJson(conn, "DELETE", path, {
        apiVersion: "v1",
        kind: "DeleteOptions",
        ...(uid ? { preconditions: { uid } } : {}),
      });
    } catch (err) {
      if (err instanceof ApiError && (err.code === 404 || err.code === 409)) return;
      throw err;
    }
  };
  return {
    listSchedules: () => scheduleStore(conn).list(undefined),
    listScheduleSnapshots: (ns, schedule) => items<VolumeSnapshot>(`${snapshots(ns)}?${byLabel(schedule)}`),
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
    readSnapshot: (ns, name) => getJson<VolumeSnapshot>(conn, `${snapshots(ns)}/${enc(name)}`),
    createSnapshot: (body) => create(snapshots(body.metadata.namespace ?? ""), body),
    deleteSnapshot: (ns, name, uid) => remove(`${snapshots(ns)}/${enc(name)}`, uid),
    listSnapshots: (ns) => items<VolumeSnapshot>(snapshots(ns)),
    groupSnapshotClasses: async () =>
      (await getJson<{ items: VolumeGroupSnapshotClass[] }>(conn, `${GROUPS}/volumegroupsnapshotclasses`))
        ?.items,
    listScheduleGroups: (ns, schedule) => items<VolumeGroupSnapshot>(`${groups(ns)}?${byLabel(schedule)}`),
    readGroupSnapshot: (ns, name) => getJson<VolumeGroupSnapshot>(conn, `${groups(ns)}/${enc(name)}`),
    createGroupSnapshot: (body) => create(groups(body.metadata.namespace ?? ""), body),
    deleteGroupSnapshot: (ns, name, uid) => remove(`${groups(ns)}/${enc(name)}`, uid),
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
