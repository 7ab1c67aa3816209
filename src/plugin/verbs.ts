// Every verb and the global flags, declared once: yargs, help and completion read them here.
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
