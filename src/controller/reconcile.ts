// One reconcile of one SnapshotSchedule, level-triggered: read the spec, the status and the
// snapshots the schedule made, then move one step — take the due slot (if any), prune what
// retention says, write the status. Every step is safe to repeat: a slot's snapshot has a name
// derived from the slot (a retry or a second replica finds it instead of making another), and a
// delete names the uid it decided on.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { Logger } from "../kube/log.ts";
import { chooseSnapshotClass, groupFacts, groupMembers, groupReady, volumeDriver } from "../rules/index.ts";
import {
  buildScheduledGroupSnapshot,
  buildScheduledSnapshot,
  SCHEDULE_LABEL,
  SLOT_ANNOTATION,
} from "../rules/schedule/names.ts";
import { groupRetention, isReady, type Retention, retention } from "../rules/schedule/retention.ts";
import { dueSlot, timing } from "../rules/schedule/slots.ts";
import {
  type Condition,
  type Result,
  type ScheduleStatus,
  type SnapshotSchedule,
  type SpecRules,
  specProblems,
} from "../rules/schedule/spec.ts";
import type { Lookup } from "../rules/types.ts";
import type { ControllerApi } from "./api.ts";
import type { ControllerMetrics } from "./metrics.ts";

export interface ReconcileContext {
  api: ControllerApi;
  rules: SpecRules;
  log: Logger;
  metrics: ControllerMetrics;
  now: number;
}

export interface Outcome {
  /** When this schedule wants the next reconcile (ms since the epoch), if at a given time. */
  wakeAt?: number;
  status: ScheduleStatus;
}

/** What one run of one slot did: failures of single claims, one sentence each. */
interface RunReport {
  failures: string[];
  claims: number;
}

/** The part of the rules' Lookup the controller serves (all the class and group rules read). */
function rulesLookup(
  api: ControllerApi,
): Pick<Lookup, "storageClass" | "persistentVolume" | "pvcs" | "volumeGroupSnapshotClasses"> {
  return {
    storageClass: (n) => api.storageClass(n),
    persistentVolume: (n) => api.persistentVolume(n),
    pvcs: (ns) => api.listClaims(ns, {}),
    volumeGroupSnapshotClasses: () => api.groupSnapshotClasses(),
  };
}

/** The class for a snapshot of `pvc`: spec.snapshotClassName, else the driver's default, else its only. */
async function classFor(
  api: ControllerApi,
  s: SnapshotSchedule,
  pvc: V1PersistentVolumeClaim,
): Promise<{ ok: true; name: string } | { ok: false; message: string }> {
  const driver = await volumeDriver(pvc, rulesLookup(api) as Lookup);
  const classes = await api.snapshotClasses();
  const named = s.spec.snapshotClassName;
  if (!driver) {
    if (named && classes.some((c) => c.metadata.name === named)) return { ok: true, name: named };
    return {
      ok: false,
      message: `the CSI driver of PVC "${pvc.metadata?.name}" is unknown (no CSI volume, no StorageClass): set spec.snapshotClassName`,
    };
  }
  const choice = chooseSnapshotClass(driver, classes, named);
  return choice.ok ? { ok: true, name: choice.class.metadata.name } : { ok: false, message: choice.message };
}

async function claimsOf(ctx: ReconcileContext, s: SnapshotSchedule): Promise<V1PersistentVolumeClaim[]> {
  const ns = s.metadata.namespace ?? "";
  if (s.spec.claim) {
    const pvc = await ctx.api.readClaim(ns, s.spec.claim);
    return pvc ? [pvc] : [];
  }
  return ctx.api.listClaims(ns, s.spec.selector ?? {});
}

/** Takes `slot` for every claim; throws only on API failures worth a retry of the whole run. */
async function run(ctx: ReconcileContext, s: SnapshotSchedule, slot: number): Promise<RunReport> {
  const ns = s.metadata.namespace ?? "";
  const claims = await claimsOf(ctx, s);
  const failures: string[] = [];
  if (claims.length === 0) {
    failures.push(
      s.spec.claim
        ? `PVC "${s.spec.claim}" not found in namespace "${ns}": create it or fix spec.claim`
        : `the selector matches no PVC in namespace "${ns}": label the claims or fix spec.selector`,
    );
  }
  for (const pvc of claims) {
    const name = pvc.metadata?.name ?? "";
    if (pvc.metadata?.deletionTimestamp) continue;
    if (pvc.status?.phase !== "Bound") {
      failures.push(
        `PVC "${name}" is ${pvc.status?.phase ?? "Pending"}, not Bound: it cannot be snapshotted yet`,
      );
      continue;
    }
    const cls = await classFor(ctx.api, s, pvc);
    if (!cls.ok) {
      failures.push(cls.message);
      continue;
    }
    const body = buildScheduledSnapshot({
      schedule: s,
      claim: pvc,
      single: Boolean(s.spec.claim),
      slot,
      className: cls.name,
    });
    const created = await ctx.api.createSnapshot(body);
    if (created) {
      ctx.metrics.snapshotCreated();
      ctx.log.info("snapshot created", {
        schedule: `${ns}/${s.metadata.name}`,
        snapshot: body.metadata.name,
        claim: name,
        slot: new Date(slot).toISOString(),
      });
      continue;
    }
    // The name exists: ours from an earlier try (fine), or someone else's (say so, touch nothing).
    const existing = await ctx.api.readSnapshot(ns, body.metadata.name);
    if (existing && existing.metadata.labels?.[SCHEDULE_LABEL] !== s.metadata.name) {
      failures.push(
        `VolumeSnapshot "${body.metadata.name}" exists and was not made by this schedule: rename or delete it`,
      );
    }
  }
  return { failures, claims: claims.length };
}

/**
 * Takes `slot` of a group schedule: one VolumeGroupSnapshot of every claim the selector matches,
 * after the group rules (one driver, one node, Bound members, a class); a rule that refuses is
 * the run's failure, and nothing is made.
 */
async function runGroup(ctx: ReconcileContext, s: SnapshotSchedule, slot: number): Promise<RunReport> {
  const ns = s.metadata.namespace ?? "";
  const selector = s.spec.selector ?? {};
  const what = `the group snapshot of SnapshotSchedule "${s.metadata.name}"`;
  const facts = await groupFacts(
    ns,
    selector,
    s.spec.groupSnapshotClassName,
    rulesLookup(ctx.api) as Lookup,
    what,
  );
  const denied = facts.findings.filter((f) => f.severity === "deny").map((f) => f.message);
  if (denied.length > 0 || !facts.choice?.ok) {
    return { failures: denied.length ? denied : [`${what}: no VolumeGroupSnapshotClass`], claims: 0 };
  }
  const body = buildScheduledGroupSnapshot({
    schedule: s,
    selector,
    slot,
    className: facts.choice.class.metadata.name,
  });
  const failures: string[] = [];
  if (await ctx.api.createGroupSnapshot(body)) {
    ctx.metrics.snapshotCreated();
    ctx.log.info("group snapshot created", {
      schedule: `${ns}/${s.metadata.name}`,
      groupSnapshot: body.metadata.name,
      claims: facts.members.map((m) => m.metadata?.name),
      slot: new Date(slot).toISOString(),
    });
  } else {
    const existing = await ctx.api.readGroupSnapshot(ns, body.metadata.name);
    if (existing && existing.metadata.labels?.[SCHEDULE_LABEL] !== s.metadata.name) {
      failures.push(
        `VolumeGroupSnapshot "${body.metadata.name}" exists and was not made by this schedule: rename or delete it`,
      );
    }
  }
  return { failures, claims: facts.members.length };
}

/** What a slot made, as the result reads it: a snapshot, or a group snapshot with its members. */
interface Taken {
  kind: "VolumeSnapshot" | "VolumeGroupSnapshot";
  name: string;
  slot?: string;
  error?: string;
  ready: boolean;
}

/** What a schedule has made, what retention says of it, and how to delete one of them. */
interface Made {
  taken: Taken[];
  retention: Retention;
  remove(name: string): Promise<void>;
}

async function madeByClaims(ctx: ReconcileContext, s: SnapshotSchedule): Promise<Made> {
  const ns = s.metadata.namespace ?? "";
  const snaps = await ctx.api.listScheduleSnapshots(ns, s.metadata.name);
  const uid = new Map(snaps.map((x) => [x.metadata.name, x.metadata.uid]));
  return {
    taken: snaps.map((x) => ({
      kind: "VolumeSnapshot",
      name: x.metadata.name,
      slot: x.metadata.annotations?.[SLOT_ANNOTATION],
      error: x.status?.error?.message,
      ready: isReady(x),
    })),
    retention: retention(s, snaps, ctx.now),
    remove: (name) => ctx.api.deleteSnapshot(ns, name, uid.get(name)),
  };
}

async function madeByGroups(ctx: ReconcileContext, s: SnapshotSchedule): Promise<Made> {
  const ns = s.metadata.namespace ?? "";
  const groups = await ctx.api.listScheduleGroups(ns, s.metadata.name);
  const snaps = groups.length ? await ctx.api.listSnapshots(ns) : [];
  const members = new Map(groups.map((g) => [g.metadata.name, groupMembers(g, snaps)]));
  const uid = new Map(groups.map((g) => [g.metadata.name, g.metadata.uid]));
  return {
    taken: groups.map((g) => {
      const m = members.get(g.metadata.name) ?? [];
      const failed = m.find((x) => x.status?.error?.message);
      return {
        kind: "VolumeGroupSnapshot",
        name: g.metadata.name,
        slot: g.metadata.annotations?.[SLOT_ANNOTATION],
        error:
          g.status?.error?.message ??
          (failed
            ? `member VolumeSnapshot "${failed.metadata.name}": ${failed.status?.error?.message}`
            : undefined),
        ready: groupReady(g, m),
      };
    }),
    retention: groupRetention(s, groups, (g) => members.get(g.metadata.name) ?? [], ctx.now),
    remove: (name) => ctx.api.deleteGroupSnapshot(ns, name, uid.get(name)),
  };
}

/** The result of the last run, read from its snapshots. */
function resultOf(
  lastRun: number | undefined,
  made: Taken[],
  runFailures: string[] | undefined,
  previous: ScheduleStatus | undefined,
): { result: Result; reason: string; message: string } {
  if (lastRun === undefined) return { result: "Running", reason: "Waiting", message: "no slot has come yet" };
  if (runFailures?.length) return { result: "Failed", reason: "RunFailed", message: runFailures.join("; ") };
  const slotIso = new Date(lastRun).toISOString();
  // What the run itself reported (a claim missing, a class refused) stands until the next run.
  if (runFailures === undefined && previous?.reason === "RunFailed" && previous.lastRunTime === slotIso) {
    return { result: "Failed", reason: "RunFailed", message: previous.message ?? "" };
  }
  const mine = made.filter((x) => x.slot === slotIso);
  if (mine.length === 0) {
    return {
      result: "Failed",
      reason: "SnapshotMissing",
      message: `no snapshot of the slot ${slotIso} exists`,
    };
  }
  const failed = mine.filter((x) => x.error);
  if (failed.length > 0) {
    return {
      result: "Failed",
      reason: "SnapshotFailed",
      message: failed.map((x) => `${x.kind} "${x.name}": ${x.error}`).join("; "),
    };
  }
  const waiting = mine.filter((x) => !x.ready);
  if (waiting.length > 0) {
    return {
      result: "Running",
      reason: "SnapshotNotReady",
      message: `waiting for ${waiting.map((x) => `"${x.name}"`).join(", ")} to be ready to use`,
    };
  }
  const what = mine[0]?.kind === "VolumeGroupSnapshot" ? "group snapshot" : "snapshot";
  return {
    result: "Succeeded",
    reason: "SnapshotsReady",
    message: `${mine.length} ${what}${mine.length === 1 ? "" : "s"} ready to use`,
  };
}

function condition(
  previous: Condition[] | undefined,
  c: Omit<Condition, "lastTransitionTime">,
  now: number,
): Condition {
  const old = previous?.find((p) => p.type === c.type);
  const same = old && old.status === c.status && old.reason === c.reason;
  return { ...c, lastTransitionTime: same ? old.lastTransitionTime : new Date(now).toISOString() };
}

export async function reconcileSchedule(ctx: ReconcileContext, s: SnapshotSchedule): Promise<Outcome> {
  const ns = s.metadata.namespace ?? "";
  const prev = s.status;
  const generation = s.metadata.generation;
  const problems = specProblems(s.spec, ctx.rules);
  const base: ScheduleStatus = {
    observedGeneration: generation,
    lastRunTime: prev?.lastRunTime,
    kept: prev?.kept ?? [],
    keptCount: prev?.keptCount ?? 0,
  };
  if (problems.length > 0) {
    const message = problems.join("; ");
    return finish(ctx, s, {
      ...base,
      result: "Invalid",
      reason: "InvalidSpec",
      message,
      conditions: [
        condition(
          prev?.conditions,
          { type: "Ready", status: "False", reason: "InvalidSpec", message, observedGeneration: generation },
          ctx.now,
        ),
      ],
    });
  }
  if (s.spec.suspend) {
    const message = "suspended: no snapshot is taken or deleted until spec.suspend is false";
    return finish(ctx, s, {
      ...base,
      result: "Suspended",
      reason: "Suspended",
      message,
      conditions: [
        condition(
          prev?.conditions,
          { type: "Ready", status: "False", reason: "Suspended", message, observedGeneration: generation },
          ctx.now,
        ),
      ],
    });
  }

  const t = timing(s.spec);
  const created = new Date(s.metadata.creationTimestamp ?? ctx.now).getTime();
  const lastRun = prev?.lastRunTime ? Date.parse(prev.lastRunTime) : undefined;
  const due = dueSlot(t, ctx.now, created, lastRun);
  let report: RunReport | undefined;
  let ranSlot = lastRun;
  if (due.slot !== undefined) {
    report = await (s.spec.group ? runGroup : run)(ctx, s, due.slot);
    ranSlot = due.slot;
    ctx.metrics.run(report.failures.length ? "failed" : "taken");
  }

  const made = await (s.spec.group ? madeByGroups : madeByClaims)(ctx, s);
  const r = made.retention;
  for (const name of r.delete) {
    await made.remove(name);
    ctx.metrics.snapshotDeleted();
    ctx.log.info(s.spec.group ? "group snapshot pruned" : "snapshot pruned", {
      schedule: `${ns}/${s.metadata.name}`,
      [s.spec.group ? "groupSnapshot" : "snapshot"]: name,
    });
  }
  const res = resultOf(ranSlot, made.taken, report?.failures, prev);
  const status: ScheduleStatus = {
    ...base,
    lastRunTime: ranSlot === undefined ? undefined : new Date(ranSlot).toISOString(),
    nextRunTime: due.next === undefined ? undefined : new Date(due.next).toISOString(),
    ...res,
    kept: r.kept,
    keptCount: r.kept.length,
    conditions: [
      condition(
        prev?.conditions,
        {
          type: "Ready",
          status: "True",
          reason: "Scheduled",
          message: `next run at ${due.next === undefined ? "(none)" : new Date(due.next).toISOString()}`,
          observedGeneration: generation,
        },
        ctx.now,
      ),
    ],
  };
  const outcome = await finish(ctx, s, status);
  // A run still waiting for its snapshots is looked at again soon (the snapshot watch usually
  // comes first).
  const soon = res.result === "Running" ? ctx.now + 5_000 : undefined;
  return {
    ...outcome,
    wakeAt: Math.min(due.next ?? Number.POSITIVE_INFINITY, soon ?? Number.POSITIVE_INFINITY),
  };
}

const STATUS_KEYS = [
  "observedGeneration",
  "lastRunTime",
  "nextRunTime",
  "result",
  "reason",
  "message",
  "kept",
  "keptCount",
  "conditions",
] as const;

/** JSON with object keys sorted: the API server sends its objects' keys in its own order. */
function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );
}

/** Writes the status when it changed (a merge patch; absent fields are removed). */
async function finish(ctx: ReconcileContext, s: SnapshotSchedule, status: ScheduleStatus): Promise<Outcome> {
  const patch: Record<string, unknown> = {};
  for (const k of STATUS_KEYS) patch[k] = status[k] ?? null;
  const before: Record<string, unknown> = {};
  for (const k of STATUS_KEYS) before[k] = s.status?.[k] ?? null;
  if (stableJson(patch) !== stableJson(before)) {
    await ctx.api.patchStatus(s.metadata.namespace ?? "", s.metadata.name, patch as ScheduleStatus);
    if (status.result !== s.status?.result || status.lastRunTime !== s.status?.lastRunTime) {
      ctx.log.info("schedule status", {
        schedule: `${s.metadata.namespace}/${s.metadata.name}`,
        result: status.result,
        reason: status.reason,
        message: status.message,
        lastRunTime: status.lastRunTime,
        nextRunTime: status.nextRunTime,
      });
    }
  }
  return { status };
}
