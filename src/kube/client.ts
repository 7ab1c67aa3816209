// Kubernetes access shared by the plugin, the webhook and the tests: kubeconfig loading with
// kubectl's precedence, typed API handles, and the snapshot API's coordinates.
import {
  ApisApi,
  CoreV1Api,
  CustomObjectsApi,
  createConfiguration,
  KubeConfig,
  type Middleware,
  ServerConfiguration,
  StorageV1Api,
} from "@kubernetes/client-node";

export interface ConnectOptions {
  /** --kubeconfig; else $KUBECONFIG; else ~/.kube/config; else in-cluster. */
  kubeconfig?: string;
  /** --context */
  context?: string;
}

export function loadKubeConfig(opts: ConnectOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) {
    if (!kc.getContexts().some((c) => c.name === opts.context)) {
      throw new Error(`context "${opts.context}" does not exist in the kubeconfig`);
    }
    kc.setCurrentContext(opts.context);
  }
  return kc;
}

/** The namespace of the current context, as kubectl picks it ("default" when unset). */
export function contextNamespace(kc: KubeConfig): string {
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || "default";
}

export const SNAPSHOT_GROUP = "snapshot.storage.k8s.io";
export const SNAPSHOT_VERSION = "v1";

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  storage: StorageV1Api;
  custom: CustomObjectsApi;
  apis: ApisApi;
}

export interface RequestOptions {
  /** Aborts every request in flight (Ctrl-C). */
  signal?: AbortSignal;
  /** Per-request limit in ms (kubectl's --request-timeout); 0 or undefined: none. */
  requestTimeoutMs?: number;
}

export function clients(kc: KubeConfig, opts: RequestOptions = {}): Clients {
  if (!opts.signal && !opts.requestTimeoutMs) {
    return {
      kc,
      core: kc.makeApiClient(CoreV1Api),
      storage: kc.makeApiClient(StorageV1Api),
      custom: kc.makeApiClient(CustomObjectsApi),
      apis: kc.makeApiClient(ApisApi),
    };
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("the kubeconfig has no current cluster: pass --context or --kubeconfig");
  const limit: Middleware = {
    pre: async (ctx) => {
      const signals = [
        opts.signal,
        opts.requestTimeoutMs ? AbortSignal.timeout(opts.requestTimeoutMs) : undefined,
      ];
      ctx.setSignal(AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined)));
      return ctx;
    },
    post: async (ctx) => ctx,
  };
  const config = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kc },
    promiseMiddleware: [limit],
  });
  return {
    kc,
    core: new CoreV1Api(config),
    storage: new StorageV1Api(config),
    custom: new CustomObjectsApi(config),
    apis: new ApisApi(config),
  };
}

/** The HTTP status of an error thrown by the client, if it carries one. */
export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** The `message` of a Kubernetes Status carried by a client error, else the error's own. */
export function apiMessage(err: unknown): string {
  const body = (err as { body?: unknown } | null)?.body;
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      if (body.trim()) return body.trim();
    }
  } else if (body && typeof body === "object" && "message" in body) {
    return String((body as { message: unknown }).message);
  }
  return err instanceof Error ? err.message : String(err);
}
