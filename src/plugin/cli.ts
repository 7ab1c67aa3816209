// The plugin's command line: yargs reads the flags every verb declares, the verb turns them
// into options and runs; one handler maps every failure to a message and an exit code. Signals
// become one AbortSignal that reaches every request and every wait.
import type { Argv } from "yargs";
import type { GlobalFlags } from "./cluster.ts";
import { complete } from "./complete.ts";
import { describeError, EXIT_OK, UsageError } from "./errors.ts";
import { rootHelp, verbHelp } from "./help.ts";
import { loadCore } from "./load-core.ts";
import { type Args, durationArg, type FlagSpec, stringArg, type Verb } from "./verb.ts";
import { findVerb, GLOBAL_FLAGS, VERBS } from "./verbs.ts";
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
        // A string flag needs a value, except --dry-run (bare means client, as kubectl reads it).
        ...(f.type === "string" && name !== "dry-run" ? { requiresArg: true } : {}),
      },
    ]),
  );
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
    let picked: { v: Verb; args: Args } | undefined;
    await (
      await parser(argv, (v, args) => {
        picked = { v, args };
      })
    ).parseAsync();
    if (!picked) throw new UsageError("no verb was run");
    const { v, args } = picked;
    const global = globalFlags(args, v.name);
    const options = v.options(args);
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
    return code;
  }
}
