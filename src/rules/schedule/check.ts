// The admission checks of a SnapshotSchedule, for the plugin's pre-flight and the webhook: pure
// over the rules' Lookup and the claims of the schedule's namespace (the caller reads them).
//   schedule-spec            the spec is malformed (deny; the controller's minimum period is its own)
//   schedule-claim-exists    spec.claim names no PVC (deny)
//   schedule-selector-empty  spec.selector matches no PVC yet (warn)
//   schedule-class           the class is missing or of another driver than a claim's, or a
//                            claim's driver has no class to choose (deny)
//   schedule-short-period    every < 1m: only a controller with a shorter --min-interval takes it (warn)
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { chooseSnapshotClass, volumeDriver } from "../index.ts";
import type { Decision, Finding, Lookup } from "../types.ts";
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
  let claims: V1PersistentVolumeClaim[];
  if (s.spec.claim) {
    const pvc = await lookup.pvc(ns, s.spec.claim);
    if (!pvc)
      deny(
        "schedule-claim-exists",
        `PVC "${s.spec.claim}" not found in namespace "${ns}": create it first or fix the claim`,
      );
    claims = pvc ? [pvc] : [];
  } else {
    const sel = s.spec.selector ?? {};
    claims = (await claimsOfNamespace()).filter((p) => matchesSelector(p.metadata?.labels ?? {}, sel));
    if (claims.length === 0) {
      warn(
        "schedule-selector-empty",
        `the selector "${selectorString(sel)}" matches no PVC in namespace "${ns}" yet: runs fail until a claim carries those labels`,
      );
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
