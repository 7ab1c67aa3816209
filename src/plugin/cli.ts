// The plugin's command line: the flags every verb declares are read as kubectl's parser (pflag)
// reads them (no parser library: a verb starts without loading one), the verb turns them into
// options and runs; one handler maps every failure to a message and an exit code. Signals
// become one AbortSignal that reaches every request and every wait.
import type { GlobalFlags } from "./cluster.ts";
import { complete } from "./complete.ts";
import { describeError, EXIT_OK, interruptedCode, UsageError } from "./errors.ts";
import { rootHelp, verbHelp } from "./help.ts";
import { loadCore } from "./load-core.ts";
import { type Args, durationArg, type FlagSpec, stringArg, type Verb } from "./verb.ts";
import { findVerb, flagByWord, flagsOf, VERBS } from "./verbs.ts";
import type { Sink } from "./wait.ts";

export interface Io {
  out: Sink;
  err: Sink;
  signal: AbortSignal;
  now?: Date;
}

const notEnough = (flag: string, verb: string) =>
  new UsageError(`Not enough arguments following: ${flag}`, verb);

/**
 * A command line read as kubectl's parser (pflag) reads it: an unknown flag is `unknown flag:
 * --x` (or `unknown shorthand flag: 'x' in -x`) wherever it stands before `--`; a string flag
 * takes the next word whatever it looks like (or its attached value: --name=v, -nshop, -n=shop,
 * -An shop); a flag that may stand alone (FlagSpec.bare) never takes the next word (bare, it
 * has its bare value); a boolean is true bare, and `--flag=true` or false. Every flag is read
 * under its long name (the last value of one given twice), with the defaults the flags declare.
 * The first word that is not a flag is the verb, the next its positional; a word too many, an
 * unknown verb or none at all is a UsageError. Pure.
 */
export function readCommandLine(argv: string[]): { verb: Verb; args: Args; warnings: string[] } {
  const guess = argv.find((a) => findVerb(a)) ?? "";
  const flags = flagsOf(guess);
  const args: Args = {};
  const positionals: string[] = [];
  const warnings: string[] = [];
  const set = ([name, spec]: [string, FlagSpec], value: string | true) => {
    args[name] = spec.type === "boolean" ? value === true || value === "true" : value;
  };
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i] as string;
    if (w === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!w.startsWith("-") || w === "-") {
      positionals.push(w);
      continue;
    }
    if (w.startsWith("--")) {
      const eq = w.indexOf("=");
      const word = eq < 0 ? w : w.slice(0, eq);
      const f = flagByWord(word, flags);
      if (!f) throw new UsageError(`unknown flag: ${word}`, guess);
      const spec = f[1];
      if (eq >= 0) set(f, w.slice(eq + 1));
      else if (spec.bare !== undefined) {
        set(f, spec.bare);
        if (spec.bareWarning) warnings.push(spec.bareWarning);
      } else if (spec.type === "boolean") set(f, true);
      else if (i + 1 < argv.length) set(f, argv[++i] as string);
      else throw notEnough(f[0], guess);
      continue;
    }
    for (let j = 1; j < w.length; j++) {
      const letter = w[j] as string;
      const f = flagByWord(`-${letter}`, flags);
      if (!f) throw new UsageError(`unknown shorthand flag: '${letter}' in ${w}`, guess);
      if (f[1].type === "boolean") {
        set(f, true);
        continue;
      }
      const attached = w.slice(j + 1).replace(/^=/, "");
      if (attached) set(f, attached);
      else if (i + 1 < argv.length) set(f, argv[++i] as string);
      else throw notEnough(letter, guess);
      break;
    }
  }
  const names = VERBS.map((v) => v.name).join(", ");
  const [verbName, ...rest] = positionals;
  if (verbName === undefined) throw new UsageError(`a verb is required: one of ${names}`);
  const verb = findVerb(verbName);
  if (!verb) throw new UsageError(`unknown verb "${verbName}": use one of ${names}`);
  if (verb.positional && rest.length > 0) args[verb.positional.name] = rest.shift();
  if (rest.length > 0) {
    const takes = verb.positional ? `one ${verb.positional.name.toUpperCase()}` : "no arguments";
    throw new UsageError(
      `unexpected argument "${rest[0]}": kubectl vol ${verb.name} takes ${takes}`,
      verb.name,
    );
  }
  for (const [name, spec] of Object.entries(flagsOf(verb.name))) {
    if (args[name] === undefined && spec.default !== undefined) args[name] = spec.default;
  }
  return { verb, args, warnings };
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
  const { verb: v, args, warnings } = readCommandLine(argv);
  return { verb: v, global: globalFlags(args, v.name), options: v.options(args), warnings };
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
