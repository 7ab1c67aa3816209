// What snapshot, clone and restore share once their object is built: the pre-flight rules,
// the create (or dry run), kubectl's output, and --wait.
import type { Decision } from "../rules/types.ts";
import type { Cluster } from "./cluster.ts";
import { UsageError } from "./errors.ts";
import { invalidName } from "./format.ts";
import { enforce } from "./preflight.ts";
import { type Kind, type OutputFormat, parseOutput, printCreated, shortName } from "./printers.ts";
import { type Args, type DryRunMode, dryRunArg, durationArg, type RunContext, stringArg } from "./verb.ts";
import { claimState, type State, snapshotState, waitFor } from "./wait.ts";

/** The options every creating verb has. */
export interface CreateOptions {
  /** The positional argument: the source's name. */
  source: string;
  name?: string;
  output: OutputFormat;
  dryRun: DryRunMode;
  wait: boolean;
  timeoutMs: number;
}

export function createOptions(args: Args, verb: string, positional: string): CreateOptions {
  const source = stringArg(args, positional);
  if (!source) throw new UsageError(`${positional.toUpperCase()} is required`, verb);
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
  return { source, name, output: parseOutput(stringArg(args, "output"), verb), dryRun, wait, timeoutMs };
}

export interface Creation<T extends { metadata?: { name?: string } }> {
  kind: Kind;
  namespace: string;
  obj: T;
  check(): Promise<Decision>;
  create(dryRun: boolean): Promise<T>;
  read(): Promise<State>;
}

export async function createAndReport<T extends { metadata?: { name?: string } }>(
  o: CreateOptions,
  c: Creation<T>,
  cluster: Cluster,
  ctx: RunContext,
): Promise<void> {
  for (const w of enforce(await c.check())) ctx.err.write(`Warning: ${w}\n`);
  if (o.dryRun === "client") {
    ctx.out.write(printCreated(c.kind, c.obj, o.output, "client"));
    return;
  }
  const created = await c.create(o.dryRun === "server");
  const name = created.metadata?.name ?? c.obj.metadata?.name ?? "";
  // With --wait, json and yaml print the object once it is ready; other formats print now.
  const structured = o.output === "json" || o.output === "yaml";
  if (!o.wait || !structured) ctx.out.write(printCreated(c.kind, created, o.output, o.dryRun));
  if (!o.wait) return;
  const isSnap = c.kind === "VolumeSnapshot";
  await waitFor({
    label: shortName(c.kind, name),
    goal: isSnap ? "ready to use" : "Bound",
    read: c.read,
    events: () => cluster.events(c.namespace, c.kind, name),
    timeoutMs: o.timeoutMs,
    signal: ctx.signal,
    sink: ctx.err,
  });
  if (structured) {
    const final = isSnap
      ? await cluster.readSnapshot(c.namespace, name)
      : await cluster.readClaim(c.namespace, name);
    ctx.out.write(printCreated(c.kind, final ?? created, o.output, "none"));
  }
}

export const readState = {
  snapshot: (cluster: Cluster, ns: string, name: string) => async () =>
    snapshotState(await cluster.readSnapshot(ns, name)),
  claim: (cluster: Cluster, ns: string, name: string) => async () =>
    claimState(await cluster.readClaim(ns, name)),
};
