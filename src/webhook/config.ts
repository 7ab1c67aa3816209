// The webhook's deployment facts that tests, benchmarks and the local cluster share: the Mutating-
// and ValidatingWebhookConfiguration as they ship (read from manifests/base, never rebuilt here:
// CREATE only (schedules: spec updates too), claims only when they have a data source, our
// namespace and kube-system left out,
// failurePolicy Ignore), pointed at a webhook outside the cluster; the Node flags and environment
// it runs with; and the ClusterRole its caches need.
import { readFile } from "node:fs/promises";
import path from "node:path";
import {
  type AdmissionregistrationV1WebhookClientConfig,
  loadAllYaml,
  type V1ClusterRole,
  type V1MutatingWebhookConfiguration,
  type V1ValidatingWebhookConfiguration,
} from "@kubernetes/client-node";
import { RESOURCES } from "./cache.ts";

export { WEBHOOK_ENV, WEBHOOK_NODE_FLAGS } from "./runtime.ts";

/** The webhook configurations as they ship (kustomize base): the one definition of them. */
export const WEBHOOK_CONFIGURATIONS_FILE = path.join(
  import.meta.dirname,
  "../../manifests/base/webhook-configurations.yaml",
);

export interface ShippedConfigurations {
  mutating: V1MutatingWebhookConfiguration;
  validating: V1ValidatingWebhookConfiguration;
}

/** The shipped configurations, read from the manifest (for tests and the local cluster). */
export async function shippedConfigurations(
  file = WEBHOOK_CONFIGURATIONS_FILE,
): Promise<ShippedConfigurations> {
  const docs = loadAllYaml(await readFile(file, "utf8")) as (
    | V1MutatingWebhookConfiguration
    | V1ValidatingWebhookConfiguration
  )[];
  const mutating = docs.find((d) => d.kind === "MutatingWebhookConfiguration");
  const validating = docs.find((d) => d.kind === "ValidatingWebhookConfiguration");
  if (!mutating || !validating)
    throw new Error(`${file} must hold a Mutating- and a ValidatingWebhookConfiguration`);
  return { mutating, validating } as ShippedConfigurations;
}

export interface WebhookTarget {
  /** https://host:port of a webhook outside the cluster (each webhook's Service path is kept). */
  url: string;
  /** PEM of the CA that signed the serving certificate. */
  caBundle: string;
}

/**
 * The shipped configurations pointed at `target` instead of the in-cluster Service; everything
 * else (names, rules, selectors, conditions, failurePolicy, timeouts) stays as it ships.
 */
export function pointedAt(c: ShippedConfigurations, target: WebhookTarget): ShippedConfigurations {
  const caBundle = Buffer.from(target.caBundle).toString("base64");
  const repoint = <W extends { clientConfig: AdmissionregistrationV1WebhookClientConfig }>(w: W): W => {
    const path = w.clientConfig.service?.path ?? "";
    return { ...w, clientConfig: { url: `${target.url.replace(/\/$/, "")}${path}`, caBundle } };
  };
  return {
    mutating: { ...structuredClone(c.mutating), webhooks: c.mutating.webhooks?.map(repoint) },
    validating: { ...structuredClone(c.validating), webhooks: c.validating.webhooks?.map(repoint) },
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
