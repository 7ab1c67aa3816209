// The admission checks of a SnapshotSchedule, for the plugin's pre-flight and the webhook: pure
// over the rules' Lookup and the claims of the schedule's namespace (the caller reads them).
//   schedule-spec            the spec is malformed (deny; the controller's minimum period is its own)
//   schedule-claim-exists    spec.claim names no PVC yet (warn: runs fail until it exists, so a
//                            file holding the claim and its schedule applies whole)
//   schedule-selector-empty  spec.selector matches no PVC yet (warn)
//   schedule-class           the class is missing or of another driver than a claim's, or a
//                            claim's driver has no class to choose (deny)
//   schedule-short-period    every < 1m: only a controller with a shorter --min-interval takes it (warn)
// A group schedule (spec.group) is checked by the group snapshot rules (src/rules/group.ts) over
// its selector: no claim matched yet, or a member not Bound yet, is a warning (runs fail until
// then); members of two drivers or two nodes, or no VolumeGroupSnapshotClass, are denied.
import { isDeepStrictEqual } from "node:util";
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { chooseSnapshotClass, groupFacts, volumeDriver } from "../index.ts";
import type { Decision, Finding, Lookup, Operation } from "../types.ts";
import {
  matchesSelector,
  PRODUCTION_RULES,
  parseScheduleDuration,
  type SnapshotSchedule,
  selectorString,
  specProblems,
} from "./spec.ts";

export async function checkSchedule(
  s: SnapshotSchedule,
  lookup: Lookup,
  claimsOfNamespace: () => Promise<V1PersistentVolumeClaim[]>,
): Promise<Decision> {
  const ns = s.metadata.namespace ?? "";
  const findings: Finding[] = [];
  const deny = (rule: string, message: string) => findings.push({ rule, severity: "deny", message });
  const warn = (rule: string, message: string) => findings.push({ rule, severity: "warn", message });
  const problems = specProblems(s.spec, { minIntervalMs: 1000 });
  for (const p of problems) deny("schedule-spec", `SnapshotSchedule "${s.metadata.name}": ${p}`);
  if (problems.length) return { allowed: false, findings };
  const every = s.spec.every ? parseScheduleDuration(s.spec.every) : undefined;
  if (every !== undefined && every < PRODUCTION_RULES.minIntervalMs) {
    warn(
      "schedule-short-period",
      `spec.every "${s.spec.every}" is below one minute: vol-controller takes it only when run with a shorter --min-interval`,
    );
  }
  if (s.spec.group) {
    await checkGroup(s, lookup, findings);
    return { allowed: !findings.some((f) => f.severity === "deny"), findings };
  }
  let claims: V1PersistentVolumeClaim[];
  if (s.spec.claim) {
    const pvc = await lookup.pvc(ns, s.spec.claim);
    if (!pvc)
      warn(
        "schedule-claim-exists",
        `PVC "${s.spec.claim}" not found in namespace "${ns}" yet: runs fail until it exists, so create it or name another claim`,
      );
    claims = pvc ? [pvc] : [];
  } else {
    const sel = s.spec.selector ?? {};
    claims = (await claimsOfNamespace()).filter((p) => matchesSelector(p.metadata?.labels ?? {}, sel));
    if (claims.length === 0) {
      warn("schedule-selector-empty", selectorEmpty(selectorString(sel), ns));
    }
  }
  const classes = await lookup.volumeSnapshotClasses();
  const named = s.spec.snapshotClassName;
  const messages = new Set<string>();
  for (const pvc of claims) {
    const driver = await volumeDriver(pvc, lookup);
    if (!driver) {
      if (!named)
        messages.add(`the CSI driver of PVC "${pvc.metadata?.name}" is unknown: set the snapshot class`);
      continue;
    }
    const choice = chooseSnapshotClass(driver, classes, named);
    if (!choice.ok) messages.add(choice.message);
  }
  if (named && !classes.some((c) => c.metadata.name === named) && messages.size === 0)
    messages.add(
      `VolumeSnapshotClass "${named}" not found: list the classes with 'kubectl get volumesnapshotclass'`,
    );
  for (const m of messages) deny("schedule-class", m);
  return { allowed: !findings.some((f) => f.severity === "deny"), findings };
}

const selectorEmpty = (sel: string, ns: string) =>
  `the selector "${sel}" matches no PVC in namespace "${ns}" yet: runs fail until a claim carries those labels`;

/** The group rules over a group schedule's selector, as warnings and denials of the schedule. */
async function checkGroup(s: SnapshotSchedule, lookup: Lookup, findings: Finding[]): Promise<void> {
  const ns = s.metadata.namespace ?? "";
  const sel = s.spec.selector ?? {};
  const facts = await groupFacts(
    ns,
    sel,
    s.spec.groupSnapshotClassName,
    lookup,
    `the group snapshot of SnapshotSchedule "${s.metadata.name}"`,
  );
  for (const f of facts.findings) {
    if (f.rule === "group-selector" && f.severity === "deny")
      findings.push({
        rule: "schedule-selector-empty",
        severity: "warn",
        message: selectorEmpty(selectorString(sel), ns),
      });
    else if (f.rule === "group-member-bound")
      findings.push({ ...f, severity: "warn", message: `${f.message} (until then its runs fail)` });
    else findings.push({ ...f, rule: f.rule === "group-class" ? "schedule-class" : f.rule });
  }
}

/**
 * What admission checks of a write to a schedule: CREATE, and an UPDATE that changes the spec
 * (labels, annotations, finalizers and the status never stop a schedule), with the namespace's
 * claims from `lookup.pvcs`. DELETE and CONNECT pass.
 */
export async function checkScheduleWrite(
  s: SnapshotSchedule,
  old: SnapshotSchedule | undefined,
  op: Operation,
  lookup: Lookup,
): Promise<Decision> {
  const pass: Decision = { allowed: true, findings: [] };
  if (op !== "CREATE" && op !== "UPDATE") return pass;
  if (op === "UPDATE" && old && isDeepStrictEqual(s.spec, old.spec)) return pass;
  const ns = s.metadata?.namespace ?? "";
  // A spec-less object (the CRD requires one) is checked as an empty spec: denied, never a throw.
  const checked = { ...s, metadata: s.metadata ?? { name: "" }, spec: s.spec ?? {} };
  return checkSchedule(checked, lookup, async () => (await lookup.pvcs?.(ns)) ?? []);
}
