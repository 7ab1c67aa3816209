// What snapshot, clone and restore share: their options, and once their object is built, the
// pre-flight rules, the create (or dry run), kubectl's output, and --wait.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { checkClaim, checkGroupSnapshot, checkSnapshot, groupMembers } from "../rules/index.ts";
import type { Finding, VolumeGroupSnapshot, VolumeSnapshot } from "../rules/types.ts";
import type { Cluster } from "./cluster.ts";
import { UsageError } from "./errors.ts";
import { invalidName } from "./format.ts";
import { groupState } from "./groups.ts";
import { enforce } from "./preflight.ts";
import { type OutputFormat, parseOutput, printCreated, shortName } from "./printers.ts";
import {
  type Args,
  type DryRunMode,
  dryRunArg,
  durationArg,
  objectArg,
  type RunContext,
  stringArg,
} from "./verb.ts";
import { claimState, snapshotState, waitFor } from "./wait.ts";

/** The options every creating verb has. */
export interface CreateOptions {
  /** The positional argument: the source's name. */
  source: string;
  name?: string;
  output: OutputFormat;
  /** --show-managed-fields */
  showManagedFields: boolean;
  dryRun: DryRunMode;
  wait: boolean;
  timeoutMs: number;
}

/**
 * The options of a creating verb. `source` is the positional argument's name, already read
 * when given (a group snapshot's selector or group, which objectArg does not take).
 */
export function createOptions(
  args: Args,
  verb: string,
  positional: "pvc" | "snapshot",
  given?: string,
): CreateOptions {
  const text = stringArg(args, positional);
  if (given === undefined && !text) throw new UsageError(`${positional.toUpperCase()} is required`, verb);
  const source = given ?? objectArg(text as string, positional, verb);
  const name = stringArg(args, "name");
  if (name !== undefined) {
    const bad = invalidName(name);
    if (bad) throw new UsageError(`invalid --name "${name}": ${bad}`, verb);
  }
  const dryRun = dryRunArg(args, verb);
  const wait = args.wait === true;
  if (wait && dryRun !== "none")
    throw new UsageError("--wait cannot be combined with --dry-run: nothing would be created", verb);
  const timeoutMs = durationArg(args, "timeout", verb);
  if (wait && timeoutMs <= 0) throw new UsageError("--timeout must be more than 0 with --wait", verb);
  const output = parseOutput(stringArg(args, "output"), verb);
  return {
    source,
    name,
    output,
    showManagedFields: args["show-managed-fields"] === true,
    dryRun,
    wait,
    timeoutMs,
  };
}

/** The object a verb built, with the advice building it gave (the rules' defaultClaim). */
export type Built =
  | { kind: "VolumeSnapshot"; obj: VolumeSnapshot; warnings?: Finding[] }
  | { kind: "VolumeGroupSnapshot"; obj: VolumeGroupSnapshot; warnings?: Finding[] }
  | { kind: "PersistentVolumeClaim"; obj: V1PersistentVolumeClaim; warnings?: Finding[] };

/** What differs between the kinds: the rules to run, the create call, the read and state. */
function handlers(b: Built, cluster: Cluster) {
  const ns = cluster.namespace;
  if (b.kind === "VolumeSnapshot") {
    const read = (name: string) => cluster.readSnapshot(ns, name);
    return {
      goal: "ready to use",
      check: () => checkSnapshot(b.obj, cluster.lookup),
      create: (dry: boolean) => cluster.createSnapshot(ns, b.obj, dry),
      read,
      state: async (name: string) => snapshotState(await read(name)),
    };
  }
  if (b.kind === "VolumeGroupSnapshot") {
    const read = (name: string) => cluster.readGroupSnapshot(ns, name);
    return {
      goal: "ready to use",
      check: () => checkGroupSnapshot(b.obj, cluster.lookup),
      create: (dry: boolean) => cluster.createGroupSnapshot(ns, b.obj, dry),
      read,
      // The group and each member: snapshot-controller makes one VolumeSnapshot per claim.
      state: async (name: string) => {
        const group = await read(name);
        return groupState(group, group ? groupMembers(group, await cluster.listSnapshots(ns)) : []);
      },
    };
  }
  const read = (name: string) => cluster.readClaim(ns, name);
  return {
    goal: "Bound",
    check: () => checkClaim(b.obj, cluster.lookup),
    create: (dry: boolean) => cluster.createClaim(ns, b.obj, dry),
    read,
    state: async (name: string) => claimState(await read(name)),
  };
}

/** Pre-flight rules, create (or dry run), kubectl's output, and --wait. */
export async function createAndReport(
  o: CreateOptions,
  b: Built,
  cluster: Cluster,
  ctx: RunContext,
): Promise<void> {
  const h = handlers(b, cluster);
  for (const w of enforce(await h.check(), b.warnings)) ctx.err.write(`Warning: ${w}\n`);
  if (o.dryRun === "client") {
    ctx.out.write(printCreated(b.kind, b.obj, o.output, "client", o.showManagedFields));
    return;
  }
  const created = await h.create(o.dryRun === "server");
  const name = created.metadata?.name ?? b.obj.metadata?.name ?? "";
  // With --wait, json and yaml print the object once it is ready; other formats print now.
  const structured = o.output === "json" || o.output === "yaml";
  if (!o.wait || !structured) {
    ctx.out.write(printCreated(b.kind, created, o.output, o.dryRun, o.showManagedFields));
  }
  if (!o.wait) return;
  await waitFor({
    label: shortName(b.kind, name),
    goal: h.goal,
    read: () => h.state(name),
    events: () => cluster.events(cluster.namespace, b.kind, name),
    timeoutMs: o.timeoutMs,
    signal: ctx.signal,
    sink: ctx.err,
  });
  if (structured) {
    const ready = (await h.read(name)) ?? created;
    ctx.out.write(printCreated(b.kind, ready, o.output, "none", o.showManagedFields));
  }
}
