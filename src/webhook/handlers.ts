// The admission handlers: functions from a decoded request to a response, calling src/rules.
// Mutation changes a deep copy and the JSON Patch is the diff (no change, no patch). No
// handler has side effects, so a dryRun request gets the same answer as a real one.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import fastJsonPatch from "fast-json-patch";
import {
  blocks,
  checkClaim,
  checkSnapshot,
  type Decision,
  dataSourceOf,
  defaultClaim,
  type Finding,
  LINEAGE,
  type Lookup,
  type VolumeSnapshot,
} from "../rules/index.ts";
import type { AdmissionRequest, AdmissionResponse } from "./review.ts";

export interface Lookups {
  /** Watch-backed caches (with a direct read on a miss). */
  cached: Lookup;
  /** Direct API reads: a decision that would deny is made again with these, so stale caches never deny. */
  direct?: Lookup;
}

/** A response plus the findings behind it (for metrics and logs; not sent). */
export interface Outcome {
  response: AdmissionResponse;
  findings: Finding[];
}

export type Handler = (req: AdmissionRequest, lookups: Lookups) => Promise<Outcome>;

/** What is admitted but worth saying: every finding that does not block admission. */
const warningsOf = (findings: Finding[]) =>
  findings.filter((f) => !blocks(f, "admission")).map((f) => f.message);

/** The object as the rules should see it: namespace filled from the request when absent. */
function withNamespace<T extends { metadata?: { namespace?: string } }>(obj: T, ns: string | undefined): T {
  if (!ns || obj.metadata?.namespace) return obj;
  return { ...obj, metadata: { ...obj.metadata, namespace: ns } };
}

function toResponse(d: Decision): Outcome {
  const denies = d.findings.filter((f) => blocks(f, "admission"));
  const response: AdmissionResponse = { allowed: d.allowed, warnings: warningsOf(d.findings) };
  if (!d.allowed) {
    response.status = { code: 403, reason: "Forbidden", message: denies.map((f) => f.message).join("; ") };
  }
  return { response, findings: d.findings };
}

export const validate: Handler = async (req, lookups) => {
  const run = async (lookup: Lookup): Promise<Decision> => {
    const s = req.subject;
    if (s.kind === "PersistentVolumeClaim") {
      if (!s.object) return { allowed: true, findings: [] };
      return checkClaim(withNamespace(s.object, req.namespace), lookup, req.operation);
    }
    if (!s.object) return { allowed: true, findings: [] };
    return checkSnapshot(withNamespace(s.object as VolumeSnapshot, req.namespace), lookup, req.operation);
  };
  let d = await run(lookups.cached);
  if (!d.allowed && lookups.direct) {
    // A denial is made again from the API itself; if that cannot be read, the cached one stands.
    d = await run(lookups.direct).catch(() => d);
  }
  return toResponse(d);
};

export const mutate: Handler = async (req, lookups) => {
  const s = req.subject;
  if (s.kind !== "PersistentVolumeClaim" || req.operation !== "CREATE" || !s.object) {
    return { response: { allowed: true }, findings: [] };
  }
  // Both sides carry the namespace (filled from the request when absent), so it is not in the diff.
  const input = withNamespace(s.object as V1PersistentVolumeClaim, req.namespace);
  let { claim, warnings } = await defaultClaim(input, lookups.cached);
  // No lineage for a clone or restore means the source was not found or not permitted in the
  // caches (say a ReferenceGrant made a moment ago): derive again from the API itself.
  const src = dataSourceOf(input);
  if (lookups.direct && src && src.type !== "other" && !claim.metadata?.annotations?.[LINEAGE.sourceKind]) {
    const direct = lookups.direct;
    ({ claim, warnings } = await defaultClaim(input, direct).catch(() => ({ claim, warnings })));
  }
  const patch = fastJsonPatch.compare(input as object, claim as object);
  return { response: { allowed: true, patch, warnings: warningsOf(warnings) }, findings: warnings };
};
