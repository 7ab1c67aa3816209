// The requests of an in-place restore beyond the verbs' shared ones: pods, their owners, the
// scale subresource, volumes, deletes with a uid precondition, annotation patches. Over the
// Cluster's `request`; every failure is one sentence naming what was being done.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { SNAPSHOT_API_GROUP, type VolumeSnapshot } from "../rules/index.ts";
import type { Cluster, HttpMethod } from "./cluster.ts";
import { OperationError } from "./errors.ts";
import type { OwnerObject } from "./inplace-plan.ts";

const enc = encodeURIComponent;

/** Where each kind lives: group/version and plural. */
const KINDS: Record<string, { api: string; plural: string }> = {
  Deployment: { api: "apis/apps/v1", plural: "deployments" },
  StatefulSet: { api: "apis/apps/v1", plural: "statefulsets" },
  ReplicaSet: { api: "apis/apps/v1", plural: "replicasets" },
  DaemonSet: { api: "apis/apps/v1", plural: "daemonsets" },
  ReplicationController: { api: "api/v1", plural: "replicationcontrollers" },
  Job: { api: "apis/batch/v1", plural: "jobs" },
  CronJob: { api: "apis/batch/v1", plural: "cronjobs" },
  Pod: { api: "api/v1", plural: "pods" },
  PersistentVolumeClaim: { api: "api/v1", plural: "persistentvolumeclaims" },
  VolumeSnapshot: { api: `apis/${SNAPSHOT_API_GROUP}/v1`, plural: "volumesnapshots" },
};

function objectPath(kind: string, namespace: string, name?: string): string {
  const k = KINDS[kind];
  if (!k) throw new Error(`no API path for kind ${kind}`);
  return `/${k.api}/namespaces/${enc(namespace)}/${k.plural}${name === undefined ? "" : `/${enc(name)}`}`;
}

function statusText(body: unknown): string {
  if (body && typeof body === "object" && "message" in body)
    return String((body as { message: unknown }).message);
  return typeof body === "string" && body.trim() ? body.trim().slice(0, 300) : "no message";
}

export interface WorkloadStatus {
  replicas: number;
  ready: number;
  /** The controller has seen the latest spec. */
  observed: boolean;
}

export interface InPlaceApi {
  pods(namespace: string): Promise<V1Pod[]>;
  owner(namespace: string, kind: string, name: string): Promise<OwnerObject | undefined>;
  /** spec.replicas through the scale subresource. */
  scale(namespace: string, kind: string, name: string, replicas: number): Promise<void>;
  workloadStatus(namespace: string, kind: string, name: string): Promise<WorkloadStatus | undefined>;
  volume(name: string): Promise<V1PersistentVolume | undefined>;
  patchVolume(name: string, patch: object): Promise<void>;
  claim(namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined>;
  /** Creates a claim; false when one of that name exists already. */
  createClaim(body: V1PersistentVolumeClaim): Promise<boolean>;
  /** Deletes a claim only if its uid is `uid`; a claim already gone is fine. */
  deleteClaim(namespace: string, name: string, uid: string): Promise<void>;
  snapshot(namespace: string, name: string): Promise<VolumeSnapshot | undefined>;
  /** Creates a snapshot (dryRun: sent with dryRun=All); false when one of that name exists already. */
  createSnapshot(body: VolumeSnapshot, dryRun?: boolean): Promise<boolean>;
  /** Sets (or, with null, removes) one annotation; an object that is gone is skipped. */
  annotate(
    kind: "PersistentVolumeClaim" | "VolumeSnapshot",
    namespace: string,
    name: string,
    key: string,
    value: string | null,
  ): Promise<void>;
}

export function inPlaceApi(cluster: Cluster): InPlaceApi {
  const call = async (method: HttpMethod, path: string, doing: string, body?: unknown, type?: string) => {
    const answer = await cluster.request(method, path, body, type);
    return {
      ...answer,
      fail: () => new OperationError(`${doing}: ${statusText(answer.body)} (HTTP ${answer.status})`),
    };
  };
  const get = async <T>(path: string, doing: string): Promise<T | undefined> => {
    const a = await call("GET", path, doing);
    if (a.status === 404) return undefined;
    if (!a.ok) throw a.fail();
    return a.body as T;
  };
  const merge = "application/merge-patch+json";
  const patch = async (path: string, doing: string, body: object, okMissing = false) => {
    const a = await call("PATCH", path, doing, body, merge);
    if (a.status === 404 && okMissing) return;
    if (!a.ok) throw a.fail();
  };
  const create = async (path: string, doing: string, body: unknown) => {
    const a = await call("POST", path, doing, body);
    if (a.status === 409) return false;
    if (!a.ok) throw a.fail();
    return true;
  };
  return {
    async pods(ns) {
      const list = await get<{ items?: V1Pod[] }>(
        objectPath("Pod", ns),
        `listing the pods in namespace "${ns}"`,
      );
      return list?.items ?? [];
    },
    owner: (ns, kind, name) =>
      get<OwnerObject>(objectPath(kind, ns, name), `reading ${kind} "${name}" in namespace "${ns}"`),
    async scale(ns, kind, name, replicas) {
      await patch(
        `${objectPath(kind, ns, name)}/scale`,
        `scaling ${kind} "${name}" in namespace "${ns}" to ${replicas}`,
        { spec: { replicas } },
      );
    },
    async workloadStatus(ns, kind, name) {
      type W = {
        metadata?: { generation?: number };
        spec?: { replicas?: number };
        status?: { readyReplicas?: number; observedGeneration?: number };
      };
      const w = await get<W>(objectPath(kind, ns, name), `reading ${kind} "${name}" in namespace "${ns}"`);
      if (!w) return undefined;
      return {
        replicas: w.spec?.replicas ?? 1,
        ready: w.status?.readyReplicas ?? 0,
        observed: (w.status?.observedGeneration ?? 0) >= (w.metadata?.generation ?? 0),
      };
    },
    volume: (name) =>
      get<V1PersistentVolume>(`/api/v1/persistentvolumes/${enc(name)}`, `reading PersistentVolume "${name}"`),
    patchVolume: (name, body) =>
      patch(`/api/v1/persistentvolumes/${enc(name)}`, `changing PersistentVolume "${name}"`, body),
    claim: (ns, name) =>
      get<V1PersistentVolumeClaim>(
        objectPath("PersistentVolumeClaim", ns, name),
        `reading PVC "${name}" in namespace "${ns}"`,
      ),
    createClaim: (body) =>
      create(
        objectPath("PersistentVolumeClaim", body.metadata?.namespace ?? ""),
        `creating PVC "${body.metadata?.name}" in namespace "${body.metadata?.namespace}"`,
        body,
      ),
    async deleteClaim(ns, name, uid) {
      const doing = `deleting PVC "${name}" in namespace "${ns}"`;
      const a = await call("DELETE", objectPath("PersistentVolumeClaim", ns, name), doing, {
        apiVersion: "v1",
        kind: "DeleteOptions",
        preconditions: { uid },
      });
      if (a.status === 404) return;
      if (a.status === 409) {
        throw new OperationError(
          `${doing}: it is not the claim this restore replaces (uid ${uid}) any more, so it was left alone: ${statusText(a.body)}`,
        );
      }
      if (!a.ok) throw a.fail();
    },
    snapshot: (ns, name) =>
      get<VolumeSnapshot>(
        objectPath("VolumeSnapshot", ns, name),
        `reading VolumeSnapshot "${name}" in namespace "${ns}"`,
      ),
    createSnapshot: (body, dryRun) =>
      create(
        `${objectPath("VolumeSnapshot", body.metadata.namespace ?? "")}${dryRun ? "?dryRun=All" : ""}`,
        `creating VolumeSnapshot "${body.metadata.name}" in namespace "${body.metadata.namespace}"`,
        body,
      ),
    annotate: (kind, ns, name, key, value) =>
      patch(
        objectPath(kind, ns, name),
        `recording the in-place restore on ${kind} "${name}" in namespace "${ns}"`,
        { metadata: { annotations: { [key]: value } } },
        true,
      ),
  };
}
