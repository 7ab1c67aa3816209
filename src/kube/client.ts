// The full Kubernetes client (@kubernetes/client-node) for the few users that need its typed
// APIs (the webhook's certificate bootstrap): the kubeconfig kubectl would load (kubeconfig.ts,
// the same merge the light connection uses), and the error helpers for its errors.
import { KubeConfig } from "@kubernetes/client-node";
import type { ConnectOptions } from "./connection.ts";
import { isEmptyKubeconfig, loadKubeconfig } from "./kubeconfig.ts";

export function loadKubeConfig(opts: ConnectOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  const { config } = loadKubeconfig(opts.kubeconfig);
  // Nothing to load: the in-cluster service account, as kubectl falls back to it.
  if (isEmptyKubeconfig(config)) kc.loadFromDefault();
  else kc.loadFromString(JSON.stringify(config));
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
