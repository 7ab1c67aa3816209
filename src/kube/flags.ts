// One flag parser for the servers and scripts: node:util parseArgs underneath, one usage text
// rendered from the same declarations, and one error format with exit code 2:
//   <cmd>: <message>
//   See '<cmd> --help'.
import { parseArgs } from "node:util";
import { isLevel, type Level } from "./log.ts";

export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean;
  /** Placeholder of the value in the usage text, e.g. "DIR". */
  arg?: string;
  /** One line for the usage text (say the default there when it is not obvious). */
  help: string;
}

export interface CommandSpec {
  /** The name errors start with. */
  name: string;
  /** How a person runs it, when that is not just the name (e.g. "npm run sanity --"). */
  invocation?: string;
  /** What follows the name in the usage line, e.g. "[flags]" or "[btrfs|xfs|ext4 ...] [flags]". */
  synopsis: string;
  /** A sentence or two above the flags. */
  description?: string;
  flags: Record<string, FlagSpec>;
  positionals?: boolean;
}

type ValueOf<F extends FlagSpec> = F["type"] extends "boolean"
  ? boolean
  : F["multiple"] extends true
    ? string[]
    : string;

export type FlagValues<C extends CommandSpec> = {
  [K in keyof C["flags"]]: C["flags"][K] extends { default: unknown }
    ? ValueOf<C["flags"][K]>
    : ValueOf<C["flags"][K]> | undefined;
};

export type Parsed<C extends CommandSpec> =
  | { ok: true; values: FlagValues<C>; positionals: string[] }
  /** Help was printed (exit 0) or a usage error was (exit 2). */
  | { ok: false; exitCode: 0 | 2 };

export interface Output {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: Output = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

/** A usage error found after parsing (a bad value): report it with `usageError`. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The one format of a usage error; returns its exit code. */
export function usageError(cmd: string | CommandSpec, message: string, io: Output = stdio): 2 {
  const name = typeof cmd === "string" ? cmd : cmd.name;
  const run = typeof cmd === "string" ? cmd : (cmd.invocation ?? cmd.name);
  io.err(`${name}: ${message.replace(/\.?$/, "")}\nSee '${run} --help'.\n`);
  return 2;
}

export function renderUsage(c: CommandSpec): string {
  const help: FlagSpec = { type: "boolean", short: "h", help: "show this help" };
  const rows = Object.entries<FlagSpec>({ ...c.flags, help }).map(([name, f]) => {
    const left = `${f.short ? `-${f.short}, ` : "    "}--${name}${f.type === "string" ? ` ${f.arg ?? "VALUE"}` : ""}`;
    return [left, f.help] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  const lines = [`Usage: ${c.invocation ?? c.name} ${c.synopsis}`, ""];
  if (c.description) lines.push(c.description, "");
  lines.push("Flags:", ...rows.map(([l, h]) => `  ${l.padEnd(width)}${h}`));
  return `${lines.join("\n")}\n`;
}

/** parseArgs' messages, shortened to kubectl's wording where it has one. */
function parseErrorMessage(err: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(err.message)?.[1];
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && quoted) return `unknown flag: ${quoted}`;
  if (err.code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL" && quoted)
    return `unexpected argument ${JSON.stringify(quoted)}: this command takes flags only`;
  return err.message;
}

/** Parses `argv`; prints help or a usage error itself and then says which exit code to use. */
export function parseFlags<C extends CommandSpec>(c: C, argv: string[], io: Output = stdio): Parsed<C> {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean; default?: string | boolean }
  > = {};
  for (const [name, f] of Object.entries(c.flags)) {
    options[name] = { type: f.type };
    if (f.short) options[name].short = f.short;
    if (f.multiple) options[name].multiple = true;
    if (f.default !== undefined) options[name].default = f.default;
  }
  options.help ??= { type: "boolean", short: "h" };
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: c.positionals ?? false });
  } catch (err) {
    return {
      ok: false,
      exitCode: usageError(c, parseErrorMessage(err as Error & { code?: string }), io),
    };
  }
  if (parsed.values.help === true) {
    io.out(renderUsage(c));
    return { ok: false, exitCode: 0 };
  }
  return { ok: true, values: parsed.values as FlagValues<C>, positionals: parsed.positionals };
}

/** The flags of every server that reads the API server (same names, same help). */
export const KUBE_FLAGS = {
  kubeconfig: {
    type: "string",
    arg: "FILE",
    help: "default: $KUBECONFIG, ~/.kube/config, else in-cluster",
  },
  context: { type: "string", arg: "NAME", help: "kubeconfig context" },
} as const satisfies Record<string, FlagSpec>;

/** --log-level, as the servers take it. */
export const LOG_LEVEL_FLAG = {
  type: "string",
  arg: "LEVEL",
  default: "info",
  help: "debug | info | warn | error (default info)",
} as const satisfies FlagSpec;

/** A --log-level value, else a UsageError. */
export function logLevelValue(text: string): Level {
  if (!isLevel(text)) throw new UsageError(`--log-level ${text} is not one of debug, info, warn, error`);
  return text;
}

/** A port flag's value (0–65535), else a UsageError. */
export function portValue(text: string, flag = "port"): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new UsageError(`--${flag} ${text} is not a port number`);
  return port;
}

export type Options<O> = { ok: true; options: O } | { ok: false; exitCode: 0 | 2 };

/**
 * parseFlags, then `check` turns the values into options (throwing UsageError for a bad value,
 * reported in the same one format). Help and usage errors are printed here.
 */
export function parseOptions<C extends CommandSpec, O>(
  c: C,
  argv: string[],
  check: (values: FlagValues<C>, positionals: string[]) => O,
  io: Output = stdio,
): Options<O> {
  const p = parseFlags(c, argv, io);
  if (!p.ok) return p;
  try {
    return { ok: true, options: check(p.values, p.positionals) };
  } catch (err) {
    if (err instanceof UsageError) return { ok: false, exitCode: usageError(c, err.message, io) };
    throw err;
  }
}
