// kubectl vol restore SNAPSHOT: a new claim from a VolumeSnapshot; size defaults to the larger
// of the source claim's request and the snapshot's restoreSize (the rules' defaultClaim).
import { defaultClaim } from "../rules/index.ts";
import { buildRestore } from "./build.ts";
import { type ClaimOptions, claimFlags, claimOptions } from "./clone.ts";
import { createAndReport } from "./create.ts";
import { OperationError } from "./errors.ts";
import { derivedName, timestampSuffix } from "./format.ts";
import { requireStorageClass } from "./preflight.ts";
import type { Args, RunContext, Verb } from "./verb.ts";

export const restore: Verb<ClaimOptions> = {
  name: "restore",
  summary: "Restore a VolumeSnapshot into a new PersistentVolumeClaim",
  usage: "kubectl vol restore SNAPSHOT [--name N] [--storage-class S] [--size Q] [--wait] [options]",
  positional: {
    name: "snapshot",
    describe: "the VolumeSnapshot to restore",
    required: true,
    completes: "volumesnapshots",
  },
  flags: claimFlags,
  examples: [
    [
      "kubectl vol restore db-data-20261123-115900 --name db-data-restored",
      "Restore a snapshot into a new claim",
    ],
    [
      "kubectl vol restore before-upgrade --storage-class fast --wait",
      "Restore onto another class and wait until Bound",
    ],
  ],
  options: (args: Args) => claimOptions(args, "restore", "snapshot"),
  async run(o: ClaimOptions, ctx: RunContext): Promise<void> {
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
