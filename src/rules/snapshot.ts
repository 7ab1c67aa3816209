// The VolumeSnapshot rules and the VolumeSnapshotClass choice. Pure.
import {
  DEFAULT_SNAPSHOT_CLASS_ANNOTATION,
  decide,
  GROUP_SNAPSHOT_API_GROUP,
  isDeleting,
  pvcName,
  snapshotName,
  volumeDriver,
} from "./source.ts";
import type {
  ClassChoice,
  Decision,
  Finding,
  Lookup,
  Operation,
  VolumeSnapshot,
  VolumeSnapshotClass,
} from "./types.ts";
import { nonCsiSourceFinding } from "./volume.ts";

const quoted = (names: string[]) => names.map((n) => `"${n}"`).join(", ");

export function isDefaultSnapshotClass(c: VolumeSnapshotClass): boolean {
  return c.metadata?.annotations?.[DEFAULT_SNAPSHOT_CLASS_ANNOTATION] === "true";
}

/** A class of snapshots of one CSI driver: a VolumeSnapshotClass or a VolumeGroupSnapshotClass. */
interface DriverClass {
  metadata: { name: string; annotations?: Record<string, string> };
  driver: string;
}

/**
 * Picks the class of `kind` for a volume on `driver`, the default marked with `annotation`:
 * - `named` given: that class, which must exist and be for `driver`;
 * - else the driver's default class;
 * - else the driver's only class (`how: "only"`: snapshot-controller would not pick it by
 *   itself, so name it in the spec);
 * - else an error listing the candidates.
 */
export function chooseClass<C extends DriverClass>(
  kind: string,
  annotation: string,
  driver: string,
  classes: C[],
  named?: string,
): ClassChoice<C> {
  const mine = classes.filter((c) => c.driver === driver);
  const mineNames = mine.map((c) => c.metadata.name).sort();
  const describeAll = () =>
    classes.length === 0
      ? `no ${kind} exists at all`
      : `the classes are ${classes
          .map((c) => `"${c.metadata.name}" (driver "${c.driver}")`)
          .sort()
          .join(", ")}`;
  const createOne = `create a ${kind} with driver: ${driver}`;
  if (named) {
    const c = classes.find((x) => x.metadata.name === named);
    if (!c) {
      return {
        ok: false,
        candidates: mineNames,
        message:
          mine.length > 0
            ? `${kind} "${named}" does not exist: use ${mine.length > 1 ? "one of " : ""}${quoted(mineNames)} (driver "${driver}")`
            : `${kind} "${named}" does not exist and no class is for driver "${driver}" (${describeAll()}): ${createOne}`,
      };
    }
    if (c.driver !== driver) {
      return {
        ok: false,
        candidates: mineNames,
        message:
          mine.length > 0
            ? `${kind} "${named}" is for driver "${c.driver}", not "${driver}": use ${mine.length > 1 ? "one of " : ""}${quoted(mineNames)}`
            : `${kind} "${named}" is for driver "${c.driver}", not "${driver}", and no class is for "${driver}": ${createOne}`,
      };
    }
    return { ok: true, class: c, how: "named" };
  }
  const defaults = mine.filter((c) => c.metadata?.annotations?.[annotation] === "true");
  if (defaults.length === 1) return { ok: true, class: defaults[0] as C, how: "default" };
  if (defaults.length > 1) {
    const names = defaults.map((c) => c.metadata.name).sort();
    return {
      ok: false,
      candidates: names,
      message: `driver "${driver}" has ${defaults.length} default ${kind}es (${quoted(names)}): name one, or keep ${annotation}: "true" on only one`,
    };
  }
  if (mine.length === 1) return { ok: true, class: mine[0] as C, how: "only" };
  if (mine.length > 1) {
    return {
      ok: false,
      candidates: mineNames,
      message: `driver "${driver}" has ${mine.length} ${kind}es (${quoted(mineNames)}) and none is the default: name one, or annotate one with ${annotation}: "true"`,
    };
  }
  return {
    ok: false,
    candidates: classes.map((c) => c.metadata.name).sort(),
    message: `no ${kind} is for driver "${driver}" (${describeAll()}): ${createOne}`,
  };
}

/**
 * Picks the VolumeSnapshotClass for a volume on `driver` (chooseClass): named, else the
 * driver's default (annotation snapshot.storage.kubernetes.io/is-default-class: "true"), else
 * its only class.
 */
export function chooseSnapshotClass(
  driver: string,
  classes: VolumeSnapshotClass[],
  named?: string,
): ClassChoice {
  return chooseClass("VolumeSnapshotClass", DEFAULT_SNAPSHOT_CLASS_ANNOTATION, driver, classes, named);
}

/**
 * Whether a VolumeSnapshot is a member of a group snapshot: snapshot-controller made it for a
 * VolumeGroupSnapshot (which owns it) after the group's own rules admitted the group.
 */
export function isGroupMember(snap: VolumeSnapshot): boolean {
  return (
    !!snap.status?.volumeGroupSnapshotName ||
    (snap.metadata?.ownerReferences ?? []).some(
      (o) =>
        o.kind === "VolumeGroupSnapshot" && (o.apiVersion ?? "").startsWith(`${GROUP_SNAPSHOT_API_GROUP}/`),
    )
  );
}

/**
 * Rules for a VolumeSnapshot. On CREATE: the source PVC exists in the namespace and is Bound; a
 * named class exists and is for the PVC's driver; with no class named, the driver has exactly
 * one default class. Pre-provisioned snapshots (spec.source.volumeSnapshotContentName): a named
 * class must be for the content's driver. Any other operation passes (finalizers, status,
 * deletion must keep working), and so does a member of a group snapshot (isGroupMember): it names
 * no class, and its group was checked as a whole.
 */
export async function checkSnapshot(
  snapshot: VolumeSnapshot,
  lookup: Lookup,
  op: Operation = "CREATE",
): Promise<Decision> {
  if (op !== "CREATE" || isGroupMember(snapshot)) return decide([]);
  const findings: Finding[] = [];
  const ns = snapshot.metadata?.namespace || "default";
  const me = snapshot.metadata?.name
    ? snapshotName(ns, snapshot.metadata.name)
    : `VolumeSnapshot (unnamed) in namespace "${ns}"`;
  const named = snapshot.spec?.volumeSnapshotClassName || undefined;
  const source = snapshot.spec?.source ?? {};

  if (source.persistentVolumeClaimName) {
    const pvcN = source.persistentVolumeClaimName;
    const pvc = await lookup.pvc(ns, pvcN);
    if (!pvc) {
      findings.push({
        rule: "snapshot-source-exists",
        severity: "deny",
        message: `${me} takes a snapshot of ${pvcName(ns, pvcN)}, which does not exist: create the PVC first, or fix spec.source.persistentVolumeClaimName`,
      });
      return decide(findings);
    }
    const phase = pvc.status?.phase ?? "Pending";
    if (phase === "Pending") {
      findings.push({
        rule: "snapshot-source-bound",
        severity: "wait",
        message: `${pvcName(ns, pvcN)} is Pending, not Bound: a snapshot needs a Bound source, so ${me} would wait until it is`,
      });
    } else if (phase !== "Bound") {
      findings.push({
        rule: "snapshot-source-bound",
        severity: "deny",
        message: `${pvcName(ns, pvcN)} is ${phase}, not Bound: a snapshot needs a Bound source; take the snapshot of another PVC`,
      });
      return decide(findings);
    }
    if (isDeleting(pvc)) {
      findings.push({
        rule: "snapshot-source-deleting",
        severity: "deny",
        message: `${pvcName(ns, pvcN)} is being deleted: a snapshot needs a source that stays; take the snapshot of another PVC`,
      });
      return decide(findings);
    }
    const notCsi = await nonCsiSourceFinding(pvc, lookup, "snapshot-source-csi", "snapshot");
    if (notCsi) return decide([notCsi]);
    const driver = await volumeDriver(pvc, lookup);
    if (!driver) {
      if (!named) {
        findings.push({
          rule: "snapshot-class",
          severity: "deny",
          message: `${me} names no VolumeSnapshotClass and the CSI driver of ${pvcName(ns, pvcN)} is unknown (no StorageClass or CSI volume): set spec.volumeSnapshotClassName`,
        });
      } else if (!(await lookup.volumeSnapshotClasses()).some((c) => c.metadata.name === named)) {
        findings.push({
          rule: "snapshot-class",
          severity: "deny",
          message: `${me} names VolumeSnapshotClass "${named}", which does not exist: create it or name an existing class`,
        });
      }
      return decide(findings);
    }
    const choice = chooseSnapshotClass(driver, await lookup.volumeSnapshotClasses(), named);
    if (!choice.ok) {
      findings.push({ rule: "snapshot-class", severity: "deny", message: `${me}: ${choice.message}` });
    } else if (choice.how === "only") {
      findings.push({
        rule: "snapshot-class",
        severity: "deny",
        message: `${me} names no VolumeSnapshotClass and driver "${driver}" has no default class: set spec.volumeSnapshotClassName: ${choice.class.metadata.name}, or annotate VolumeSnapshotClass "${choice.class.metadata.name}" with ${DEFAULT_SNAPSHOT_CLASS_ANNOTATION}: "true"`,
      });
    }
    return decide(findings);
  }

  if (source.volumeSnapshotContentName) {
    const contentN = source.volumeSnapshotContentName;
    const content = await lookup.volumeSnapshotContent(contentN);
    if (!content) {
      findings.push({
        rule: "snapshot-content-exists",
        severity: "warn",
        message: `VolumeSnapshotContent "${contentN}" named by ${me} does not exist yet: the snapshot stays unbound until it does`,
      });
      return decide(findings);
    }
    if (named) {
      const choice = chooseSnapshotClass(content.spec.driver, await lookup.volumeSnapshotClasses(), named);
      if (!choice.ok)
        findings.push({ rule: "snapshot-class", severity: "deny", message: `${me}: ${choice.message}` });
    }
  }
  return decide(findings);
}
