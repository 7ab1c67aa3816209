// The pre-flight every creating verb runs: the data-source rules the webhook runs (src/rules),
// so a mistake is explained even on a cluster without the webhook. Denials stop the verb
// (exit 1) with the rules' own messages; warnings are printed and the verb goes on.
import {
  blocks,
  chooseSnapshotClass,
  DEFAULT_SNAPSHOT_CLASS_ANNOTATION,
  isDefaultSnapshotClass,
} from "../rules/index.ts";
import type { Decision, Finding, Lookup, VolumeSnapshotClass } from "../rules/types.ts";
import { OperationError } from "./errors.ts";

/**
 * The class for a snapshot of `pvc` on `driver` (the rules' choice: --class, else the driver's
 * default class, else its only class), or an error in the plugin's terms (--class).
 */
export function snapshotClassFor(
  driver: string | undefined,
  classes: VolumeSnapshotClass[],
  named: string | undefined,
  pvc: string,
  namespace: string,
): VolumeSnapshotClass {
  if (!driver) {
    const c = named ? classes.find((x) => x.metadata.name === named) : undefined;
    if (c) return c;
    throw new OperationError(
      named
        ? `VolumeSnapshotClass "${named}" not found: list the classes with 'kubectl get volumesnapshotclass'`
        : `the CSI driver of PVC "${pvc}" in namespace "${namespace}" is unknown (no CSI volume and no StorageClass): pass --class`,
    );
  }
  const choice = chooseSnapshotClass(driver, classes, named);
  if (choice.ok) return choice.class;
  if (named) throw new OperationError(choice.message);
  const mine = classes.filter((c) => c.driver === driver);
  if (mine.length === 0) {
    throw new OperationError(`no VolumeSnapshotClass for driver "${driver}": create one or pass --class`);
  }
  const defaults = mine.filter(isDefaultSnapshotClass);
  const several = (defaults.length > 1 ? defaults : mine).map((c) => c.metadata.name).sort();
  throw new OperationError(
    defaults.length > 1
      ? `driver "${driver}" has several default VolumeSnapshotClasses (${several.join(", ")}): pass --class with one of them`
      : `driver "${driver}" has several VolumeSnapshotClasses (${several.join(", ")}) and none is the default: pass --class with one of them, or mark one with ${DEFAULT_SNAPSHOT_CLASS_ANNOTATION}: "true"`,
  );
}

/**
 * A --storage-class that does not exist stops the verb: the claim would stay Pending until
 * someone creates the class (the webhook only warns, as a class may be applied with the claim).
 */
export async function requireStorageClass(name: string | undefined, lookup: Lookup): Promise<void> {
  if (!name || (await lookup.storageClass(name))) return;
  const classes = (await lookup.storageClasses())
    .map((c) => `"${c.metadata?.name}" (${c.provisioner})`)
    .sort();
  throw new OperationError(
    `StorageClass "${name}" (--storage-class) does not exist: ${classes.length ? `use one of ${classes.join(", ")}` : "there is no StorageClass at all; create one"}`,
  );
}

/** Stops with the denials of a decision; returns the warnings to print. */
export function enforce(d: Decision, extra: Finding[] = []): string[] {
  const findings = [...extra, ...d.findings];
  const denials = findings.filter((f) => blocks(f, "preflight")).map((f) => f.message);
  if (denials.length > 0) throw new OperationError(denials.join("\n"));
  return findings.map((f) => f.message);
}
