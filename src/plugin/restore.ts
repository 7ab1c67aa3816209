// kubectl vol restore SNAPSHOT: a new claim from a VolumeSnapshot; size defaults to the larger
// of the source claim's request and the snapshot's restoreSize (the rules' defaultClaim).
import { defaultClaim } from "../rules/index.ts";
import { buildRestore } from "./build.ts";
import { type ClaimOptions, claimFlags, claimOptions } from "./clone.ts";
import { createAndReport } from "./create.ts";
import { OperationError } from "./errors.ts";
import { derivedName, timestampSuffix } from "./format.ts";
import { requireStorageClass } from "./preflight.ts";
import {
  type InPlaceOptions,
  inPlaceFlags,
  inPlaceOptions,
  runInPlace,
  wantsInPlace,
} from "./restore-in-place.ts";
import type { Args, RunContext, Verb } from "./verb.ts";

export const restore: Verb<ClaimOptions | InPlaceOptions> = {
  name: "restore",
  summary: "Restore a VolumeSnapshot into a new PersistentVolumeClaim",
  usage:
    "kubectl vol restore SNAPSHOT [--name N] [--storage-class S] [--size Q] [--wait] [options]\n  kubectl vol restore SNAPSHOT --in-place [--wait] [--timeout D] [--yes] [--dry-run=client|server]\n  kubectl vol restore --in-place (--continue CLAIM | --abort CLAIM)",
  positional: {
    name: "snapshot",
    describe: "the VolumeSnapshot to restore",
    required: true,
    completes: "volumesnapshots",
  },
  flags: { ...claimFlags, ...inPlaceFlags },
  examples: [
    [
      "kubectl vol restore db-data-20261123-115900 --name db-data-restored",
      "Restore a snapshot into a new claim",
    ],
    [
      "kubectl vol restore before-upgrade --storage-class fast --wait",
      "Restore onto another class and wait until Bound",
    ],
    [
      "kubectl vol restore db-data-20261123-115900 --in-place --wait",
      "Put claim db-data back to the snapshot under its own name (asks first; --yes does not)",
    ],
    [
      "kubectl vol restore --in-place --continue db-data",
      "Finish an interrupted in-place restore of db-data (--abort db-data rolls it back)",
    ],
  ],
  options: (args: Args) =>
    wantsInPlace(args) ? inPlaceOptions(args) : claimOptions(args, "restore", "snapshot"),
  async run(opts: ClaimOptions | InPlaceOptions, ctx: RunContext): Promise<void> {
    if ("inPlace" in opts) return runInPlace(opts, ctx);
    const o = opts;
    const cluster = await ctx.cluster();
    const ns = cluster.namespace;
    const snapshot = await cluster.lookup.volumeSnapshot(ns, o.source);
    if (!snapshot) throw new OperationError(`VolumeSnapshot "${o.source}" not found in namespace "${ns}"`);
    await requireStorageClass(o.storageClass, cluster.lookup);
    const srcName = snapshot.spec.source.persistentVolumeClaimName;
    const sourceClaim = srcName ? await cluster.lookup.pvc(ns, srcName) : undefined;
    const name = o.name ?? derivedName(o.source, "restore", timestampSuffix(ctx.now));
    const choices = { namespace: ns, name, storageClass: o.storageClass, size: o.size };
    const { claim: obj, warnings } = await defaultClaim(
      buildRestore(choices, snapshot, sourceClaim),
      cluster.lookup,
    );
    if (!obj.spec?.resources?.requests?.storage) {
      throw new OperationError(
        `VolumeSnapshot "${o.source}" in namespace "${ns}" has no restoreSize yet and its source claim is gone, so the size is unknown: pass --size`,
      );
    }
    await createAndReport(o, { kind: "PersistentVolumeClaim", obj, warnings }, cluster, ctx);
  },
};
