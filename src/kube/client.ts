// Kubernetes access shared by the plugin, the webhook and the tests: kubeconfig loading with
// kubectl's precedence, typed API handles, and the snapshot API's coordinates.
import { ApisApi, CoreV1Api, CustomObjectsApi, KubeConfig, StorageV1Api } from "@kubernetes/client-node";

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

export function clients(kc: KubeConfig): Clients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    storage: kc.makeApiClient(StorageV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    apis: kc.makeApiClient(ApisApi),
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
