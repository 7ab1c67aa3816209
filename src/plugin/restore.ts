// kubectl vol restore SNAPSHOT: a new claim from a VolumeSnapshot; size defaults to the larger
// of the source claim's request and the snapshot's restoreSize (the rules' defaultClaim).
import { defaultClaim } from "../rules/index.ts";
import { buildRestore } from "./build.ts";
import { type ClaimOptions, claimFlags, claimOptions } from "./clone.ts";
import { createAndReport } from "./create.ts";
import { OperationError, UsageError } from "./errors.ts";
import { derivedName, timestampSuffix } from "./format.ts";
import { requireStorageClass } from "./preflight.ts";
import { type GroupRestoreOptions, groupArg, groupRestoreOptions, runGroupRestore } from "./restore-group.ts";
import {
  type InPlaceOptions,
  inPlaceFlags,
  inPlaceOptions,
  runInPlace,
  wantsInPlace,
} from "./restore-in-place.ts";
import { type Args, type RunContext, stringArg, type Verb } from "./verb.ts";

type RestoreOptions = ClaimOptions | InPlaceOptions | GroupRestoreOptions;

export const restore: Verb<RestoreOptions> = {
  name: "restore",
  summary: "Restore a VolumeSnapshot into a new PersistentVolumeClaim",
  usage:
    "kubectl vol restore SNAPSHOT [--name N] [--storage-class S] [--size Q] [--wait] [options]\n  kubectl vol restore vgs/GROUP [--suffix S] [--storage-class S] [--wait] [options]\n  kubectl vol restore SNAPSHOT --in-place [--wait] [--timeout D] [--yes] [--dry-run=client|server]\n  kubectl vol restore --in-place (--continue CLAIM | --abort CLAIM)",
  positional: {
    name: "snapshot",
    describe: "the VolumeSnapshot to restore, or vgs/NAME: a VolumeGroupSnapshot",
    required: true,
    completes: "volumesnapshots",
  },
  flags: {
    ...claimFlags,
    suffix: {
      type: "string",
      describe: "With vgs/NAME: each claim is named <source claim>-<suffix> (default: the group's name)",
    },
    ...inPlaceFlags,
  },
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
      "kubectl vol restore vgs/db-1400 --suffix restored --wait",
      "One claim per member of the group snapshot db-1400 (data-restored, wal-restored, ...), until all are Bound",
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
  options(args: Args): RestoreOptions {
    if (wantsInPlace(args)) return inPlaceOptions(args);
    const group = groupArg(stringArg(args, "snapshot"));
    if (group !== undefined) {
      return groupRestoreOptions(claimOptions(args, "restore", "snapshot", group), args, group);
    }
    if (stringArg(args, "suffix") !== undefined) {
      throw new UsageError(
        "--suffix goes with a group snapshot: kubectl vol restore vgs/NAME --suffix S",
        "restore",
      );
    }
    return claimOptions(args, "restore", "snapshot");
  },
  async run(opts: RestoreOptions, ctx: RunContext): Promise<void> {
    if ("inPlace" in opts) return runInPlace(opts, ctx);
    if ("group" in opts) return runGroupRestore(opts, ctx);
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
