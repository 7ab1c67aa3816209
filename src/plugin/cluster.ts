// What the verbs need from a cluster, as types only: the verbs (and the help, parsing and
// completion around them) stay free of the Kubernetes client library, which is loaded only
// when a verb talks to the API server (core.ts implements this).
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { ScheduleStore } from "../kube/schedules.ts";
import type { Lookup, VolumeGroupSnapshot, VolumeSnapshot } from "../rules/types.ts";

/** kubectl's global flags, as parsed. */
export interface GlobalFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** --request-timeout in ms; 0 means none. */
  requestTimeoutMs: number;
}

export interface EventLine {
  type: string;
  reason: string;
  message: string;
  count: number;
  last?: string;
}

export interface Cluster {
  /** The namespace of -n, else of the kubeconfig context. */
  namespace: string;
  /** The API server URL (for messages). */
  server: string;
  lookup: Lookup;
  createClaim(
    namespace: string,
    body: V1PersistentVolumeClaim,
    dryRun: boolean,
  ): Promise<V1PersistentVolumeClaim>;
  createSnapshot(namespace: string, body: VolumeSnapshot, dryRun: boolean): Promise<VolumeSnapshot>;
  /** Fresh reads (no memo), for waiting. */
  readClaim(namespace: string, name: string): Promise<V1PersistentVolumeClaim | undefined>;
  readSnapshot(namespace: string, name: string): Promise<VolumeSnapshot | undefined>;
  /** `namespace` undefined: all namespaces. */
  listClaims(namespace: string | undefined): Promise<V1PersistentVolumeClaim[]>;
  listSnapshots(namespace: string | undefined): Promise<VolumeSnapshot[]>;
  /** Group snapshots (groupsnapshot.storage.k8s.io/v1); a MissingApiError without their CRDs. */
  createGroupSnapshot(
    namespace: string,
    body: VolumeGroupSnapshot,
    dryRun: boolean,
  ): Promise<VolumeGroupSnapshot>;
  readGroupSnapshot(namespace: string, name: string): Promise<VolumeGroupSnapshot | undefined>;
  /** `[]` when the group snapshot CRDs are not installed. */
  listGroupSnapshots(namespace: string | undefined): Promise<VolumeGroupSnapshot[]>;
  /** Deletes a claim this run created (precondition: its uid); a claim already gone is no error. */
  deleteClaim(namespace: string, name: string, uid: string | undefined): Promise<void>;
  /**
   * One request by API path, for what the methods here do not cover (the in-place restore's
   * pods, workloads, scale and volumes): the HTTP status and the parsed JSON body, whatever the
   * status; throws only when there is no answer (unreachable, --request-timeout, Ctrl-C).
   */
  request(method: HttpMethod, path: string, body?: unknown, contentType?: string): Promise<ApiAnswer>;
  /** Events about one object, oldest first. */
  events(namespace: string, kind: string, name: string): Promise<EventLine[]>;
  /** Names for shell completion. */
  names(
    what:
      | "persistentvolumeclaims"
      | "volumesnapshots"
      | "namespaces"
      | "storageclasses"
      | "volumesnapshotclasses",
  ): Promise<string[]>;
}

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
export interface ApiAnswer {
  /** A 2xx answer. */
  ok: boolean;
  /** The HTTP status (every 2xx shows as 200). */
  status: number;
  /** The parsed JSON body (a failure's Kubernetes Status). */
  body: unknown;
}

/** The heavy half of the plugin, loaded on demand. */
export interface Core {
  connect(flags: GlobalFlags, signal: AbortSignal): Promise<Cluster>;
  /** Context names of the kubeconfig, for completion. */
  contexts(flags: GlobalFlags): string[];
  /** SnapshotSchedules (vol.kubectl.io/v1alpha1) over the plain-JSON client, for `schedule`. */
  schedules?(flags: GlobalFlags): Promise<ScheduleStore>;
}
