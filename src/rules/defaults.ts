// The defaults for a claim with a data source (what the mutating webhook fills in and the
// plugin uses to build its claims). Pure; the input is never modified.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { readSources, type Sources, sourcePermitted } from "./claim.ts";
import { lineageAnnotations } from "./lineage.ts";
import { formatBytes, parseQuantity } from "./quantity.ts";
import {
  claimName,
  claimSize,
  dataSourceOf,
  pvcName,
  restoreSizeOf,
  snapshotName,
  storageClassForDriver,
  volumeModeOf,
} from "./source.ts";
import type { Defaulted, Finding, Lookup } from "./types.ts";

function maxSize(...sizes: (string | number | undefined)[]): bigint | undefined {
  let best: bigint | undefined;
  for (const s of sizes) {
    const b = parseQuantity(s);
    if (b !== undefined && b > 0n && (best === undefined || b > best)) best = b;
  }
  return best;
}

/**
 * What can be derived for a claim with a permitted PVC or VolumeSnapshot source:
 * - no storage request → the source's size (clone: the source's capacity; restore: the larger
 *   of restoreSize and the snapshotted PVC's request);
 * - a request smaller than the source (clone: capacity; restore: restoreSize) → raised, with a
 *   warning, unless `raise: false` (the webhook: a claim that differs from its manifest cannot be
 *   applied again once bound, so there checkClaim denies it with the size to ask for);
 * - no volumeMode → the source's (note: the API server defaults volumeMode to Filesystem
 *   before admission, so through the API this applies only to objects built by the plugin);
 * - no storageClassName at all (the API server sets the default class first when one exists)
 *   → the source's class; for a restore whose snapshotted claim is gone, the class of the
 *   snapshot's CSI driver (storageClassForDriver: its default class, else its only class);
 * - lineage annotations (LINEAGE) recording the source;
 * - no `volume.kubernetes.io/selected-node` → the node that holds the source, when the source
 *   lives on one node (node-local storage: the source PVC's selected node, or the node whose
 *   csi-snapshotter cut the snapshot). A copy can only be made where its source is, and with a
 *   WaitForFirstConsumer class the claim would otherwise wait for a pod, then be placed by the
 *   scheduler on any node.
 * Idempotent: running it on its own output changes nothing. The source is never read from
 * another namespace unless a ReferenceGrant permits it (checkClaim reports that denial).
 */
export async function defaultClaim(
  claim: V1PersistentVolumeClaim,
  lookup: Lookup,
  opts: DefaultOptions = {},
): Promise<Defaulted> {
  // Copy on write: only `metadata` and `spec` are copied (one level), and every change below
  // replaces a nested object instead of changing it, so the input is never modified and the
  // untouched parts (managedFields, say) stay shared — which keeps the webhook's JSON Patch
  // diff from walking them.
  const out: V1PersistentVolumeClaim = { ...claim };
  if (claim.metadata) out.metadata = { ...claim.metadata };
  if (claim.spec) out.spec = { ...claim.spec };
  const warnings: Finding[] = [];
  const src = dataSourceOf(out);
  if (!src || src.type === "other") return { claim: out, warnings };
  if ((await sourcePermitted(out, src, lookup)).length > 0) return { claim: out, warnings };
  const s = await readSources(src, lookup);
  const facts = sourceFacts(s);
  if (!facts) return { claim: out, warnings };

  out.spec ??= {};
  const spec = out.spec;
  const setRequest = (storage: string) => {
    spec.resources = { ...spec.resources, requests: { ...spec.resources?.requests, storage } };
  };
  const request = spec.resources?.requests?.storage;
  if (request === undefined) {
    if (facts.defaultSize !== undefined) setRequest(formatBytes(facts.defaultSize));
  } else if (opts.raise !== false) {
    const req = parseQuantity(request);
    if (req !== undefined && facts.minSize !== undefined && req < facts.minSize) {
      const raised = formatBytes(facts.minSize);
      setRequest(raised);
      warnings.push({
        rule: facts.sizeRule,
        severity: "warn",
        message: `${claimName(claim)} requested ${request}, less than the ${raised} its source ${facts.what} holds: raised the request to ${raised}`,
      });
    }
  }
  if (!spec.volumeMode && facts.volumeMode) spec.volumeMode = facts.volumeMode;
  if (spec.storageClassName === undefined) {
    const cls =
      facts.storageClassName ??
      (facts.driver ? await storageClassForDriver(lookup, facts.driver) : undefined);
    if (cls) spec.storageClassName = cls;
  }
  const lineage: Record<string, string> = lineageAnnotations(src, facts.object, facts.snapshotOf);
  const current = out.metadata?.annotations ?? {};
  if (facts.node && !current[SELECTED_NODE]) lineage[SELECTED_NODE] = facts.node;
  if (Object.entries(lineage).some(([k, v]) => current[k] !== v)) {
    out.metadata ??= {};
    out.metadata.annotations = { ...current, ...lineage };
  }
  return { claim: out, warnings };
}

export interface DefaultOptions {
  /** Raise a request smaller than the source (default true: the plugin; the webhook passes false). */
  raise?: boolean;
}

/** Set by the scheduler on a WaitForFirstConsumer claim; the provisioner creates the volume there. */
export const SELECTED_NODE = "volume.kubernetes.io/selected-node";
/** Set by the snapshot-controller with distributed snapshotting: the node whose snapshotter owns the content. */
export const SNAPSHOT_MANAGED_BY = "snapshot.storage.kubernetes.io/managed-by";

interface Facts {
  /** The node holding the source's data, when it is node-local. */
  node?: string;
  what: string;
  sizeRule: string;
  defaultSize?: bigint;
  minSize?: bigint;
  volumeMode?: "Filesystem" | "Block";
  storageClassName?: string;
  /** The CSI driver holding the source's data, when no claim says which class it came from. */
  driver?: string;
  object: { metadata?: { uid?: string } };
  snapshotOf?: string;
}

function sourceFacts(s: Sources): Facts | undefined {
  if (s.src.type === "clone" && s.pvc) {
    const size = maxSize(claimSize(s.pvc));
    return {
      what: pvcName(s.src.namespace, s.src.name),
      sizeRule: "clone-size",
      defaultSize: size,
      minSize: size,
      volumeMode: volumeModeOf(s.pvc),
      storageClassName: s.pvc.spec?.storageClassName || undefined,
      object: s.pvc,
      node: s.pvc.metadata?.annotations?.[SELECTED_NODE] || undefined,
    };
  }
  if (s.src.type === "restore" && s.snapshot) {
    const restore = maxSize(restoreSizeOf(s.snapshot, s.content));
    const original = s.snapshotPvc?.spec?.resources?.requests?.storage;
    const mode =
      s.content?.spec?.sourceVolumeMode ?? (s.snapshotPvc ? volumeModeOf(s.snapshotPvc) : undefined);
    return {
      what: snapshotName(s.src.namespace, s.src.name),
      sizeRule: "restore-size",
      defaultSize: maxSize(restoreSizeOf(s.snapshot, s.content), original),
      minSize: restore,
      volumeMode: mode,
      storageClassName: s.snapshotPvc?.spec?.storageClassName || undefined,
      driver: s.snapshotPvc ? undefined : s.content?.spec?.driver,
      object: s.snapshot,
      node:
        s.content?.metadata.labels?.[SNAPSHOT_MANAGED_BY] ||
        s.snapshotPvc?.metadata?.annotations?.[SELECTED_NODE] ||
        undefined,
      snapshotOf: s.snapshot.spec?.source?.persistentVolumeClaimName,
    };
  }
  return undefined;
}
