// The shape of a verb (after kubectl's create_namespace.go): flags declared once (they feed
// the command line reader in cli.ts, help and completion), `options` turns parsed flags into a
// validated options object with no I/O, and `run` does the work against a cluster.
import type { Cluster, GlobalFlags } from "./cluster.ts";
import { UsageError } from "./errors.ts";
import { invalidName, parseDuration } from "./format.ts";
import { OUTPUT_FORMATS, SHOW_MANAGED_FIELDS_FLAG } from "./printers.ts";
import type { Sink } from "./wait.ts";

/** What a flag value or positional argument completes to. */
export type Completes =
  | "persistentvolumeclaims"
  | "volumesnapshots"
  | "namespaces"
  | "storageclasses"
  | "volumesnapshotclasses"
  | "contexts"
  | readonly string[];

export interface FlagSpec {
  alias?: string;
  type: "string" | "boolean";
  describe: string;
  default?: string | boolean;
  completes?: Completes;
  /**
   * A string flag that may stand alone (kubectl's NoOptDefVal): the value a bare `--flag` has.
   * Such a flag never takes the next word as its value; `--flag=value` sets another.
   */
  bare?: string;
  /** What to say when the flag is given bare (kubectl's deprecation warning). */
  bareWarning?: string;
}

export type Args = Record<string, unknown>;

export interface RunContext {
  global: GlobalFlags;
  /** Loads the client library and connects (only verbs that need the API call it). */
  cluster(): Promise<Cluster>;
  out: Sink;
  err: Sink;
  signal: AbortSignal;
  now: Date;
}

export interface Verb<O = unknown> {
  name: string;
  summary: string;
  /** Starts with "kubectl vol". */
  usage: string;
  positional?: { name: string; describe: string; required: boolean; completes: Completes };
  flags: Record<string, FlagSpec>;
  examples: [command: string, description: string][];
  /** Flags → options, validated without I/O; throws UsageError. */
  options(args: Args): O;
  run(options: O, ctx: RunContext): Promise<void>;
}

export const DRY_RUN_VALUES = ["none", "client", "server"] as const;

/** Flags every creating verb shares. */
export const createFlags: Record<string, FlagSpec> = {
  name: {
    type: "string",
    describe: "Name of the object to create (default: derived from the source and the UTC time)",
  },
  wait: { type: "boolean", default: false, describe: "Wait until the object is ready, showing progress" },
  timeout: { type: "string", default: "5m", describe: "How long --wait waits (e.g. 30s, 5m, 1h)" },
  output: {
    alias: "o",
    type: "string",
    describe: `Output format. One of: (${OUTPUT_FORMATS.join(", ")})`,
    completes: OUTPUT_FORMATS,
  },
  "show-managed-fields": SHOW_MANAGED_FIELDS_FLAG,
  "dry-run": {
    type: "string",
    default: "none",
    bare: "client",
    bareWarning: "--dry-run is deprecated and can be replaced with --dry-run=client.",
    describe:
      'Must be "none", "client", or "server". If client, only print the object that would be sent; if server, submit it with dryRun=All without persisting it',
    completes: DRY_RUN_VALUES,
  },
};

export function stringArg(args: Args, key: string): string | undefined {
  const v = args[key];
  if (Array.isArray(v)) return stringArg({ [key]: v[v.length - 1] }, key);
  if (v === undefined || v === null) return undefined;
  return String(v);
}

/** The kinds a verb's argument can name, with kubectl's names for them (kind/name). */
const ARG_KINDS = {
  pvc: {
    label: "PVC",
    kind: "PersistentVolumeClaim",
    names: ["pvc", "pvcs", "persistentvolumeclaim", "persistentvolumeclaims"],
    verb: "clone",
  },
  snapshot: {
    label: "VolumeSnapshot",
    kind: "VolumeSnapshot",
    names: [
      "vs",
      "volumesnapshot",
      "volumesnapshots",
      "volumesnapshot.snapshot.storage.k8s.io",
      "volumesnapshots.snapshot.storage.k8s.io",
    ],
    verb: "restore",
  },
} as const;

/**
 * The name an argument gives, as kubectl reads `NAME` or `kind/name` (`pvc/db`, `vs/s1`). A
 * kind the verb does not take, a namespace written as `ns/name`, or a malformed name is a usage
 * error that says what to write instead.
 */
export function objectArg(text: string, takes: keyof typeof ARG_KINDS, verb: string): string {
  const want = ARG_KINDS[takes];
  const slash = text.indexOf("/");
  let name = text;
  if (slash >= 0) {
    const prefix = text.slice(0, slash).toLowerCase();
    name = text.slice(slash + 1);
    const other = Object.values(ARG_KINDS).find(
      (k) => k !== want && (k.names as readonly string[]).includes(prefix),
    );
    if (other) {
      throw new UsageError(
        `kubectl vol ${verb} takes a ${want.label}, not ${other.kind} "${name}"${other.verb !== verb ? `: for a ${other.label} use 'kubectl vol ${other.verb} ${name}'` : ""}`,
        verb,
      );
    }
    if (!(want.names as readonly string[]).includes(prefix)) {
      throw new UsageError(
        `"${text}" is not a ${want.label} name: to name the namespace use -n (kubectl vol ${verb} ${name} -n ${text.slice(0, slash)}), or write ${want.names[0]}/${name}`,
        verb,
      );
    }
  }
  const bad = invalidName(name);
  if (bad) throw new UsageError(`invalid ${want.label} name "${name}": ${bad}`, verb);
  return name;
}

export function durationArg(args: Args, key: string, verb: string): number {
  const text = stringArg(args, key) ?? "0";
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new UsageError(`invalid value "${text}" for --${key}: give a duration such as 30s, 5m or 1h`, verb);
  }
  return ms;
}

export type DryRunMode = (typeof DRY_RUN_VALUES)[number];

export function dryRunArg(args: Args, verb: string): DryRunMode {
  const v = stringArg(args, "dry-run");
  if (v === undefined) return "none";
  if ((DRY_RUN_VALUES as readonly string[]).includes(v)) return v as DryRunMode;
  throw new UsageError(`invalid value "${v}" for --dry-run: must be "none", "client", or "server"`, verb);
}
