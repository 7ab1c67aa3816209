// The plugin's command line: yargs reads the flags every verb declares, the verb turns them
// into options and runs; one handler maps every failure to a message and an exit code. Signals
// become one AbortSignal that reaches every request and every wait.
import yargs, { type Argv } from "yargs";
import type { GlobalFlags } from "./cluster.ts";
import { complete } from "./complete.ts";
import { describeError, EXIT_OK, UsageError } from "./errors.ts";
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

function verbHelp(v: Verb, y: Argv): Argv {
  let b = y
    .usage(`${v.summary}.\n\nUsage:\n  ${v.usage}`)
    .options(yargsOptions(v.flags))
    .group(Object.keys(v.flags), "Options:")
    .group(Object.keys(GLOBAL_FLAGS), "Global options:");
  if (v.positional) b = b.positional(v.positional.name, { type: "string", describe: v.positional.describe });
  for (const [cmd, desc] of v.examples) b = b.example(cmd, desc);
  return b;
}

export function parser(argv: string[], chosen: (v: Verb, args: Args) => void): Argv {
  const verbName = argv.find((a) => findVerb(a)) ?? "";
  let y = yargs(argv)
    .scriptName("kubectl vol")
    .usage(
      "Point-in-time copies of volumes: snapshot, clone and restore PersistentVolumeClaims.\n\nUsage:\n  kubectl vol <verb> [options]",
    )
    .options(yargsOptions(GLOBAL_FLAGS))
    .strict()
    .help("help")
    .alias("help", "h")
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 110))
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
      (b) => verbHelp(v, b),
      (args) => chosen(v, args as Args),
    );
  }
  return y
    .demandCommand(1, `a verb is required: one of ${VERBS.map((v) => v.name).join(", ")}`)
    .example("kubectl vol snapshot db-data --wait", "Snapshot a claim and wait until the snapshot is ready")
    .example("kubectl vol tree db-data", "Show what was made from a claim");
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
  try {
    let picked: { v: Verb; args: Args } | undefined;
    await parser(argv, (v, args) => {
      picked = { v, args };
    }).parseAsync();
    if (!picked) return EXIT_OK; // help was shown
    const { v, args } = picked;
    const global = globalFlags(args, v.name);
    const options = v.options(args, global);
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
