// The plugin's access to a cluster (the Cluster of src/plugin/cluster.ts): kubeconfig with
// kubectl's precedence, -n or the context's namespace, every request bounded by
// --request-timeout and cancelled by Ctrl-C, and every failure turned into one sentence that
// says what was being done, to which object, and why.

import https from "node:https";
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { ApiAnswer, Cluster, Core, EventLine, GlobalFlags, HttpMethod } from "../plugin/cluster.ts";
import type { VolumeSnapshot } from "../rules/types.ts";
import {
  apiMessage,
  clients,
  contextNamespace,
  loadKubeConfig,
  SNAPSHOT_GROUP,
  SNAPSHOT_VERSION,
  statusCode,
} from "./client.ts";
import { apiLookup, isMissingApi, MissingApiError } from "./lookup.ts";

/** One sentence for a failed request. Pure apart from reading the error. */
export function explain(err: unknown, doing: string, server: string, flags: GlobalFlags): Error {
  if (err instanceof MissingApiError) return err;
  const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e?.name === "TimeoutError") {
    return new Error(
      `${doing}: the API server at ${server} did not answer within ${flags.requestTimeoutMs / 1000}s (--request-timeout)`,
    );
  }
  if (e?.name === "AbortError") return new Error(`${doing}: interrupted`);
  const netCode = e?.cause?.code;
  if (netCode || e?.message === "fetch failed") {
    return new Error(
      `${doing}: cannot reach the API server at ${server} (${netCode ?? e?.cause?.message ?? "fetch failed"}): check --kubeconfig and --context`,
    );
  }
  const code = statusCode(err);
  if (code === 401)
    return new Error(
      `${doing}: the API server rejected the credentials of the kubeconfig (401 Unauthorized)`,
    );
  if (code === 403) return new Error(`${doing}: forbidden: ${apiMessage(err)}`);
  return new Error(`${doing}: ${apiMessage(err)}`);
}

const snap = { group: SNAPSHOT_GROUP, version: SNAPSHOT_VERSION };

function connect(flags: GlobalFlags, signal: AbortSignal): Cluster {
  let kc: ReturnType<typeof loadKubeConfig>;
  try {
    kc = loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context });
  } catch (err) {
    const which = flags.kubeconfig ? `"${flags.kubeconfig}"` : "(from $KUBECONFIG or ~/.kube/config)";
    throw new Error(`cannot load the kubeconfig ${which}: ${(err as Error).message}`);
  }
  const server = kc.getCurrentCluster()?.server ?? "(no server in kubeconfig)";
  if (kc.getCurrentContext() === "loaded-context" && server === "http://localhost:8080") {
    // loadFromDefault's fallback when there is no kubeconfig and no in-cluster account
    throw new Error("no kubeconfig found: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config");
  }
  const c = clients(kc, { signal, requestTimeoutMs: flags.requestTimeoutMs });
  const rawLookup = apiLookup(c);
  const guard =
    <A extends unknown[], R>(doing: (...a: A) => string, fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await fn(...a);
      } catch (err) {
        throw explain(err, doing(...a), server, flags);
      }
    };
  const lookup = Object.fromEntries(
    Object.entries(rawLookup).map(([k, fn]) => [
      k,
      guard(
        (...a: unknown[]) => `reading ${k}${a.length ? ` ${a.map((x) => `"${x}"`).join(" ")}` : ""}`,
        fn as (...a: unknown[]) => Promise<unknown>,
      ),
    ]),
  ) as unknown as typeof rawLookup;

  const readOr404 = async <T>(p: Promise<T>): Promise<T | undefined> => {
    try {
      return await p;
    } catch (err) {
      if (statusCode(err) === 404 && !isMissingApi(err)) return undefined;
      throw err;
    }
  };
  const dry = (dryRun: boolean) => (dryRun ? "All" : undefined);

  return {
    namespace: flags.namespace || contextNamespace(kc),
    server,
    lookup,
    createClaim: guard(
      (ns, body) => `creating PersistentVolumeClaim "${body.metadata?.name}" in namespace "${ns}"`,
      (namespace: string, body: V1PersistentVolumeClaim, dryRun: boolean) =>
        c.core.createNamespacedPersistentVolumeClaim({ namespace, body, dryRun: dry(dryRun) }),
    ),
    createSnapshot: guard(
      (ns, body) => `creating VolumeSnapshot "${body.metadata.name}" in namespace "${ns}"`,
      async (namespace: string, body: VolumeSnapshot, dryRun: boolean) =>
        (await c.custom.createNamespacedCustomObject({
          ...snap,
          namespace,
          plural: "volumesnapshots",
          body,
          dryRun: dry(dryRun),
        })) as VolumeSnapshot,
    ),
    readClaim: guard(
      (ns, name) => `reading PersistentVolumeClaim "${name}" in namespace "${ns}"`,
      (namespace: string, name: string) =>
        readOr404(c.core.readNamespacedPersistentVolumeClaim({ namespace, name })),
    ),
    readSnapshot: guard(
      (ns, name) => `reading VolumeSnapshot "${name}" in namespace "${ns}"`,
      async (namespace: string, name: string) =>
        (await readOr404(
          c.custom.getNamespacedCustomObject({ ...snap, namespace, plural: "volumesnapshots", name }),
        )) as VolumeSnapshot | undefined,
    ),
    listClaims: guard(
      (ns) => `listing PersistentVolumeClaims${ns ? ` in namespace "${ns}"` : ""}`,
      async (namespace: string | undefined) =>
        (namespace
          ? await c.core.listNamespacedPersistentVolumeClaim({ namespace })
          : await c.core.listPersistentVolumeClaimForAllNamespaces()
        ).items,
    ),
    listSnapshots: guard(
      (ns) => `listing VolumeSnapshots${ns ? ` in namespace "${ns}"` : ""}`,
      async (namespace: string | undefined) => {
        try {
          const list = (
            namespace
              ? await c.custom.listNamespacedCustomObject({ ...snap, namespace, plural: "volumesnapshots" })
              : await c.custom.listClusterCustomObject({ ...snap, plural: "volumesnapshots" })
          ) as { items: VolumeSnapshot[] };
          return list.items;
        } catch (err) {
          if (statusCode(err) === 404) throw new MissingApiError(`${SNAPSHOT_GROUP}/${SNAPSHOT_VERSION}`);
          throw err;
        }
      },
    ),
    request: guard(
      (method, path) => `${method} ${path}`,
      async (method: HttpMethod, path: string, body?: unknown, contentType?: string): Promise<ApiAnswer> => {
        const text = body === undefined ? undefined : JSON.stringify(body);
        const opts: https.RequestOptions = {
          method,
          headers: {
            accept: "application/json",
            ...(text !== undefined
              ? {
                  "content-type": contentType ?? "application/json",
                  "content-length": Buffer.byteLength(text),
                }
              : {}),
          },
          signal: flags.requestTimeoutMs
            ? AbortSignal.any([signal, AbortSignal.timeout(flags.requestTimeoutMs)])
            : signal,
        };
        await kc.applyToHTTPSOptions(opts);
        return new Promise<ApiAnswer>((resolve, reject) => {
          const req = https.request(new URL(path, server), opts, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("error", reject);
            res.on("end", () => {
              const raw = Buffer.concat(chunks).toString("utf8");
              let parsed: unknown = raw;
              try {
                parsed = raw ? JSON.parse(raw) : undefined;
              } catch {
                // not JSON: keep the text
              }
              resolve({ status: res.statusCode ?? 0, body: parsed });
            });
          });
          req.on("error", reject);
          if (text !== undefined) req.write(text);
          req.end();
        });
      },
    ),
    events: guard(
      (ns, kind, name) => `reading the events of ${kind} "${name}" in namespace "${ns}"`,
      async (namespace: string, kind: string, name: string): Promise<EventLine[]> => {
        const list = await c.core.listNamespacedEvent({
          namespace,
          fieldSelector: `involvedObject.kind=${kind},involvedObject.name=${name}`,
        });
        const time = (e: (typeof list.items)[number]) =>
          new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
        return list.items
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
        const ns = flags.namespace || contextNamespace(kc);
        const names = (items: { metadata?: { name?: string } }[]) =>
          items.map((i) => i.metadata?.name ?? "").filter(Boolean);
        switch (what) {
          case "persistentvolumeclaims":
            return names((await c.core.listNamespacedPersistentVolumeClaim({ namespace: ns })).items);
          case "namespaces":
            return names((await c.core.listNamespace()).items);
          case "storageclasses":
            return names((await c.storage.listStorageClass()).items);
          case "volumesnapshots":
            return names(
              (
                (await c.custom.listNamespacedCustomObject({
                  ...snap,
                  namespace: ns,
                  plural: "volumesnapshots",
                })) as {
                  items: VolumeSnapshot[];
                }
              ).items,
            );
          case "volumesnapshotclasses":
            return names(await rawLookup.volumeSnapshotClasses());
        }
      },
    ),
  };
}

export const core: Core = {
  connect,
  contexts: (flags) =>
    loadKubeConfig({ kubeconfig: flags.kubeconfig })
      .getContexts()
      .map((c) => c.name),
};
