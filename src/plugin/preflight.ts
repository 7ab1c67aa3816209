// The pre-flight checks every verb runs before creating anything: the data-source rules the
// webhook runs (src/rules), so a mistake is explained even on a cluster without the webhook.
// Denials stop the verb (exit 1) with the rules' own messages; warnings are printed and the
// verb goes on.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { Decision, Finding, Lookup, VolumeSnapshot, VolumeSnapshotClass } from "../rules/types.ts";
import { DEFAULT_SNAPSHOT_CLASS } from "./build.ts";
import { OperationError } from "./errors.ts";
import { parseQuantity } from "./format.ts";

/**
 * The VolumeSnapshotClass for a claim on `driver`: the one named, else the driver's default,
 * else the driver's only class; otherwise an error naming the candidates.
 */
export function chooseSnapshotClass(
  driver: string | undefined,
  classes: VolumeSnapshotClass[],
  named: string | undefined,
  pvc: string,
): VolumeSnapshotClass {
  if (named) {
    const c = classes.find((x) => x.metadata.name === named);
    if (!c)
      throw new OperationError(
        `VolumeSnapshotClass "${named}" not found: list them with 'kubectl get volumesnapshotclass'`,
      );
    if (driver && c.driver !== driver) {
      throw new OperationError(
        `VolumeSnapshotClass "${named}" is for driver "${c.driver}" but PVC "${pvc}" is on driver "${driver}": pass a class of driver "${driver}"`,
      );
    }
    return c;
  }
  if (!driver) {
    throw new OperationError(
      `cannot tell the CSI driver of PVC "${pvc}" (it has no CSI volume and no StorageClass): pass --class`,
    );
  }
  const forDriver = classes.filter((c) => c.driver === driver);
  if (forDriver.length === 0)
    throw new OperationError(`no VolumeSnapshotClass for driver "${driver}": create one or pass --class`);
  const defaults = forDriver.filter((c) => c.metadata.annotations?.[DEFAULT_SNAPSHOT_CLASS] === "true");
  if (defaults.length === 1) return defaults[0]!;
  if (forDriver.length === 1) return forDriver[0]!;
  const candidates = (defaults.length > 1 ? defaults : forDriver).map((c) => c.metadata.name).sort();
  const why = defaults.length > 1 ? "are marked default" : "match and none is the default";
  throw new OperationError(
    `several VolumeSnapshotClasses for driver "${driver}" ${why} (${candidates.join(", ")}): pass --class with one of them`,
  );
}

function decision(findings: Finding[]): Decision {
  return { allowed: !findings.some((f) => f.severity === "deny"), findings };
}

function sourceClaimFindings(
  src: V1PersistentVolumeClaim | undefined,
  ns: string,
  name: string,
  use: string,
): Finding[] {
  if (!src)
    return [
      { rule: "source-exists", severity: "deny", message: `PVC "${name}" not found in namespace "${ns}"` },
    ];
  if (src.metadata?.deletionTimestamp) {
    return [
      {
        rule: "source-deleting",
        severity: "deny",
        message: `PVC "${name}" in namespace "${ns}" is being deleted: ${use} needs a live source`,
      },
    ];
  }
  const phase = src.status?.phase ?? "Pending";
  if (phase !== "Bound") {
    return [
      {
        rule: "source-bound",
        severity: "deny",
        message: `PVC "${name}" in namespace "${ns}" is ${phase}, not Bound: ${use} needs a Bound source`,
      },
    ];
  }
  return [];
}

/** The rules for a new VolumeSnapshot of a claim. */
export async function checkSnapshot(snap: VolumeSnapshot, lookup: Lookup): Promise<Decision> {
  const ns = snap.metadata.namespace ?? "default";
  const name = snap.spec.source.persistentVolumeClaimName ?? "";
  return decision(sourceClaimFindings(await lookup.pvc(ns, name), ns, name, "a snapshot"));
}

/** The rules for a new claim with a data source (clone or restore). */
export async function checkClaim(claim: V1PersistentVolumeClaim, lookup: Lookup): Promise<Decision> {
  const ns = claim.metadata?.namespace ?? "default";
  const ds = claim.spec?.dataSource;
  const size = parseQuantity(claim.spec?.resources?.requests?.storage);
  const findings: Finding[] = [];
  if (ds?.kind === "PersistentVolumeClaim") {
    const src = await lookup.pvc(ns, ds.name);
    findings.push(...sourceClaimFindings(src, ns, ds.name, "a clone"));
    const srcSize = parseQuantity(src?.status?.capacity?.storage ?? src?.spec?.resources?.requests?.storage);
    if (size !== undefined && srcSize !== undefined && size < srcSize) {
      findings.push({
        rule: "size-at-least-source",
        severity: "deny",
        message: `the new claim asks for ${claim.spec?.resources?.requests?.storage} but PVC "${ds.name}" is ${src?.status?.capacity?.storage ?? src?.spec?.resources?.requests?.storage}: pass a --size of at least that`,
      });
    }
  } else if (ds?.kind === "VolumeSnapshot") {
    const snap = await lookup.volumeSnapshot(ns, ds.name);
    if (!snap) {
      findings.push({
        rule: "source-exists",
        severity: "deny",
        message: `VolumeSnapshot "${ds.name}" not found in namespace "${ns}"`,
      });
    } else {
      const restore = parseQuantity(snap.status?.restoreSize);
      if (size !== undefined && restore !== undefined && size < restore) {
        findings.push({
          rule: "size-at-least-source",
          severity: "deny",
          message: `the new claim asks for ${claim.spec?.resources?.requests?.storage} but VolumeSnapshot "${ds.name}" needs ${snap.status?.restoreSize}: pass a --size of at least that`,
        });
      }
      if (snap.status?.readyToUse !== true) {
        findings.push({
          rule: "snapshot-ready",
          severity: "warn",
          message: `VolumeSnapshot "${ds.name}" in namespace "${ns}" is not ready to use yet: the claim stays Pending until it is`,
        });
      }
    }
  }
  return decision(findings);
}

/** Stops with the denials of a decision; returns its warnings. */
export function enforce(d: Decision): string[] {
  const denials = d.findings.filter((f) => f.severity === "deny").map((f) => f.message);
  if (denials.length > 0) throw new OperationError(denials.join("\n"));
  return d.findings.filter((f) => f.severity === "warn").map((f) => f.message);
}
