// kubectl vol snapshot PVC: a VolumeSnapshot of a claim, with the class chosen for its driver.
// kubectl vol snapshot -l SELECTOR: a VolumeGroupSnapshot of every claim the selector matches
// (one point in time for all of them), after the group rules (src/rules/group.ts).

import {
  buildGroupSnapshot,
  groupFacts,
  groupSnapshotName,
  type LabelSelector,
  nonCsiSourceFinding,
  volumeDriver,
} from "../rules/index.ts";
import { buildSnapshot } from "./build.ts";
import { type CreateOptions, createAndReport, createOptions } from "./create.ts";
import { OperationError, UsageError } from "./errors.ts";
import { derivedName, timestampSuffix } from "./format.ts";
import { groupName } from "./groups.ts";
import { enforce, snapshotClassFor } from "./preflight.ts";
import { parseSelector } from "./schedule.ts";
import { type Args, createFlags, type RunContext, stringArg, type Verb } from "./verb.ts";

export interface SnapshotOptions extends CreateOptions {
  className?: string;
  /** -l: a group snapshot of the claims it matches (then `source` is the selector's text). */
  selector?: LabelSelector;
}

/**
 * -l: the members by the group rules (the webhook's messages, naming the group), the class
 * chosen for their driver (--class, its default, its only one), then the pre-flight and create.
 */
async function runGroup(o: SnapshotOptions & { selector: LabelSelector }, ctx: RunContext): Promise<void> {
  const cluster = await ctx.cluster();
  const ns = cluster.namespace;
  const name = o.name ?? groupName(o.selector, timestampSuffix(ctx.now));
  const me = groupSnapshotName(ns, name);
  const facts = await groupFacts(ns, o.selector, o.className, cluster.lookup, me);
  enforce({ allowed: true, findings: facts.findings });
  if (!facts.choice?.ok) throw new OperationError(`${me}: no VolumeGroupSnapshotClass could be chosen`);
  const className = facts.choice.class.metadata.name;
  const obj = buildGroupSnapshot({ namespace: ns, name, selector: o.selector, className });
  await createAndReport(o, { kind: "VolumeGroupSnapshot", obj }, cluster, ctx);
}

export const snapshot: Verb<SnapshotOptions> = {
  name: "snapshot",
  summary: "Take a VolumeSnapshot of a PersistentVolumeClaim",
  usage:
    "kubectl vol snapshot PVC [--name N] [--class C] [--wait] [--timeout D] [options]\n  kubectl vol snapshot -l SELECTOR [--name N] [--class C] [--wait] [--timeout D] [options]",
  positional: {
    name: "pvc",
    describe: "the claim to snapshot",
    required: false,
    completes: "persistentvolumeclaims",
  },
  flags: {
    ...createFlags,
    selector: {
      alias: "l",
      type: "string",
      describe:
        "Take one VolumeGroupSnapshot of every claim this label selector matches (k=v, k!=v, k in (a,b), k, !k), at one point in time",
    },
    class: {
      type: "string",
      describe:
        "VolumeSnapshotClass to use (default: the default class of the claim's CSI driver, else its only class); with -l, the VolumeGroupSnapshotClass",
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
    [
      "kubectl vol snapshot -l app=db --name db-1400 --wait",
      "One VolumeGroupSnapshot of every claim labelled app=db, ready with each member",
    ],
  ],
  options(args: Args): SnapshotOptions {
    const text = stringArg(args, "selector");
    if (text === undefined) {
      return { ...createOptions(args, "snapshot", "pvc"), className: stringArg(args, "class") };
    }
    if (stringArg(args, "pvc") !== undefined) {
      throw new UsageError(
        "give a PVC or -l SELECTOR, not both: -l takes a group snapshot of every claim it matches",
        "snapshot",
      );
    }
    if (text.trim() === "") throw new UsageError("-l needs a selector such as app=db", "snapshot");
    const selector = parseSelector(text, "snapshot");
    return { ...createOptions(args, "snapshot", "pvc", text), className: stringArg(args, "class"), selector };
  },
  async run(o: SnapshotOptions, ctx: RunContext): Promise<void> {
    if (o.selector) return runGroup({ ...o, selector: o.selector }, ctx);
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
