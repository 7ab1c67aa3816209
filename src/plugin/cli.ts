// The plugin's command line: yargs reads the flags every verb declares, the verb turns them
// into options and runs; one handler maps every failure to a message and an exit code. Signals
// become one AbortSignal that reaches every request and every wait.
import type { Argv } from "yargs";
import type { GlobalFlags } from "./cluster.ts";
import { complete } from "./complete.ts";
import { describeError, EXIT_OK, interruptedCode, UsageError } from "./errors.ts";
import { rootHelp, verbHelp } from "./help.ts";
import { loadCore } from "./load-core.ts";
import { type Args, durationArg, type FlagSpec, stringArg, type Verb } from "./verb.ts";
import { findVerb, flagByWord, flagsOf, GLOBAL_FLAGS, VERBS } from "./verbs.ts";
import type { Sink } from "./wait.ts";

export interface Io {
  out: Sink;
  err: Sink;
  signal: AbortSignal;
  now?: Date;
}

function yargsOptions(flags: Record<string, FlagSpec>) {
  return Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [
      name,
      {
        type: f.type,
        describe: f.describe,
        ...(f.alias ? { alias: f.alias } : {}),
        ...(f.default !== undefined ? { default: f.default } : {}),
        // A string flag needs a value (a bare one has had it filled in by normalise).
        ...(f.type === "string" ? { requiresArg: true } : {}),
      },
    ]),
  );
}

/**
 * The flags of a command line checked as kubectl's parser (pflag) checks them, before yargs
 * reads them: an unknown flag is `unknown flag: --x` (or `unknown shorthand flag: 'x' in -x`),
 * and a flag that may stand alone (FlagSpec.bare) never takes the next word: a bare one is
 * rewritten to `--flag=<its bare value>`. Returns the argv to parse and the warnings to print.
 */
export function normalise(argv: string[]): { argv: string[]; warnings: string[] } {
  const verbName = argv.find((a) => findVerb(a))?.toString();
  const flags = flagsOf(verbName);
  const out: string[] = [];
  const warnings: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i] as string;
    if (w === "--") {
      out.push(...argv.slice(i));
      break;
    }
    out.push(w);
    if (!w.startsWith("-") || w === "-") continue;
    if (w.startsWith("--")) {
      const name = w.includes("=") ? w.slice(0, w.indexOf("=")) : w;
      const f = flagByWord(name, flags);
      if (!f) throw new UsageError(`unknown flag: ${name}`, verbName ?? "");
      if (w.includes("=")) continue;
      const [flagName, spec] = f;
      if (spec.bare !== undefined) {
        out[out.length - 1] = `--${flagName}=${spec.bare}`;
        if (spec.bareWarning) warnings.push(spec.bareWarning);
      } else if (spec.type === "string" && i + 1 < argv.length) {
        out.push(argv[++i] as string); // its value, whatever it looks like
      }
      continue;
    }
    // Shorthand: -n shop, -nshop, -n=shop, -A.
    const letter = w.slice(1, 2);
    const f = flagByWord(`-${letter}`, flags);
    if (!f) throw new UsageError(`unknown shorthand flag: '${letter}' in ${w}`, verbName ?? "");
    const [flagName, spec] = f;
    if (spec.type !== "string") continue;
    if (w.length > 2) {
      // pflag's attached value (-nshop, -n=shop), which yargs would read as more shorthands
      out[out.length - 1] = `--${flagName}=${w.slice(w[2] === "=" ? 3 : 2)}`;
    } else if (i + 1 < argv.length) {
      out.push(argv[++i] as string);
    }
  }
  return { argv: out, warnings };
}

/** yargs reads the flags the verbs declare; help is ours (help.ts), so yargs' is off. */
export async function parser(argv: string[], chosen: (v: Verb, args: Args) => void): Promise<Argv> {
  // Loaded on demand: help and completion never need it.
  const { default: yargs } = await import("yargs");
  const verbName = argv.find((a) => findVerb(a)) ?? "";
  let y = yargs(argv)
    .scriptName("kubectl vol")
    .options(yargsOptions(GLOBAL_FLAGS))
    .strict()
    .help(false)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      if (err instanceof UsageError) throw err;
      const unknown = /^Unknown arguments?: (.*)$/.exec(msg ?? "");
      if (unknown && !verbName) {
        throw new UsageError(
          `unknown verb "${unknown[1]?.split(", ")[0]}": use one of ${VERBS.map((v) => v.name).join(", ")}`,
        );
      }
      // Flags were checked by normalise: what yargs does not know is a word too many.
      if (unknown) {
        const v = findVerb(verbName);
        const takes = v?.positional ? `one ${v.positional.name.toUpperCase()}` : "no arguments";
        throw new UsageError(
          `unexpected argument "${unknown[1]?.split(", ")[0]}": kubectl vol ${verbName} takes ${takes}`,
          verbName,
        );
      }
      throw new UsageError(msg || err?.message || "invalid command line", verbName);
    });
  for (const v of VERBS) {
    const command = v.positional ? `${v.name} [${v.positional.name}]` : v.name;
    y = y.command(
      command,
      v.summary,
      (b) => b.options(yargsOptions(v.flags)),
      (args) => chosen(v, args as Args),
    );
  }
  return y.demandCommand(1, `a verb is required: one of ${VERBS.map((v) => v.name).join(", ")}`);
}

/** The help an argv asks for (-h/--help anywhere before "--"), if it does. */
export function helpFor(argv: string[]): string | undefined {
  const end = argv.indexOf("--");
  const words = end < 0 ? argv : argv.slice(0, end);
  if (!words.some((a) => a === "-h" || a === "--help")) return undefined;
  const verb = words.map(findVerb).find((v) => v !== undefined);
  return verb ? verbHelp(verb) : rootHelp();
}

export function globalFlags(args: Args, verb: string): GlobalFlags {
  return {
    namespace: stringArg(args, "namespace"),
    context: stringArg(args, "context"),
    kubeconfig: stringArg(args, "kubeconfig"),
    requestTimeoutMs: durationArg(args, "request-timeout", verb),
  };
}

/** A command line read and validated: the verb, kubectl's global flags and the verb's options. */
export async function parseCommand(
  argv: string[],
): Promise<{ verb: Verb; global: GlobalFlags; options: unknown; warnings: string[] }> {
  const normal = normalise(argv);
  let picked: { v: Verb; args: Args } | undefined;
  await (
    await parser(normal.argv, (v, args) => {
      picked = { v, args };
    })
  ).parseAsync();
  if (!picked) throw new UsageError("no verb was run");
  const { v, args } = picked;
  return { verb: v, global: globalFlags(args, v.name), options: v.options(args), warnings: normal.warnings };
}

/** Runs one command line; returns the exit code. */
export async function main(argv: string[], io: Io): Promise<number> {
  if (argv[0] === "__complete") {
    io.out.write(await complete(argv.slice(1), loadCore));
    return EXIT_OK;
  }
  const help = helpFor(argv);
  if (help) {
    io.out.write(help);
    return EXIT_OK;
  }
  try {
    const { verb: v, global, options, warnings } = await parseCommand(argv);
    for (const w of warnings) io.err.write(`Warning: ${w}\n`);
    await v.run(options, {
      global,
      cluster: async () => (await loadCore()).connect(global, io.signal),
      out: io.out,
      err: io.err,
      signal: io.signal,
      now: io.now ?? new Date(),
    });
    return EXIT_OK;
  } catch (err) {
    const { text, code } = describeError(err);
    io.err.write(`${text}\n`);
    // Stopped by a signal: 128 + its number, as shells expect (130 for Ctrl-C).
    return io.signal.aborted ? interruptedCode(io.signal.reason) : code;
  }
}
