// kubectl vol restore vgs/NAME: one claim per member of a VolumeGroupSnapshot, each named after
// the claim the member was taken of with a suffix (--suffix, default the group's name), with the
// usual defaults (the rules' defaultClaim). All or nothing: every claim passes the pre-flight
// before any is created, and when a create fails the claims this run made are deleted again.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { checkClaim, defaultClaim, groupMembers, groupSnapshotName, memberClaim } from "../rules/index.ts";
import type { Finding, VolumeGroupSnapshot, VolumeSnapshot } from "../rules/types.ts";
import { buildRestore } from "./build.ts";
import type { ClaimOptions } from "./clone.ts";
import type { Cluster } from "./cluster.ts";
import { OperationError, UsageError } from "./errors.ts";
import { derivedName, invalidName } from "./format.ts";
import { GROUP_ARG_NAMES } from "./groups.ts";
import { enforce, requireStorageClass } from "./preflight.ts";
import { printCreated, shortName } from "./printers.ts";
import { type Args, type RunContext, stringArg } from "./verb.ts";
import { claimState, waitFor } from "./wait.ts";

export interface GroupRestoreOptions extends ClaimOptions {
  group: true;
  /** Appended to each source claim's name (default: the group's name). */
  suffix?: string;
}

/** The group's name when the argument names one (`vgs/NAME`, `volumegroupsnapshot/NAME`). */
export function groupArg(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  return GROUP_ARG_NAMES.includes(text.slice(0, slash).toLowerCase()) ? text.slice(slash + 1) : undefined;
}

/** Options of a group restore, from `claimOptions` and the group's name; validated without I/O. */
export function groupRestoreOptions(base: ClaimOptions, args: Args, name: string): GroupRestoreOptions {
  const bad = invalidName(name);
  if (bad) throw new UsageError(`invalid VolumeGroupSnapshot name "${name}": ${bad}`, "restore");
  if (base.name !== undefined) {
    throw new UsageError(
      "--name names one claim; a group restore makes one per member, named <claim>-<suffix>: use --suffix",
      "restore",
    );
  }
  if (base.size !== undefined) {
    throw new UsageError(
      "--size sets one claim's size; each member's claim gets its own snapshot's size",
      "restore",
    );
  }
  const suffix = stringArg(args, "suffix");
  if (suffix !== undefined) {
    const why = invalidName(suffix);
    if (why) throw new UsageError(`invalid --suffix "${suffix}": ${why}`, "restore");
  }
  return { ...base, source: name, group: true, suffix };
}

/** The claims to create, one per member, in member order. Pure apart from the rules' reads. */
export async function groupClaims(
  group: VolumeGroupSnapshot,
  members: VolumeSnapshot[],
  o: { namespace: string; suffix?: string; storageClass?: string },
  cluster: Pick<Cluster, "lookup">,
): Promise<{ claim: V1PersistentVolumeClaim; warnings: Finding[] }[]> {
  const suffix = o.suffix ?? group.metadata.name;
  const out = [];
  for (const m of members) {
    const source = memberClaim(m);
    const sourceClaim = source ? await cluster.lookup.pvc(o.namespace, source) : undefined;
    const name = derivedName(source || m.metadata.name, suffix);
    const choices = { namespace: o.namespace, name, storageClass: o.storageClass };
    out.push(await defaultClaim(buildRestore(choices, m, sourceClaim, group.metadata.name), cluster.lookup));
  }
  return out;
}

export async function runGroupRestore(o: GroupRestoreOptions, ctx: RunContext): Promise<void> {
  const cluster = await ctx.cluster();
  const ns = cluster.namespace;
  const me = groupSnapshotName(ns, o.source);
  const group = await cluster.readGroupSnapshot(ns, o.source);
  if (!group) throw new OperationError(`VolumeGroupSnapshot "${o.source}" not found in namespace "${ns}"`);
  if (group.status?.readyToUse !== true) {
    const why = group.status?.error?.message ? ` (${group.status.error.message})` : "";
    throw new OperationError(
      `${me} is not ready to use${why}: wait until it is (kubectl get vgs ${o.source} -n ${ns}), then restore it`,
    );
  }
  const members = groupMembers(group, await cluster.listSnapshots(ns));
  if (members.length === 0) {
    throw new OperationError(`${me} has no member VolumeSnapshots in the namespace: nothing to restore`);
  }
  await requireStorageClass(o.storageClass, cluster.lookup);
  const built = await groupClaims(group, members, { namespace: ns, ...o }, cluster);
  // The pre-flight of every claim first: nothing is created unless all of them can be.
  const warnings: string[] = [];
  const denials: string[] = [];
  for (const b of built) {
    try {
      warnings.push(...enforce(await checkClaim(b.claim, cluster.lookup), b.warnings));
    } catch (err) {
      if (!(err instanceof OperationError)) throw err;
      denials.push(err.message);
    }
  }
  if (denials.length > 0) throw new OperationError(`${me} was not restored: ${denials.join("\n")}`);
  for (const w of warnings) ctx.err.write(`Warning: ${w}\n`);
  const kind = "PersistentVolumeClaim";
  if (o.dryRun === "client") {
    for (const b of built)
      ctx.out.write(printCreated(kind, b.claim, o.output, "client", o.showManagedFields));
    return;
  }
  const created: V1PersistentVolumeClaim[] = [];
  for (const b of built) {
    try {
      created.push(await cluster.createClaim(ns, b.claim, o.dryRun === "server"));
    } catch (err) {
      const undone = o.dryRun === "server" ? [] : await rollBack(cluster, ns, created);
      throw new OperationError(
        `${(err as Error).message}; ${me} was not restored${undone.length ? `: deleted the claims this run had created (${undone.join(", ")})` : ""}`,
      );
    }
  }
  const structured = o.output === "json" || o.output === "yaml";
  for (const c of created) {
    if (!o.wait || !structured) ctx.out.write(printCreated(kind, c, o.output, o.dryRun, o.showManagedFields));
  }
  if (!o.wait) return;
  for (const c of created) {
    const name = c.metadata?.name ?? "";
    await waitFor({
      label: shortName(kind, name),
      goal: "Bound",
      read: async () => claimState(await cluster.readClaim(ns, name)),
      events: () => cluster.events(ns, kind, name),
      timeoutMs: o.timeoutMs,
      signal: ctx.signal,
      sink: ctx.err,
    });
  }
  if (structured) {
    for (const c of created) {
      const ready = (await cluster.readClaim(ns, c.metadata?.name ?? "")) ?? c;
      ctx.out.write(printCreated(kind, ready, o.output, "none", o.showManagedFields));
    }
  }
}

/** Deletes what this run created (by uid), newest first; names what it deleted. */
async function rollBack(cluster: Cluster, ns: string, created: V1PersistentVolumeClaim[]): Promise<string[]> {
  const done: string[] = [];
  for (const c of [...created].reverse()) {
    const name = c.metadata?.name ?? "";
    try {
      await cluster.deleteClaim(ns, name, c.metadata?.uid);
      done.push(`pvc/${name}`);
    } catch (err) {
      done.push(`pvc/${name} NOT deleted (${(err as Error).message}: kubectl delete pvc ${name} -n ${ns})`);
    }
  }
  return done;
}
