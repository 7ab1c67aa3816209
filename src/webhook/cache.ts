// Watch-backed caches of what the rules read (PVCs, PVs, StorageClasses, VolumeSnapshots and
// their contents and classes, ReferenceGrants, VolumePopulators, group snapshots and their
// classes) and the two Lookups built on them: `cached` (cache first; on a miss, or before the cache has synced, a direct read, so a
// source created a moment earlier is found) and `direct` (always the API, used to re-check a
// decision before denying). Which resources, at which versions, is src/kube/resources.ts (the
// plugin's lookup reads the same table). An optional CRD that is not installed disables only what needs it
// and is looked for again periodically.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import type { Connection } from "../kube/connection.ts";
import { errorMessage, type Logger, silentLogger } from "../kube/log.ts";
import {
  listPath,
  objectPath,
  RESOURCES,
  type Resource,
  type ResourceKey,
  servedVersion,
} from "../kube/resources.ts";
import { ApiError, getJson, watchStream } from "../kube/rest.ts";
import type {
  Lookup,
  PopulatorKind,
  ReferenceGrant,
  VolumeGroupSnapshotClass,
  VolumeSnapshot,
  VolumeSnapshotClass,
  VolumeSnapshotContent,
} from "../rules/index.ts";

export { RESOURCES, type ResourceKey };

type State = "unknown" | "absent" | "syncing" | "synced";

/** What the rules need of an object; the cache keeps objects as the API sends them. */
export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; managedFields?: unknown };
}

/** Read access to one resource's objects. */
export interface ObjectCache<T = KubeObject> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
}

/** Objects by namespace ("" for cluster-scoped) and name, kept current by a list+watch. */
class ObjectMap implements ObjectCache {
  private byNs = new Map<string, Map<string, KubeObject>>();
  get(name: string, namespace?: string) {
    return this.byNs.get(namespace ?? "")?.get(name);
  }
  list(namespace?: string) {
    if (namespace === undefined) return [...this.byNs.values()].flatMap((m) => [...m.values()]);
    return [...(this.byNs.get(namespace)?.values() ?? [])];
  }
  get size(): number {
    let n = 0;
    for (const m of this.byNs.values()) n += m.size;
    return n;
  }
  put(o: KubeObject): void {
    const ns = o.metadata?.namespace ?? "";
    let m = this.byNs.get(ns);
    if (!m) {
      m = new Map();
      this.byNs.set(ns, m);
    }
    // Managed fields are the largest part of most objects and no rule reads them.
    if (o.metadata?.managedFields) delete o.metadata.managedFields;
    m.set(o.metadata?.name ?? "", o);
  }
  remove(o: KubeObject): void {
    const ns = o.metadata?.namespace ?? "";
    const m = this.byNs.get(ns);
    m?.delete(o.metadata?.name ?? "");
    if (m?.size === 0) this.byNs.delete(ns);
  }
  replace(items: KubeObject[]): void {
    this.byNs = new Map();
    for (const o of items) this.put(o);
  }
}

class Store {
  state: State = "unknown";
  /** The served version, once discovered. */
  version: string | undefined;
  cache: ObjectCache | undefined;
  abort: AbortController | undefined;
  readonly key: ResourceKey;
  readonly resource: Resource;
  constructor(key: ResourceKey) {
    this.key = key;
    this.resource = RESOURCES[key];
  }
}

export interface CacheOptions {
  log?: Logger;
  /** How often a missing optional CRD is looked for again (ms). */
  rediscoverMs?: number;
  /** Delay before a failed list/watch starts again (ms). */
  retryMs?: number;
  /** Objects per list page (default 500). */
  listPage?: number;
  /**
   * Fixed contents instead of watches, for benchmarks and tests of the webhook without an API
   * server: each given store counts as synced; the others as absent.
   */
  fixed?: Partial<Record<ResourceKey, ObjectCache>>;
}

/** A fixed ObjectCache over a list of objects (see CacheOptions.fixed). */
export function fixedCache(items: KubeObject[]): ObjectCache {
  const m = new ObjectMap();
  m.replace(items);
  return m;
}

export class KubeCache {
  private readonly stores = new Map<ResourceKey, Store>();
  private readonly log: Logger;
  private readonly conn: Connection | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly rediscoverMs: number;
  private readonly retryMs: number;
  private readonly listPage: number;

  constructor(conn: Connection | undefined, opts: CacheOptions = {}) {
    this.conn = conn;
    this.log = opts.log ?? silentLogger;
    this.rediscoverMs = opts.rediscoverMs ?? 30_000;
    this.retryMs = opts.retryMs ?? 2_000;
    this.listPage = opts.listPage ?? 500;
    for (const key of Object.keys(RESOURCES) as ResourceKey[]) {
      const s = new Store(key);
      const fixed = opts.fixed?.[key];
      if (opts.fixed) {
        s.state = fixed ? "synced" : "absent";
        s.cache = fixed;
        s.version = s.resource.versions[0];
      }
      this.stores.set(key, s);
    }
  }

  /** Starts every watch; resolves when each has listed once or was found missing. */
  async start(): Promise<void> {
    if (!this.conn) return;
    await Promise.all([...this.stores.values()].map((s) => this.begin(s)));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.stores.values()) s.abort?.abort();
  }

  /** True when every store has synced once or is known to be absent. */
  ready(): boolean {
    return [...this.stores.values()].every((s) => s.state === "synced" || s.state === "absent");
  }

  /** Which optional resources are served (for logs and /readyz details). */
  states(): Record<string, State> {
    return Object.fromEntries([...this.stores].map(([k, s]) => [k, s.state]));
  }

  private later(fn: () => void, ms: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private discover(s: Store, signal?: AbortSignal): Promise<string | undefined> {
    const conn = this.conn as Connection;
    return servedVersion(s.resource, (p) => getJson(conn, p, undefined, signal));
  }

  private async begin(s: Store): Promise<void> {
    if (this.stopped) return;
    let version: string | undefined;
    try {
      version = await this.discover(s);
    } catch (err) {
      this.log.warn("discovery failed; retrying", { resource: s.resource.plural, error: errorMessage(err) });
      this.later(() => void this.begin(s), this.retryMs);
      return;
    }
    if (!version) {
      if (s.state !== "absent") {
        this.log.info("optional resource not served; its rule is off until it is", {
          resource: `${s.resource.plural}.${s.resource.group}`,
        });
      }
      s.state = "absent";
      s.cache = undefined;
      this.later(() => void this.begin(s), this.rediscoverMs);
      return;
    }
    s.version = version;
    if (s.state === "absent" || s.state === "unknown") s.state = "syncing";
    try {
      await this.reflect(s, version);
      return; // watching in the background from here
    } catch (err) {
      if (this.stopped) return;
      const gone = err instanceof ApiError && err.code === 404;
      this.log.warn(gone ? "resource no longer served" : "list/watch failed; starting again", {
        resource: s.resource.plural,
        error: errorMessage(err),
      });
      if (gone) {
        s.state = "absent";
        s.cache = undefined;
      }
    }
    this.later(() => void this.begin(s), this.retryMs);
  }

  /**
   * Lists (throwing when that fails), then watches in the background from the list's
   * resourceVersion for as long as the watch can be resumed: the server ends each watch after
   * its timeout; a 410 Gone means list again; a 404 means the resource went away.
   */
  private async reflect(s: Store, version: string): Promise<void> {
    const conn = this.conn as Connection;
    const base = listPath(s.resource, version);
    const map = new ObjectMap();
    // In pages, so 10,000 claims never sit in memory as one response text.
    type Page = { items?: KubeObject[]; metadata?: { resourceVersion?: string; continue?: string } };
    let cont = "";
    let rv = "";
    do {
      const q = `?limit=${this.listPage}${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`;
      const page = await getJson<Page>(conn, `${base}${q}`, 60_000);
      if (!page) throw new ApiError(404, `${base} is not served`);
      for (const o of page.items ?? []) map.put(o);
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?.continue ?? "";
    } while (cont);
    s.cache = map;
    if (s.state !== "synced") {
      s.state = "synced";
      this.log.info("cache synced", { resource: s.resource.plural, count: map.size });
    }
    // From here on, watching runs in the background; begin() has done its first sync.
    void (async () => {
      while (!this.stopped) {
        const abort = new AbortController();
        s.abort = abort;
        let expired = false;
        try {
          await watchStream(
            conn,
            `${base}?watch=1&allowWatchBookmarks=true&timeoutSeconds=${240 + Math.floor(Math.random() * 120)}&resourceVersion=${encodeURIComponent(rv)}`,
            (e) => {
              const o = e.object as KubeObject & { code?: number };
              if (e.type === "ERROR") {
                if (o.code === 410) expired = true;
                abort.abort();
                return;
              }
              if (e.type === "ADDED" || e.type === "MODIFIED") map.put(o);
              else if (e.type === "DELETED") map.remove(o);
              rv = o.metadata?.resourceVersion ?? rv;
            },
            abort.signal,
          );
        } catch (err) {
          if (this.stopped) return;
          const code = err instanceof ApiError ? err.code : 0;
          if (code === 410) expired = true;
          else if (code === 404) {
            this.log.warn("resource no longer served", { resource: s.resource.plural });
            s.state = "absent";
            s.cache = undefined;
            this.later(() => void this.begin(s), this.retryMs);
            return;
          } else {
            this.log.warn("watch broke; resuming", { resource: s.resource.plural, error: errorMessage(err) });
            await new Promise((r) => setTimeout(r, this.retryMs).unref());
          }
        }
        if (expired) {
          // Too old to resume: list again (the old map keeps serving until the new one is in).
          this.later(() => void this.begin(s), 0);
          return;
        }
      }
    })();
  }

  /** What the cache holds now (no API read): for tests and diagnostics. */
  peek(key: ResourceKey, name: string, namespace?: string): KubeObject | undefined {
    return this.store(key).cache?.get(name, namespace);
  }

  private store(key: ResourceKey): Store {
    return this.stores.get(key) as Store;
  }

  /** One object: from the cache, else (a miss, or not synced) a direct read; no CRD → undefined. */
  private async one<T>(
    key: ResourceKey,
    name: string,
    namespace: string | undefined,
    direct: boolean,
    signal: AbortSignal | undefined,
  ) {
    const s = this.store(key);
    if (!direct && s.state === "synced" && s.cache) {
      const hit = s.cache.get(name, s.resource.namespaced ? namespace : undefined);
      if (hit) return hit as T;
    }
    if (!this.conn || !name) return undefined;
    const version = await this.servedVersion(s, signal);
    return version
      ? getJson<T>(this.conn, objectPath(s.resource, version, name, namespace), undefined, signal)
      : undefined;
  }

  /**
   * The version to read a resource at directly. A CRD the cache thinks absent is looked for
   * again (it may have been installed a moment ago; the cache catches up on its next try).
   */
  private async servedVersion(s: Store, signal?: AbortSignal): Promise<string | undefined> {
    if (s.version) return s.version;
    if (!s.resource.optional) return s.resource.versions[0];
    return this.discover(s, signal);
  }

  /** All objects (of a namespace): the cache when synced, else a direct list; no CRD → undefined. */
  private async all<T>(
    key: ResourceKey,
    namespace: string | undefined,
    direct: boolean,
    signal: AbortSignal | undefined,
  ) {
    const s = this.store(key);
    if (!direct && s.state === "synced" && s.cache) return s.cache.list(namespace) as T[];
    if (!this.conn) return undefined;
    const version = await this.servedVersion(s, signal);
    if (!version) return undefined;
    const l = await getJson<{ items?: T[] }>(
      this.conn,
      listPath(s.resource, version, namespace),
      undefined,
      signal,
    );
    return l ? (l.items ?? []) : undefined;
  }

  private makeLookup(direct: boolean, signal: AbortSignal | undefined): Lookup {
    return {
      pvc: (ns, name) => this.one<V1PersistentVolumeClaim>("pvcs", name, ns, direct, signal),
      persistentVolume: (name) => this.one<V1PersistentVolume>("pvs", name, undefined, direct, signal),
      persistentVolumes: async () =>
        (await this.all<V1PersistentVolume>("pvs", undefined, direct, signal)) ?? [],
      storageClass: (name) => this.one<V1StorageClass>("storageClasses", name, undefined, direct, signal),
      storageClasses: async () =>
        (await this.all<V1StorageClass>("storageClasses", undefined, direct, signal)) ?? [],
      volumeSnapshot: (ns, name) => this.one<VolumeSnapshot>("volumeSnapshots", name, ns, direct, signal),
      volumeSnapshotContent: (name) =>
        this.one<VolumeSnapshotContent>("volumeSnapshotContents", name, undefined, direct, signal),
      volumeSnapshotClasses: async () =>
        (await this.all<VolumeSnapshotClass>("volumeSnapshotClasses", undefined, direct, signal)) ?? [],
      referenceGrants: (ns) => this.all<ReferenceGrant>("referenceGrants", ns, direct, signal),
      // The group snapshot rules match their selector among a namespace's claims.
      pvcs: async (ns) => (await this.all<V1PersistentVolumeClaim>("pvcs", ns, direct, signal)) ?? [],
      volumeGroupSnapshotClasses: () =>
        this.all<VolumeGroupSnapshotClass>("volumeGroupSnapshotClasses", undefined, direct, signal),
      populatorKinds: async () => {
        const pops = await this.all<{ sourceKind?: PopulatorKind }>(
          "volumePopulators",
          undefined,
          direct,
          signal,
        );
        return pops?.flatMap((p) =>
          p.sourceKind?.kind ? [{ group: p.sourceKind.group ?? "", kind: p.sourceKind.kind }] : [],
        );
      },
    };
  }

  /**
   * Cache first; a direct read on a miss or before the cache has synced. Direct reads stop when
   * `signal` aborts (the request's deadline).
   */
  cached(signal?: AbortSignal): Lookup {
    return this.makeLookup(false, signal);
  }

  /** Always the API server (reads stop when `signal` aborts). */
  direct(signal?: AbortSignal): Lookup {
    return this.makeLookup(true, signal);
  }
}
