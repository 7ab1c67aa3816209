// The admission handlers: functions from a decoded request to a response, calling src/rules.
// Mutation changes a deep copy and the JSON Patch is the diff (no change, no patch). No
// handler has side effects, so a dryRun request gets the same answer as a real one. Each takes
// the request's deadline (a signal) and answers with what it knows when it comes.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import fastJsonPatch from "fast-json-patch";
import {
  blocks,
  checkClaim,
  checkGroupSnapshot,
  checkSnapshot,
  type Decision,
  dataSourceOf,
  decide,
  defaultClaim,
  droppedDataSource,
  type Finding,
  LINEAGE,
  type Lookup,
  type VolumeGroupSnapshot,
  type VolumeSnapshot,
} from "../rules/index.ts";
import { checkScheduleWrite } from "../rules/schedule/check.ts";
import type { SnapshotSchedule } from "../rules/schedule/spec.ts";
import { within } from "./deadline.ts";
import { labelContent } from "./managed-by.ts";
import { memoized, recording, unchanged } from "./recheck.ts";
import type { AdmissionRequest, AdmissionResponse } from "./review.ts";

export interface Lookups {
  /** Watch-backed caches (with a direct read on a miss). */
  cached: Lookup;
  /** Direct API reads: a denial is confirmed with these, so stale caches never deny. */
  direct?: Lookup;
}

/** A response plus the findings behind it (for metrics and logs; not sent). */
export interface Outcome {
  response: AdmissionResponse;
  findings: Finding[];
  /** True when the deadline came before the checks were done (the answer says what was known). */
  late?: boolean;
}

export type Handler = (req: AdmissionRequest, lookups: Lookups, deadline?: AbortSignal) => Promise<Outcome>;

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

/**
 * Nothing was known when the deadline came (the API server's reads did not answer in time):
 * admitted, as the shipped failurePolicy Ignore would admit it, with a warning saying so.
 */
function unchecked(req: AdmissionRequest, what: string): Outcome {
  const finding: Finding = {
    rule: "deadline",
    severity: "warn",
    message: `the vol.kubectl.io webhook could not ${what} this ${req.gvk.kind} before the API server's timeout (the Kubernetes API did not answer in time), so it was admitted unchecked: check it with 'kubectl vol' or apply it again`,
  };
  return { response: { allowed: true, warnings: [finding.message] }, findings: [finding], late: true };
}

export const validate: Handler = async (req, lookups, deadline) => {
  const s = req.subject;
  // Contents are only labelled (by /mutate), never judged here.
  if (!s.object || s.kind === "VolumeSnapshotContent" || s.kind === "VolumeGroupSnapshotContent")
    return { response: { allowed: true }, findings: [] };
  const run = (lookup: Lookup): Promise<Decision> => {
    switch (s.kind) {
      case "PersistentVolumeClaim":
        return checkClaim(
          withNamespace(s.object as V1PersistentVolumeClaim, req.namespace),
          lookup,
          req.operation,
        );
      case "SnapshotSchedule":
        return checkScheduleWrite(
          withNamespace(s.object as SnapshotSchedule, req.namespace),
          s.oldObject,
          req.operation,
          lookup,
        );
      case "VolumeGroupSnapshot":
        return checkGroupSnapshot(
          withNamespace(s.object as VolumeGroupSnapshot, req.namespace),
          lookup,
          req.operation,
        );
      default:
        return checkSnapshot(withNamespace(s.object as VolumeSnapshot, req.namespace), lookup, req.operation);
    }
  };
  const rec = recording(lookups.cached);
  const d = await within(run(rec.lookup), deadline);
  if (!d) return unchecked(req, "check");
  if (d.allowed || !lookups.direct) return toResponse(d);
  // A denial from the caches is confirmed from the API itself: the same reads, all at once. Only
  // when one of them changed are the rules run again (over what was just read). When the API
  // cannot be read, or the deadline comes, the cached denial stands.
  const direct = memoized(lookups.direct);
  const confirm = async () => ((await unchanged(rec.calls, direct)) ? d : run(direct));
  const checked = await within(confirm(), deadline).catch(() => undefined);
  return { ...toResponse(checked ?? d), late: checked === undefined && deadline?.aborted === true };
};

/**
 * A request smaller than the source is not raised here: the claim would differ from its manifest,
 * and applying the manifest again (kubectl apply, GitOps) would fail once the claim is bound
 * ("can not be less than status.capacity"). /validate denies it with the size to ask for.
 */
const NO_RAISE = { raise: false } as const;

export const mutate: Handler = async (req, lookups, deadline) => {
  const s = req.subject;
  if (s.kind === "VolumeSnapshotContent" || s.kind === "VolumeGroupSnapshotContent")
    return labelContent(req, lookups, deadline);
  if (s.kind !== "PersistentVolumeClaim" || req.operation !== "CREATE" || !s.object) {
    return { response: { allowed: true }, findings: [] };
  }
  // Both sides carry the namespace (filled from the request when absent), so it is not in the diff.
  const input = withNamespace(s.object as V1PersistentVolumeClaim, req.namespace);
  // Only here can it be seen: the API server drops such a dataSource before validation.
  const dropped = droppedDataSource(input);
  if (dropped) return toResponse(decide([dropped]));
  const cached = await within(defaultClaim(input, lookups.cached, NO_RAISE), deadline);
  if (!cached) return unchecked(req, "fill in the defaults of");
  let { claim, warnings } = cached;
  // No lineage for a clone or restore means the source was not found or not permitted in the
  // caches (say a ReferenceGrant made a moment ago): derive again from the API itself.
  const src = dataSourceOf(input);
  if (lookups.direct && src && src.type !== "other" && !claim.metadata?.annotations?.[LINEAGE.sourceKind]) {
    const again = await within(defaultClaim(input, lookups.direct, NO_RAISE), deadline).catch(
      () => undefined,
    );
    if (again) ({ claim, warnings } = again);
  }
  const patch = fastJsonPatch.compare(input as object, claim as object);
  return { response: { allowed: true, patch, warnings: warningsOf(warnings) }, findings: warnings };
};
