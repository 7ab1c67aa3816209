// The plugin's access to a cluster (the Cluster of cluster.ts), loaded on demand: the
// kubeconfig kubectl would load (src/kube/kubeconfig.ts), -n or the context's namespace, every
// request bounded by --request-timeout (connecting included) and cancelled by Ctrl-C, and every
// failure turned into one sentence that says what was being done, to which object, and why.
// Requests go over node:https (src/kube/rest.ts), which, unlike fetch, reaches a server on any port.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { connect as connectTo } from "../kube/connection.ts";
import { loadKubeconfig } from "../kube/kubeconfig.ts";
import { apiLookup, type Get, MissingApiError, resourceReader } from "../kube/lookup.ts";
import { listPath, RESOURCES } from "../kube/resources.ts";
import { ApiError, type CallOptions, callJson, RequestTimeoutError } from "../kube/rest.ts";
import { scheduleStore } from "../kube/schedules.ts";
import type { VolumeGroupSnapshot, VolumeSnapshot } from "../rules/types.ts";
import type { ApiAnswer, Cluster, Core, EventLine, GlobalFlags, HttpMethod } from "./cluster.ts";

/** One sentence for a failed request. Pure apart from reading the error. */
export function explain(err: unknown, doing: string, server: string, flags: GlobalFlags): Error {
  if (err instanceof MissingApiError) return err;
  if (err instanceof RequestTimeoutError) {
    const limit = flags.requestTimeoutMs || err.timeoutMs;
    const which = flags.requestTimeoutMs ? " (--request-timeout)" : " (connecting)";
    return new Error(`${doing}: the API server at ${server} did not answer within ${limit / 1000}s${which}`);
  }
  const e = err as { name?: string; code?: unknown; message?: string };
  if (e?.name === "AbortError") return new Error(`${doing}: interrupted`);
  if (err instanceof ApiError) {
    if (err.code === 401) {
      return new Error(
        `${doing}: the API server rejected the credentials of the kubeconfig (401 Unauthorized)`,
      );
    }
    const message = err.status?.message ?? err.message;
    if (err.code === 403) return new Error(`${doing}: forbidden: ${message}`);
    return new Error(`${doing}: ${message}`);
  }
  if (typeof e?.code === "string") {
    const tls = /CERT|TLS|SSL/.test(e.code) ? `: ${e.message}` : "";
    return new Error(
      `${doing}: cannot reach the API server at ${server} (${e.code}${tls}): check --kubeconfig and --context`,
    );
  }
  return new Error(`${doing}: ${e?.message ?? String(err)}`);
}

const KINDS: Record<string, string> = {
  pvc: "PersistentVolumeClaim",
  volumeSnapshot: "VolumeSnapshot",
  persistentVolume: "PersistentVolume",
  storageClass: "StorageClass",
  volumeSnapshotContent: "VolumeSnapshotContent",
};

/** What a Lookup read was doing, for messages: `reading PersistentVolumeClaim "db" in namespace "shop"`. */
function readingWhat(method: string, args: unknown[]): string {
  const kind = KINDS[method];
  if (kind && args.length === 2) return `reading ${kind} "${args[1]}" in namespace "${args[0]}"`;
  if (kind && args.length === 1) return `reading ${kind} "${args[0]}"`;
  return `reading ${method}${args.length ? ` of namespace "${args[0]}"` : ""}`;
}

const BUSY_RETRIES = [250, 500, 1000, 2000];

const dryRunQuery = (dryRun: boolean) => (dryRun ? "?dryRun=All" : "");
type Named = { metadata?: { name?: string } };
const names = (items: Named[] | undefined) =>
  (items ?? []).map((i) => i.metadata?.name ?? "").filter(Boolean);

async function connect(flags: GlobalFlags, signal: AbortSignal): Promise<Cluster> {
  let conn: Awaited<ReturnType<typeof connectTo>>;
  try {
    conn = await connectTo({ kubeconfig: flags.kubeconfig, context: flags.context });
  } catch (err) {
    const message = (err as Error).message;
    throw new Error(
      flags.kubeconfig ? `cannot load the kubeconfig "${flags.kubeconfig}": ${message}` : message,
    );
  }
  const server = conn.server;
  // A 429 or 503 is tried again, as client-go does (a CRD's storage may still be initialising).
  const call = <T>(path: string, o: CallOptions = {}) =>
    callJson<T>(conn, path, { busyRetries: BUSY_RETRIES, ...o, deadlineMs: flags.requestTimeoutMs, signal });
  const get: Get = async <T>(path: string) => {
    try {
      return await call<T>(path);
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  };
  const guard =
    <A extends unknown[], R>(doing: (...a: A) => string, fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await fn(...a);
      } catch (err) {
        throw explain(err, doing(...a), server, flags);
      }
    };
  const reader = resourceReader(get);
  const rawLookup = apiLookup(get, reader);
  const lookup = Object.fromEntries(
    Object.entries(rawLookup).map(([k, fn]) => [
      k,
      guard((...a: unknown[]) => readingWhat(k, a), fn as (...a: unknown[]) => Promise<unknown>),
    ]),
  ) as unknown as typeof rawLookup;
  const namespace = flags.namespace || conn.namespace || "default";
  /** POSTs an object at the version likely served; a 404 there asks discovery which one is. */
  const postAt =
    <T>(key: "volumeSnapshots" | "volumeGroupSnapshots") =>
    async (ns: string, body: T, dryRun: boolean): Promise<T> => {
      const post = (v: string) =>
        call<T>(`${listPath(RESOURCES[key], v, ns)}${dryRunQuery(dryRun)}`, { method: "POST", body });
      const first = reader.likely(key);
      try {
        return await post(first);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
        const served = (await reader.served(key, true)) as string;
        if (served === first) throw err; // served there: the 404 is the namespace's
        return post(served);
      }
    };

  return {
    namespace,
    server,
    lookup,
    createClaim: guard(
      (ns, body) => `creating PersistentVolumeClaim "${body.metadata?.name}" in namespace "${ns}"`,
      (ns: string, body: V1PersistentVolumeClaim, dryRun: boolean) =>
        call<V1PersistentVolumeClaim>(`${listPath(RESOURCES.pvcs, "v1", ns)}${dryRunQuery(dryRun)}`, {
          method: "POST",
          body,
        }),
    ),
    createSnapshot: guard(
      (ns, body) => `creating VolumeSnapshot "${body.metadata.name}" in namespace "${ns}"`,
      postAt<VolumeSnapshot>("volumeSnapshots"),
    ),
    readClaim: guard(
      (ns, name) => `reading PersistentVolumeClaim "${name}" in namespace "${ns}"`,
      (ns: string, name: string) => reader.one<V1PersistentVolumeClaim>("pvcs", name, ns),
    ),
    readSnapshot: guard(
      (ns, name) => `reading VolumeSnapshot "${name}" in namespace "${ns}"`,
      (ns: string, name: string) => reader.one<VolumeSnapshot>("volumeSnapshots", name, ns),
    ),
    listClaims: guard(
      (ns) => `listing PersistentVolumeClaims${ns ? ` in namespace "${ns}"` : ""}`,
      async (ns: string | undefined) => (await reader.all<V1PersistentVolumeClaim>("pvcs", ns, true)) ?? [],
    ),
    listSnapshots: guard(
      (ns) => `listing VolumeSnapshots${ns ? ` in namespace "${ns}"` : ""}`,
      async (ns: string | undefined) => (await reader.all<VolumeSnapshot>("volumeSnapshots", ns, true)) ?? [],
    ),
    createGroupSnapshot: guard(
      (ns, body) => `creating VolumeGroupSnapshot "${body.metadata.name}" in namespace "${ns}"`,
      postAt<VolumeGroupSnapshot>("volumeGroupSnapshots"),
    ),
    readGroupSnapshot: guard(
      (ns, name) => `reading VolumeGroupSnapshot "${name}" in namespace "${ns}"`,
      (ns: string, name: string) => reader.one<VolumeGroupSnapshot>("volumeGroupSnapshots", name, ns),
    ),
    listGroupSnapshots: guard(
      (ns) => `listing VolumeGroupSnapshots${ns ? ` in namespace "${ns}"` : ""}`,
      async (ns: string | undefined) =>
        (await reader.all<VolumeGroupSnapshot>("volumeGroupSnapshots", ns, false)) ?? [],
    ),
    deleteClaim: guard(
      (ns, name) => `deleting PersistentVolumeClaim "${name}" in namespace "${ns}"`,
      async (ns: string, name: string, uid: string | undefined) => {
        const body = { apiVersion: "v1", kind: "DeleteOptions", ...(uid ? { preconditions: { uid } } : {}) };
        try {
          await call<unknown>(`${listPath(RESOURCES.pvcs, "v1", ns)}/${encodeURIComponent(name)}`, {
            method: "DELETE",
            body,
          });
        } catch (err) {
          if (!(err instanceof ApiError && err.code === 404)) throw err;
        }
      },
    ),
    request: guard(
      (method, path) => `${method} ${path}`,
      async (method: HttpMethod, path: string, body?: unknown, contentType?: string): Promise<ApiAnswer> => {
        try {
          return { ok: true, status: 200, body: await call<unknown>(path, { method, body, contentType }) };
        } catch (err) {
          if (err instanceof ApiError && err.code > 0) {
            return { ok: false, status: err.code, body: err.status ?? { message: err.message } };
          }
          throw err;
        }
      },
    ),
    events: guard(
      (ns, kind, name) => `reading the events of ${kind} "${name}" in namespace "${ns}"`,
      async (ns: string, kind: string, name: string): Promise<EventLine[]> => {
        type Event = {
          type?: string;
          reason?: string;
          message?: string;
          count?: number;
          lastTimestamp?: string;
          eventTime?: string;
          metadata?: { creationTimestamp?: string };
        };
        const selector = encodeURIComponent(`involvedObject.kind=${kind},involvedObject.name=${name}`);
        const list = await get<{ items?: Event[] }>(
          `/api/v1/namespaces/${encodeURIComponent(ns)}/events?fieldSelector=${selector}`,
        );
        const time = (e: Event) =>
          new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
        return (list?.items ?? [])
          .sort((a, b) => time(a) - time(b))
          .map((e) => ({
            type: e.type ?? "Normal",
            reason: e.reason ?? "",
            message: (e.message ?? "").trim(),
            count: e.count ?? 1,
            last: new Date(time(e)).toISOString(),
          }));
      },
    ),
    names: guard(
      (what) => `listing ${what}`,
      async (what) => {
        switch (what) {
          case "persistentvolumeclaims":
            return names(await reader.all<Named>("pvcs", namespace, true));
          case "namespaces":
            return names((await get<{ items?: Named[] }>("/api/v1/namespaces"))?.items);
          case "storageclasses":
            return names(await rawLookup.storageClasses());
          case "volumesnapshots":
            return names(await reader.all<Named>("volumeSnapshots", namespace, true));
          case "volumesnapshotclasses":
            return names(await rawLookup.volumeSnapshotClasses());
        }
      },
    ),
  };
}

export const core: Core = {
  connect,
  schedules: async (f) =>
    scheduleStore(
      await connectTo({ kubeconfig: f.kubeconfig, context: f.context }),
      f.requestTimeoutMs || 30_000,
    ),
  contexts: (flags) => (loadKubeconfig(flags.kubeconfig).config.contexts ?? []).map((c) => c.name),
};
