// Every verb and the global flags, declared once: the command line reader (cli.ts), help and
// completion read them here.
import { clone } from "./clone.ts";
import { list } from "./list.ts";
import { restore } from "./restore.ts";
import { schedule } from "./schedule.ts";
import { snapshot } from "./snapshot.ts";
import { tree } from "./tree.ts";
import type { FlagSpec, Verb } from "./verb.ts";

export const VERBS = [snapshot, clone, restore, list, tree, schedule] as Verb[];

/** kubectl's global flags. */
export const GLOBAL_FLAGS: Record<string, FlagSpec> = {
  namespace: {
    alias: "n",
    type: "string",
    describe: "The namespace to work in (default: the context's)",
    completes: "namespaces",
  },
  context: { type: "string", describe: "The name of the kubeconfig context to use", completes: "contexts" },
  kubeconfig: { type: "string", describe: "Path to the kubeconfig file to use" },
  "request-timeout": {
    type: "string",
    default: "0",
    describe: "How long to wait for one API request before giving up (e.g. 1s, 2m; 0: no limit)",
  },
};

export function findVerb(name: string | undefined): Verb | undefined {
  return VERBS.find((v) => v.name === name);
}

/** The flags a verb takes: the global ones and its own. */
export function flagsOf(verbName: string | undefined): Record<string, FlagSpec> {
  return { ...GLOBAL_FLAGS, ...(findVerb(verbName)?.flags ?? {}) };
}

/** The flag a word such as `--name` or `-n` names, if `flags` has it. */
export function flagByWord(word: string, flags: Record<string, FlagSpec>): [string, FlagSpec] | undefined {
  if (word.startsWith("--")) {
    const name = word.slice(2);
    return Object.hasOwn(flags, name) ? [name, flags[name] as FlagSpec] : undefined;
  }
  if (/^-[A-Za-z]$/.test(word)) return Object.entries(flags).find(([, f]) => f.alias === word.slice(1));
  return undefined;
}
