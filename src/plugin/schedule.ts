// kubectl vol schedule CLAIM|-l SELECTOR [--group] --every 1h --keep 24: creates or updates a
// SnapshotSchedule (vol.kubectl.io/v1alpha1) that vol-controller runs (--group: one
// VolumeGroupSnapshot of the selected claims per slot); --suspend / --resume;
// --list shows the schedules with their last and next run. The object is built by a pure
// function (buildSchedule); the pre-flight warns about a selector that matches nothing and
// refuses a class of another driver, as the webhook does.
import type { ScheduleStore } from "../kube/schedules.ts";
import { checkSchedule } from "../rules/schedule/check.ts";
import { CronError, checkTimeZone, parseCron } from "../rules/schedule/cron.ts";
import {
  type LabelSelector,
  parseScheduleDuration,
  SCHEDULE_GROUP,
  SCHEDULE_KIND,
  SCHEDULE_VERSION,
  type ScheduleSpec,
  type SnapshotSchedule,
  selectorString,
} from "../rules/schedule/spec.ts";
import { OperationError, UsageError } from "./errors.ts";
import { byText, formatAge, invalidName } from "./format.ts";
import { type Item, scheduleOf } from "./lineage.ts";
import { loadCore } from "./load-core.ts";
import { enforce } from "./preflight.ts";
import {
  asList,
  type Column,
  noResources,
  type OutputFormat,
  parseOutput,
  table,
  toJson,
  toYaml,
} from "./printers.ts";
import {
  type Args,
  createFlags,
  type DryRunMode,
  dryRunArg,
  type RunContext,
  stringArg,
  type Verb,
} from "./verb.ts";

const VERB = "schedule";
const RESOURCE = `snapshotschedule.${SCHEDULE_GROUP}`;

/** What the command line asks to change; undefined fields are left as they are. */
export type ScheduleChanges = ScheduleSpec;

export interface ScheduleOptions {
  list: boolean;
  allNamespaces: boolean;
  /** The schedule's name: --name, else the claim's. */
  name?: string;
  /** --name was given: a CLAIM then also retargets an existing schedule. */
  named: boolean;
  changes: ScheduleChanges;
  output: OutputFormat;
  dryRun: DryRunMode;
}

/** kubectl's -l syntax: k=v, k==v, k!=v, k in (a,b), k notin (a,b), k, !k; comma-separated. */
export function parseSelector(text: string, verb = VERB): LabelSelector {
  const terms: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      terms.push(cur);
      cur = "";
    } else cur += ch;
  }
  terms.push(cur);
  const out: Required<LabelSelector> = { matchLabels: {}, matchExpressions: [] };
  const KEY = "([\\w./-]+)";
  const forms: [RegExp, (m: RegExpExecArray) => void][] = [
    [
      new RegExp(`^${KEY}\\s+(in|notin)\\s+\\(([^)]*)\\)$`),
      (m) =>
        out.matchExpressions.push({
          key: m[1]!,
          operator: m[2] === "in" ? "In" : "NotIn",
          values: m[3]!
            .split(",")
            .map((v) => v.trim())
            .filter(Boolean),
        }),
    ],
    [
      new RegExp(`^${KEY}\\s*!=\\s*([\\w.-]*)$`),
      (m) => out.matchExpressions.push({ key: m[1]!, operator: "NotIn", values: [m[2]!] }),
    ],
    [
      new RegExp(`^${KEY}\\s*==?\\s*([\\w.-]*)$`),
      (m) => {
        out.matchLabels[m[1]!] = m[2]!;
      },
    ],
    [new RegExp(`^!\\s*${KEY}$`), (m) => out.matchExpressions.push({ key: m[1]!, operator: "DoesNotExist" })],
    [new RegExp(`^${KEY}$`), (m) => out.matchExpressions.push({ key: m[1]!, operator: "Exists" })],
  ];
  for (const raw of terms.map((t) => t.trim())) {
    if (!raw) throw new UsageError(`invalid selector "${text}": an empty term`, verb);
    const hit = forms.map(([re, use]) => [re.exec(raw), use] as const).find(([m]) => m);
    if (!hit) {
      throw new UsageError(
        `invalid selector term "${raw}": use k=v, k!=v, k in (a,b), k notin (a,b), k or !k`,
        verb,
      );
    }
    hit[1](hit[0] as RegExpExecArray);
  }
  const sel: LabelSelector = {};
  if (Object.keys(out.matchLabels).length) sel.matchLabels = out.matchLabels;
  if (out.matchExpressions.length) sel.matchExpressions = out.matchExpressions;
  return sel;
}

/**
 * The schedule to write: `existing` with the changes applied (a target, a timing replaces the
 * other kind), or a new one. Pure; never modifies `existing`.
 */
export function buildSchedule(
  namespace: string,
  name: string,
  changes: ScheduleChanges,
  existing?: SnapshotSchedule,
): SnapshotSchedule {
  const base: SnapshotSchedule = existing
    ? (JSON.parse(JSON.stringify(existing)) as SnapshotSchedule)
    : {
        apiVersion: `${SCHEDULE_GROUP}/${SCHEDULE_VERSION}`,
        kind: SCHEDULE_KIND,
        metadata: { name, namespace },
        spec: {},
      };
  const spec: ScheduleSpec = base.spec;
  // A target or a timing replaces the other kind (and a period has no time zone).
  if (changes.claim !== undefined) {
    delete spec.selector;
    delete spec.group;
    delete spec.groupSnapshotClassName;
  }
  if (changes.selector !== undefined) delete spec.claim;
  if (changes.every !== undefined) {
    delete spec.cron;
    delete spec.timeZone;
  }
  if (changes.cron !== undefined) delete spec.every;
  for (const [k, v] of Object.entries(changes) as [keyof ScheduleSpec, never][]) {
    if (v !== undefined) spec[k] = v;
  }
  if (changes.suspend === false) delete spec.suspend;
  delete base.status;
  return base;
}

function durationFlag(args: Args, key: string): string | undefined {
  const v = stringArg(args, key);
  if (v !== undefined && parseScheduleDuration(v) === undefined)
    throw new UsageError(`invalid value "${v}" for --${key}: give a duration such as 30m, 1h or 7d`, VERB);
  return v;
}

/** The SCHEDULE column of list and tree, there only when some row was made by a schedule. */
export function scheduleColumns<R>(get: (r: R) => Item, rows: R[]): Column<R>[] {
  if (!rows.some((r) => scheduleOf(get(r)) !== undefined)) return [];
  return [{ header: "SCHEDULE", cell: (r) => scheduleOf(get(r)) ?? "" }];
}

function target(s: SnapshotSchedule): string {
  if (s.spec.claim) return `pvc/${s.spec.claim}`;
  const sel = selectorString(s.spec.selector ?? {});
  const claims = sel ? `-l ${sel}` : "(every claim)";
  return s.spec.group ? `group ${claims}` : claims;
}

function when(s: SnapshotSchedule): string {
  if (s.spec.every) return `every ${s.spec.every}`;
  return `cron ${s.spec.cron ?? ""}${s.spec.timeZone ? ` (${s.spec.timeZone})` : ""}`;
}

/** The --list table; pure. */
export function renderSchedules(
  items: SnapshotSchedule[],
  allNamespaces: boolean,
  now: Date,
  wide: boolean,
): string {
  const cols: Column<SnapshotSchedule>[] = [
    ...(allNamespaces
      ? [{ header: "NAMESPACE", cell: (s: SnapshotSchedule) => s.metadata.namespace ?? "" }]
      : []),
    { header: "NAME", cell: (s) => s.metadata.name },
    { header: "TARGET", cell: target },
    { header: "SCHEDULE", cell: when },
    {
      header: "KEEP",
      cell: (s) => [s.spec.keep, s.spec.maxAge && `max ${s.spec.maxAge}`].filter(Boolean).join(", "),
    },
    { header: "LAST", cell: (s) => (s.status?.lastRunTime ? formatAge(s.status.lastRunTime, now) : "") },
    {
      header: "NEXT",
      cell: (s) =>
        s.spec.suspend
          ? "suspended"
          : s.status?.nextRunTime
            ? `in ${formatAge(now, new Date(s.status.nextRunTime))}`
            : "",
    },
    { header: "KEPT", cell: (s) => String(s.status?.keptCount ?? 0) },
    { header: "RESULT", cell: (s) => s.status?.result ?? "" },
    { header: "MESSAGE", priority: 1, cell: (s) => s.status?.message ?? "" },
  ];
  return table(cols, items, wide);
}

export const schedule: Verb<ScheduleOptions> = {
  name: VERB,
  summary: "Take snapshots of claims on a schedule, keeping the newest",
  usage:
    "kubectl vol schedule CLAIM|-l SELECTOR [--group] --every D|--cron EXPR [--time-zone Z] [--keep N] [--max-age D] [--name N] [--class C] [--suspend|--resume] | --list [options]",
  positional: {
    name: "claim",
    describe: "the claim to snapshot",
    required: false,
    completes: "persistentvolumeclaims",
  },
  flags: {
    selector: {
      alias: "l",
      type: "string",
      describe: "Snapshot every claim matching this label selector (each its own snapshots); needs --name",
    },
    group: {
      type: "boolean",
      default: false,
      describe:
        "With -l: take the matched claims together, one VolumeGroupSnapshot (one point in time) per slot; --keep then counts groups",
    },
    every: {
      type: "string",
      describe: "Take a snapshot every period (e.g. 30m, 1h, 1d), at multiples of it since 1970-01-01T00:00Z",
    },
    cron: {
      type: "string",
      describe: "Take snapshots at the times of a 5-field cron expression (e.g. '0 3 * * *')",
    },
    "time-zone": { type: "string", describe: "IANA time zone of --cron (default UTC)" },
    keep: {
      type: "string",
      describe: "How many ready snapshots to keep per claim (the newest ready one is never deleted)",
    },
    "max-age": {
      type: "string",
      describe: "Delete ready snapshots older than this (e.g. 7d), never the newest ready one",
    },
    name: { type: "string", describe: "Name of the schedule (default: the claim's name)" },
    class: {
      type: "string",
      describe:
        "VolumeSnapshotClass to use (default: the default class of each claim's CSI driver, else its only class); with --group, the VolumeGroupSnapshotClass",
      completes: "volumesnapshotclasses",
    },
    suspend: {
      type: "boolean",
      default: false,
      describe: "Pause the schedule: no snapshot is taken or deleted",
    },
    resume: {
      type: "boolean",
      default: false,
      describe: "Resume a suspended schedule (a missed slot runs once)",
    },
    list: { type: "boolean", default: false, describe: "List the schedules with their last and next run" },
    "all-namespaces": {
      alias: "A",
      type: "boolean",
      default: false,
      describe: "With --list: every namespace",
    },
    output: createFlags.output!,
    "dry-run": createFlags["dry-run"]!,
  },
  examples: [
    [
      "kubectl vol schedule db-data --every 1h --keep 24",
      "Snapshot db-data every hour, keeping the last 24 ready ones",
    ],
    [
      "kubectl vol schedule -l backup=nightly --name nightly --cron '0 3 * * *' --time-zone Europe/Berlin --keep 7",
      "Snapshot every claim labelled backup=nightly at 03:00 Berlin time, a week of them each",
    ],
    [
      "kubectl vol schedule -l app=shop --group --name shop --every 1h --keep 24",
      "One group snapshot of every claim labelled app=shop each hour (crash-consistent across them), keeping 24",
    ],
    ["kubectl vol schedule db-data --suspend", "Pause the schedule db-data"],
    ["kubectl vol schedule --list", "The schedules of the namespace with LAST, NEXT, KEPT and RESULT"],
  ],
  options(args: Args): ScheduleOptions {
    const output = parseOutput(stringArg(args, "output"), VERB);
    const dryRun = dryRunArg(args, VERB);
    const claim = stringArg(args, "claim");
    const selectorText = stringArg(args, "selector");
    const list = args.list === true;
    const allNamespaces = args["all-namespaces"] === true;
    if (list) {
      const extra = ["selector", "every", "cron", "time-zone", "keep", "max-age", "name", "class"].filter(
        (k) => stringArg(args, k) !== undefined,
      );
      if (claim || extra.length || args.suspend === true || args.resume === true || args.group === true)
        throw new UsageError(
          `--list takes no claim and no other flag than -A and -o (got ${claim ? "a claim" : `--${extra[0] ?? (args.group === true ? "group" : "suspend")}`})`,
          VERB,
        );
      return { list, allNamespaces, named: false, changes: {}, output, dryRun };
    }
    if (allNamespaces) throw new UsageError("--all-namespaces goes with --list only", VERB);
    if (claim && selectorText !== undefined)
      throw new UsageError("give a CLAIM or -l SELECTOR, not both", VERB);
    const group = args.group === true;
    if (group && selectorText === undefined)
      throw new UsageError(
        "--group takes the claims of -l SELECTOR as one group snapshot: give -l SELECTOR and --name",
        VERB,
      );
    const name = stringArg(args, "name") ?? claim;
    if (selectorText !== undefined && stringArg(args, "name") === undefined)
      throw new UsageError("a schedule for -l SELECTOR needs --name", VERB);
    if (!name) throw new UsageError("CLAIM, or -l SELECTOR with --name, is required (or --list)", VERB);
    const bad = invalidName(name);
    if (bad || name.length > 63)
      throw new UsageError(
        `invalid schedule name "${name}": ${bad ?? "must be no more than 63 characters (it is a label value)"}`,
        VERB,
      );
    const every = durationFlag(args, "every");
    const cron = stringArg(args, "cron");
    if (every !== undefined && cron !== undefined)
      throw new UsageError("give --every or --cron, not both", VERB);
    if (cron !== undefined) {
      try {
        parseCron(cron);
      } catch (err) {
        if (err instanceof CronError) throw new UsageError(`invalid --cron: ${err.message}`, VERB);
        throw err;
      }
    }
    const timeZone = stringArg(args, "time-zone");
    if (timeZone !== undefined) {
      if (every !== undefined) throw new UsageError("--time-zone goes with --cron, not --every", VERB);
      try {
        checkTimeZone(timeZone);
      } catch (err) {
        throw new UsageError(`invalid --time-zone: ${(err as Error).message}`, VERB);
      }
    }
    const keepText = stringArg(args, "keep");
    let keep: number | undefined;
    if (keepText !== undefined) {
      keep = Number(keepText);
      if (!/^\d+$/.test(keepText) || keep < 1)
        throw new UsageError(
          `invalid value "${keepText}" for --keep: give a whole number of at least 1`,
          VERB,
        );
    }
    if (args.suspend === true && args.resume === true)
      throw new UsageError("give --suspend or --resume, not both", VERB);
    return {
      list,
      allNamespaces,
      name,
      named: stringArg(args, "name") !== undefined,
      changes: {
        claim: claim || undefined,
        selector: selectorText !== undefined ? parseSelector(selectorText) : undefined,
        group: group || undefined,
        every,
        cron,
        timeZone,
        keep,
        maxAge: durationFlag(args, "max-age"),
        snapshotClassName: stringArg(args, "class"),
        suspend: args.suspend === true ? true : args.resume === true ? false : undefined,
      },
      output,
      dryRun,
    };
  },
  async run(o: ScheduleOptions, ctx: RunContext): Promise<void> {
    const cluster = await ctx.cluster();
    const store = await schedules(ctx);
    if (o.list) {
      const items = await store.list(o.allNamespaces ? undefined : cluster.namespace);
      items.sort(
        (a, b) =>
          byText(a.metadata.namespace ?? "", b.metadata.namespace ?? "") ||
          byText(a.metadata.name, b.metadata.name),
      );
      if (o.output === "json") return void ctx.out.write(toJson(asList(items)));
      if (o.output === "yaml") return void ctx.out.write(toYaml(asList(items)));
      if (items.length === 0)
        return void ctx.err.write(noResources(o.allNamespaces ? undefined : cluster.namespace));
      if (o.output === "name")
        return void ctx.out.write(items.map((s) => `${RESOURCE}/${s.metadata.name}\n`).join(""));
      return void ctx.out.write(renderSchedules(items, o.allNamespaces, ctx.now, o.output === "wide"));
    }
    const ns = cluster.namespace;
    const name = o.name as string;
    const existing = await store.read(ns, name);
    // On an existing schedule a lone CLAIM names the schedule (`schedule db --suspend`); with
    // --name it is the new target.
    const c = existing && !o.named ? { ...o.changes, claim: undefined } : { ...o.changes };
    // --class of a group schedule names its VolumeGroupSnapshotClass.
    const grouped = c.group ?? (c.claim === undefined && existing?.spec.group === true);
    if (grouped && c.snapshotClassName !== undefined) {
      c.groupSnapshotClassName = c.snapshotClassName;
      delete c.snapshotClassName;
    }
    if (!existing) {
      if (c.claim === undefined && c.selector === undefined)
        throw new OperationError(
          `SnapshotSchedule "${name}" not found in namespace "${ns}": give a CLAIM or -l SELECTOR to create it`,
        );
      if (c.every === undefined && c.cron === undefined)
        throw new UsageError(`creating SnapshotSchedule "${name}" needs --every or --cron`, VERB);
      if (c.keep === undefined && c.maxAge === undefined)
        throw new UsageError(`creating SnapshotSchedule "${name}" needs --keep or --max-age (or both)`, VERB);
    }
    const obj = buildSchedule(ns, name, c, existing);
    // The webhook's checks (src/rules/schedule/check.ts): denials stop here, warnings are printed.
    const decision = await checkSchedule(obj, cluster.lookup, () => cluster.listClaims(ns));
    for (const w of enforce(decision)) ctx.err.write(`Warning: ${w}\n`);
    const verb = existing ? "configured" : "created";
    const marker = o.dryRun === "client" ? " (dry run)" : o.dryRun === "server" ? " (server dry run)" : "";
    const written = o.dryRun === "client" ? obj : await store.write(ns, obj, o.dryRun === "server");
    if (o.output === "json") ctx.out.write(toJson(written));
    else if (o.output === "yaml") ctx.out.write(toYaml(written));
    else if (o.output === "name") ctx.out.write(`${RESOURCE}/${name}\n`);
    else ctx.out.write(`${RESOURCE}/${name} ${verb}${marker}\n`);
  },
};

/**
 * The schedules of the cluster the global flags name, over the shared plain-JSON client (the
 * verbs' Cluster has no custom resources of ours); failures in the verbs' words.
 */
async function schedules(ctx: RunContext): Promise<ScheduleStore> {
  const core = await loadCore();
  if (!core.schedules) throw new OperationError("this build of kubectl-vol cannot reach SnapshotSchedules");
  const raw = await core.schedules(ctx.global);
  const explained =
    <A extends unknown[], R>(doing: (...a: A) => string, fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      try {
        return await fn(...a);
      } catch (err) {
        const code = (err as { code?: number }).code;
        const why = (err as Error).message.replace(/^\w+ \S+: (\d+ )?/, "");
        throw new OperationError(`${doing(...a)}: ${code === 403 ? `forbidden: ${why}` : why}`);
      }
    };
  const served = explained(() => "reading the vol.kubectl.io/v1alpha1 API", raw.served);
  if (!(await served())) {
    throw new OperationError(
      "the vol.kubectl.io/v1alpha1 API (SnapshotSchedule) is not installed on this cluster: apply manifests/base/snapshotschedule-crd.yaml (kubectl apply -k manifests/ installs it)",
    );
  }
  return {
    served,
    list: explained((ns) => `listing SnapshotSchedules${ns ? ` in namespace "${ns}"` : ""}`, raw.list),
    read: explained((ns, name) => `reading SnapshotSchedule "${name}" in namespace "${ns}"`, raw.read),
    write: explained(
      (ns, body) => `writing SnapshotSchedule "${body.metadata.name}" in namespace "${ns}"`,
      raw.write,
    ),
  };
}
