// kubectl vol snapshot PVC: a VolumeSnapshot of a claim, with the class chosen for its driver.

import { nonCsiSourceFinding, volumeDriver } from "../rules/index.ts";
import { buildSnapshot } from "./build.ts";
import { type CreateOptions, createAndReport, createOptions } from "./create.ts";
import { OperationError } from "./errors.ts";
import { derivedName, timestampSuffix } from "./format.ts";
import { snapshotClassFor } from "./preflight.ts";
import { type Args, createFlags, type RunContext, stringArg, type Verb } from "./verb.ts";

export interface SnapshotOptions extends CreateOptions {
  className?: string;
}

export const snapshot: Verb<SnapshotOptions> = {
  name: "snapshot",
  summary: "Take a VolumeSnapshot of a PersistentVolumeClaim",
  usage: "kubectl vol snapshot PVC [--name N] [--class C] [--wait] [--timeout D] [options]",
  positional: {
    name: "pvc",
    describe: "the claim to snapshot",
    required: true,
    completes: "persistentvolumeclaims",
  },
  flags: {
    ...createFlags,
    class: {
      type: "string",
      describe:
        "VolumeSnapshotClass to use (default: the default class of the claim's CSI driver, else its only class)",
      completes: "volumesnapshotclasses",
    },
  },
  examples: [
    ["kubectl vol snapshot db-data", "Snapshot the claim db-data as db-data-<UTC time>"],
    [
      "kubectl vol snapshot db-data --name before-upgrade --wait",
      "Name the snapshot and wait until it is ready to use",
    ],
    [
      "kubectl vol snapshot db-data -n shop --class csi-fast -o yaml --dry-run=client",
      "Print the VolumeSnapshot without creating it",
    ],
  ],
  options(args: Args): SnapshotOptions {
    return { ...createOptions(args, "snapshot", "pvc"), className: stringArg(args, "class") };
  },
  async run(o: SnapshotOptions, ctx: RunContext): Promise<void> {
    const cluster = await ctx.cluster();
    const ns = cluster.namespace;
    // Asked now, beside the claim (memoised: read below; a failure surfaces there, in order).
    cluster.lookup.volumeSnapshotClasses().catch(() => undefined);
    const pvc = await cluster.lookup.pvc(ns, o.source);
    if (!pvc) throw new OperationError(`PVC "${o.source}" not found in namespace "${ns}"`);
    // Before choosing a class: a volume no CSI driver holds has no class that could help.
    const notCsi = await nonCsiSourceFinding(pvc, cluster.lookup, "snapshot-source-csi", "snapshot");
    if (notCsi) throw new OperationError(notCsi.message);
    const driver = await volumeDriver(pvc, cluster.lookup);
    const classes = await cluster.lookup.volumeSnapshotClasses();
    const cls = snapshotClassFor(driver, classes, o.className, o.source, ns);
    const name = o.name ?? derivedName(o.source, timestampSuffix(ctx.now));
    const obj = buildSnapshot({ namespace: ns, name, pvc, className: cls.metadata.name });
    await createAndReport(o, { kind: "VolumeSnapshot", obj }, cluster, ctx);
  },
};
