// Help in kubectl's layout (description, examples, options, usage), rendered from the same
// declarations the command line reader (cli.ts) and completion read. Pure; printing help loads
// nothing else.
import type { FlagSpec, Verb } from "./verb.ts";
import { GLOBAL_FLAGS, VERBS } from "./verbs.ts";

const ROOT_EXAMPLES: [string, string][] = [
  ["kubectl vol snapshot db-data --wait", "Snapshot a claim and wait until the snapshot is ready to use"],
  [
    "kubectl vol restore db-data-20261123-115900 --name db-data-restored",
    "Restore that snapshot into a new claim",
  ],
  ["kubectl vol tree db-data", "Show what was made from a claim"],
];

function examples(list: [string, string][]): string {
  return list.map(([cmd, what]) => `  # ${what}\n  ${cmd}`).join("\n\n");
}

function flag(name: string, f: FlagSpec): string {
  const names = f.alias ? `-${f.alias}, --${name}` : `--${name}`;
  const value = f.type === "boolean" ? `=${f.default ?? false}` : `='${f.default ?? ""}'`;
  return `    ${names}${value}:\n\t${f.describe}`;
}

function flags(list: Record<string, FlagSpec>): string {
  return Object.entries(list)
    .map(([name, f]) => flag(name, f))
    .join("\n\n");
}

export function verbHelp(v: Verb): string {
  return `${v.summary}.

Examples:
${examples(v.examples)}

Options:
${flags(v.flags)}

Global options:
${flags(GLOBAL_FLAGS)}

Usage:
  ${v.usage}
`;
}

export function rootHelp(): string {
  const width = Math.max(...VERBS.map((v) => v.name.length)) + 3;
  return `kubectl vol makes point-in-time copies of volumes: snapshot, clone and restore
PersistentVolumeClaims, and show where each came from.

Verbs:
${VERBS.map((v) => `  ${v.name.padEnd(width)}${v.summary}`).join("\n")}

Examples:
${examples(ROOT_EXAMPLES)}

Global options:
${flags(GLOBAL_FLAGS)}

Usage:
  kubectl vol <verb> [options]

Use "kubectl vol <verb> --help" for more information about a verb.
`;
}
