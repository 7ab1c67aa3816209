// The MutatingWebhookConfiguration and ValidatingWebhookConfiguration that send our kinds to
// the webhook: CREATE only (an UPDATE — finalizers, labels, status, deletion — never waits
// on us), claims only when they have a data source (a CEL match condition), no side effects
// (so dry-run requests are sent too), and mutation re-run when a later webhook changes the claim.
import type {
  AdmissionregistrationV1WebhookClientConfig,
  V1ClusterRole,
  V1MutatingWebhookConfiguration,
  V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { SNAPSHOT_API_GROUP } from "../rules/index.ts";
import { RESOURCES } from "./cache.ts";

export const WEBHOOK_NAME = "vol.kubectl.io";

/**
 * Node flags the webhook process runs with (`node <flags> cmd/vol-webhook/main.ts`, or
 * NODE_OPTIONS): a small young generation keeps the resident size low under load (about
 * 110 MiB instead of 160 MiB with 10,000 cached claims, see bench/results/webhook.md) at the
 * cost of more, shorter scavenges.
 */
export const WEBHOOK_NODE_FLAGS = ["--max-semi-space-size=2"];

/**
 * Environment of the webhook process, besides NODE_OPTIONS: two malloc arenas instead of one
 * per thread (the collector's helpers and libuv's pool each get one otherwise), some 20 MiB
 * less resident under load for no measurable latency (bench/results/webhook.md).
 */
export const WEBHOOK_ENV: Record<string, string> = { MALLOC_ARENA_MAX: "2" };

export interface WebhookTarget {
  /** `url` form: https://host:port (the path is added). */
  url?: string;
  /** `service` form (in-cluster). */
  service?: { namespace: string; name: string; port?: number };
  /** PEM of the CA that signed the serving certificate. */
  caBundle: string;
  failurePolicy?: "Fail" | "Ignore";
  timeoutSeconds?: number;
}

const HAS_DATA_SOURCE = {
  name: "has-data-source",
  expression: "has(object.spec.dataSource) || has(object.spec.dataSourceRef)",
};

function clientConfig(t: WebhookTarget, path: string): AdmissionregistrationV1WebhookClientConfig {
  const caBundle = Buffer.from(t.caBundle).toString("base64");
  if (t.url) return { url: `${t.url.replace(/\/$/, "")}${path}`, caBundle };
  if (t.service) return { service: { ...t.service, path }, caBundle };
  throw new Error("a webhook target needs a url or a service");
}

const claims = {
  apiGroups: [""],
  apiVersions: ["v1"],
  resources: ["persistentvolumeclaims"],
  operations: ["CREATE"],
  scope: "Namespaced",
};
const snapshots = {
  apiGroups: [SNAPSHOT_API_GROUP],
  apiVersions: ["v1"],
  resources: ["volumesnapshots"],
  operations: ["CREATE"],
  scope: "Namespaced",
};

export function mutatingConfiguration(t: WebhookTarget): V1MutatingWebhookConfiguration {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: WEBHOOK_NAME },
    webhooks: [
      {
        name: `claims.mutate.${WEBHOOK_NAME}`,
        clientConfig: clientConfig(t, "/mutate"),
        rules: [claims],
        matchConditions: [HAS_DATA_SOURCE],
        admissionReviewVersions: ["v1"],
        sideEffects: "None",
        failurePolicy: t.failurePolicy ?? "Fail",
        timeoutSeconds: t.timeoutSeconds ?? 5,
        reinvocationPolicy: "IfNeeded",
      },
    ],
  };
}

export function validatingConfiguration(t: WebhookTarget): V1ValidatingWebhookConfiguration {
  const common = {
    clientConfig: clientConfig(t, "/validate"),
    admissionReviewVersions: ["v1"],
    sideEffects: "None",
    failurePolicy: t.failurePolicy ?? "Fail",
    timeoutSeconds: t.timeoutSeconds ?? 5,
  };
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: WEBHOOK_NAME },
    webhooks: [
      {
        name: `claims.validate.${WEBHOOK_NAME}`,
        rules: [claims],
        matchConditions: [HAS_DATA_SOURCE],
        ...common,
      },
      { name: `snapshots.validate.${WEBHOOK_NAME}`, rules: [snapshots], ...common },
    ],
  };
}

/** What the webhook's identity may read: exactly the resources its caches watch. */
export function webhookClusterRole(name = "vol-webhook"): V1ClusterRole {
  const byGroup = new Map<string, string[]>();
  for (const r of Object.values(RESOURCES)) byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), r.plural]);
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name },
    rules: [...byGroup].map(([group, resources]) => ({
      apiGroups: [group],
      resources,
      verbs: ["get", "list", "watch"],
    })),
  };
}
