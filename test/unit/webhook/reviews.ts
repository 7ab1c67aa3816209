// AdmissionReview bodies for the webhook tests, fuzz test and benchmark.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";

export function review(
  object: unknown,
  opts: {
    uid?: string;
    operation?: string;
    kind?: { group: string; version: string; kind: string };
    namespace?: string;
    dryRun?: boolean;
    oldObject?: unknown;
  } = {},
) {
  const kind = opts.kind ?? { group: "", version: "v1", kind: "PersistentVolumeClaim" };
  const resource =
    kind.kind === "VolumeSnapshot"
      ? { group: kind.group, version: kind.version, resource: "volumesnapshots" }
      : { group: "", version: "v1", resource: "persistentvolumeclaims" };
  const meta = (object as { metadata?: { name?: string; namespace?: string } } | null)?.metadata;
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: opts.uid ?? "705ab4f5-6393-11e8-b7cc-42010a800002",
      kind,
      resource,
      requestKind: kind,
      requestResource: resource,
      name: meta?.name,
      namespace: opts.namespace ?? meta?.namespace ?? "shop",
      operation: opts.operation ?? "CREATE",
      userInfo: { username: "alice", groups: ["system:authenticated"] },
      object,
      oldObject: opts.oldObject ?? null,
      dryRun: opts.dryRun ?? false,
      options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" },
    },
  };
}

/** A claim as the API server sends it to a webhook: defaulted, with managed fields. */
export function apiClaim(
  name: string,
  spec: V1PersistentVolumeClaim["spec"],
  ns = "shop",
): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: ns,
      creationTimestamp: undefined,
      labels: { app: "shop", tier: "db" },
      managedFields: [
        {
          manager: "kubectl-client-side-apply",
          operation: "Update",
          apiVersion: "v1",
          fieldsType: "FieldsV1",
          fieldsV1: {
            "f:spec": { "f:accessModes": {}, "f:dataSource": {}, "f:resources": { "f:requests": {} } },
          },
        },
      ],
    },
    spec: { accessModes: ["ReadWriteOnce"], volumeMode: "Filesystem", ...spec },
    status: { phase: "Pending" },
  };
}
