// The step machine of an in-place restore. Each step is recorded (the annotation IN_PLACE.record,
// JSON) on the claim and on the safety snapshot before it is taken, and every step is safe to
// run again, so an interrupted run is finished by `--continue CLAIM` (the recorded step again,
// then the rest) or rolled back by `--abort CLAIM` (the undo actions of the recorded step).
// Pure: what to do next for each recorded state; the verb does it.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { dataSourceOf, IN_PLACE, SNAPSHOT_API_GROUP } from "../rules/index.ts";

/** The forward steps, in order. */
export const STEPS = [
  "snapshot",
  "retain",
  "scale-down",
  "delete-claim",
  "create-claim",
  "scale-up",
] as const;
export type Step = (typeof STEPS)[number];

/** What each step does, for the plan and for messages. */
export const STEP_TEXT: Record<Step, string> = {
  snapshot: "take the safety snapshot",
  retain: "set the old volume's reclaim policy to Retain",
  "scale-down": "scale the workloads to zero and wait until no pod mounts the claim",
  "delete-claim": "delete the old claim (its volume is kept)",
  "create-claim": "create the claim again from the snapshot and wait until it is Bound",
  "scale-up": "scale the workloads back to their recorded replicas",
};

/** The kinds the verb scales through their scale subresource. */
export const SCALABLE = ["Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"] as const;
export type ScalableKind = (typeof SCALABLE)[number];

export interface WorkloadRef {
  kind: ScalableKind;
  name: string;
  /** spec.replicas before the restore: what scale-up (and abort) scales back to. */
  replicas: number;
}

/** What a recreated claim copies from the old one (recorded, so an abort can rebuild it). */
export interface ClaimTemplate {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: NonNullable<V1PersistentVolumeClaim["metadata"]>["ownerReferences"];
  spec: {
    storageClassName?: string;
    accessModes?: string[];
    volumeMode?: string;
    /** The old claim's request. */
    storage?: string;
    selector?: NonNullable<V1PersistentVolumeClaim["spec"]>["selector"];
    volumeAttributesClassName?: string;
  };
}

/** The record of a run, as the annotation holds it. */
export interface RunRecord {
  v: 1;
  /** The step being taken (recorded before it is taken). */
  step: Step;
  /** "abort" once --abort (or an automatic rollback) started: only --abort finishes it. */
  mode: "restore" | "abort";
  namespace: string;
  claim: string;
  /** The uid of the claim being replaced. */
  claimUid: string;
  /** Every uid the claim of this name has had, the replaced one last (snapshots of these are its own). */
  uids: string[];
  /** The snapshot being restored. */
  snapshot: string;
  snapshotUid?: string;
  /** The safety snapshot of the claim as it was (the undo). */
  safety: string;
  /** The old claim's PersistentVolume (kept). */
  volume: string;
  /** Its reclaim policy before the restore (put back by an abort). */
  reclaimPolicy: string;
  workloads: WorkloadRef[];
  /** The size of the restored claim. */
  size?: string;
  /** The node holding the snapshot (node-local storage), for the restored claim. */
  node?: string;
  template: ClaimTemplate;
  started: string;
}

export function encodeRecord(r: RunRecord): string {
  return JSON.stringify(r);
}

/** The record an annotation holds, or undefined when it is not one (never throws). */
export function decodeRecord(text: string | undefined): RunRecord | undefined {
  if (!text) return undefined;
  try {
    const r = JSON.parse(text) as Partial<RunRecord>;
    if (r?.v !== 1 || !STEPS.includes(r.step as Step) || !r.claim || !r.snapshot || !r.safety)
      return undefined;
    if (r.mode !== "restore" && r.mode !== "abort") return undefined;
    if (!Array.isArray(r.workloads) || !r.template) return undefined;
    return r as RunRecord;
  } catch {
    return undefined;
  }
}

export function recordOf(obj: { metadata?: { annotations?: { [k: string]: string } } } | undefined) {
  return decodeRecord(obj?.metadata?.annotations?.[IN_PLACE.record]);
}

/**
 * The current state among the copies found (claim, safety snapshot): a write that reached one
 * copy and not the other is the later one. An abort, once started, wins.
 */
export function currentRecord(found: (RunRecord | undefined)[]): RunRecord | undefined {
  const rs = found.filter((r): r is RunRecord => r !== undefined);
  const rank = (r: RunRecord) => (r.mode === "abort" ? 100 : 0) + STEPS.indexOf(r.step);
  return rs.sort((a, b) => rank(b) - rank(a))[0];
}

/** The steps `--continue` takes for a recorded state: the recorded one again, then the rest. */
export function continueSteps(r: RunRecord): { ok: true; steps: Step[] } | { ok: false; message: string } {
  if (r.mode === "abort") {
    return {
      ok: false,
      message: `the in-place restore of PVC "${r.claim}" in namespace "${r.namespace}" is being rolled back: finish that with ${commands(r).abort}`,
    };
  }
  return { ok: true, steps: STEPS.slice(STEPS.indexOf(r.step)) };
}

/** The undo actions, each safe to run again, in order. */
export type AbortAction =
  /** Delete the claim this run created from the snapshot (never the old one), wait until gone. */
  | "delete-restored"
  /** When no claim of that name exists: bind a claim of the old spec to the old volume again. */
  | "rebind"
  /** Scale the workloads back to their recorded replicas (after the claim check). */
  | "scale-up"
  /** Put the old volume's reclaim policy back, once the old volume is bound to the claim again. */
  | "reclaim-policy"
  /** Remove the record from the claim and the safety snapshot. */
  | "clear";

/** What `--abort` does for a recorded state, or why it refuses. */
export function abortActions(
  r: RunRecord,
): { ok: true; actions: AbortAction[] } | { ok: false; message: string } {
  switch (r.step) {
    case "snapshot":
      return { ok: true, actions: ["clear"] };
    case "retain":
      return { ok: true, actions: ["reclaim-policy", "clear"] };
    case "scale-down":
      return { ok: true, actions: ["scale-up", "reclaim-policy", "clear"] };
    case "delete-claim":
    case "create-claim":
      return { ok: true, actions: ["delete-restored", "rebind", "scale-up", "reclaim-policy", "clear"] };
    case "scale-up":
      return {
        ok: false,
        message: `PVC "${r.claim}" in namespace "${r.namespace}" already holds the data of VolumeSnapshot "${r.snapshot}" and its workloads are being started, so there is nothing left to roll back: finish with ${commands(r).continue}, then put the earlier data back with 'kubectl vol restore ${r.safety} --in-place -n ${r.namespace}'`,
      };
  }
}

/**
 * After a failure (not an interruption) at `step`: roll back by itself while nothing has been
 * replaced (the claim has not been deleted), else stop and say what to run.
 */
export function onFailure(step: Step): "rollback" | "stop" {
  return STEPS.indexOf(step) < STEPS.indexOf("delete-claim") ? "rollback" : "stop";
}

/** The exact commands that finish or undo an interrupted run. */
export function commands(r: Pick<RunRecord, "claim" | "namespace">): { continue: string; abort: string } {
  const tail = `${r.claim} -n ${r.namespace}`;
  return {
    continue: `'kubectl vol restore --in-place --continue ${tail}'`,
    abort: `'kubectl vol restore --in-place --abort ${tail}'`,
  };
}

/** What a claim of the recorded name is, to this run. */
export type ClaimIdentity =
  | "missing"
  | "deleting"
  /** The claim being replaced (never deleted yet). */
  | "old"
  /** A claim this run created from the snapshot. */
  | "restored"
  /** A claim bound to the old volume again (an abort's rebind). */
  | "rebound"
  /** Anything else: made by someone else (possibly empty). */
  | "foreign";

export function identify(r: RunRecord, claim: V1PersistentVolumeClaim | undefined): ClaimIdentity {
  if (!claim) return "missing";
  if (claim.metadata?.deletionTimestamp) return "deleting";
  if (claim.metadata?.uid === r.claimUid) return "old";
  if (claim.spec?.volumeName === r.volume && recordOf(claim)) return "rebound";
  const ds = dataSourceOf(claim);
  if (
    ds?.type === "restore" &&
    ds.apiGroup === SNAPSHOT_API_GROUP &&
    ds.name === r.snapshot &&
    claim.metadata?.annotations?.[IN_PLACE.restoredFrom] === r.snapshot
  ) {
    return "restored";
  }
  return "foreign";
}

/**
 * Whether the workloads may be started on the claim as it is: only on the old claim, the old
 * volume bound again, or the claim restored from the snapshot — never on a missing claim (a
 * StatefulSet would make an empty one from its template) or one someone else made (it may be
 * empty). Pure.
 */
export function safeToScaleUp(
  r: RunRecord,
  claim: V1PersistentVolumeClaim | undefined,
): { ok: true } | { ok: false; message: string } {
  const id = identify(r, claim);
  const pvc = `PVC "${r.claim}" in namespace "${r.namespace}"`;
  const names = r.workloads.map((w) => `${w.kind} "${w.name}"`).join(", ");
  const stay = names ? `; ${names} stay${r.workloads.length === 1 ? "s" : ""} at zero` : "";
  switch (id) {
    case "old":
    case "restored":
    case "rebound":
      return { ok: true };
    case "missing":
      return {
        ok: false,
        message: `${pvc} does not exist, and a workload started now would get an empty volume${stay}: run ${commands(r).continue} or ${commands(r).abort}`,
      };
    case "deleting":
      return {
        ok: false,
        message: `${pvc} is being deleted${stay}: wait until it is gone, then run ${commands(r).continue} or ${commands(r).abort}`,
      };
    case "foreign":
      return {
        ok: false,
        message: `${pvc} (uid ${claim?.metadata?.uid ?? "unknown"}) was made by someone else during the restore (a StatefulSet's volumeClaimTemplates, say) and may be empty${stay}: delete it, then run ${commands(r).continue} or ${commands(r).abort}`,
      };
  }
}
