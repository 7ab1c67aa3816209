// Shell completion through kubectl's plugin completion protocol: kubectl runs
// `kubectl_complete-vol __complete <words...>` (the last word is the one being completed) and
// expects candidates one per line ("value<TAB>description"), then ":<directive>" as cobra
// prints it (4 = do not fall back to file names).
import type { Core, GlobalFlags } from "./cluster.ts";
import type { Completes, FlagSpec } from "./verb.ts";
import { findVerb, flagByWord, flagsOf, VERBS } from "./verbs.ts";

export const NO_FILE_COMP = 4;

export interface Plan {
  /** The word being completed (candidates must start with it). */
  prefix: string;
  /** Prepended to every candidate (for --flag=value). */
  lead: string;
  /** Fixed candidates with their descriptions. */
  values: [string, string][];
  /** Names to read from the cluster. */
  names?: Exclude<Completes, readonly string[]>;
}

function valuesFor(c: Completes | undefined, prefix: string, lead = ""): Plan {
  if (c === undefined) return { prefix, lead, values: [] };
  if (typeof c === "string") return { prefix, lead, values: [], names: c };
  return { prefix, lead, values: c.map((v) => [v, ""]) };
}

/** What to complete for these words. Pure. */
export function plan(words: string[]): Plan {
  const cur = words[words.length - 1] ?? "";
  const before = words.slice(0, -1);
  let verb: string | undefined;
  let positionals = 0;
  let pendingFlag: FlagSpec | undefined;
  for (const w of before) {
    if (pendingFlag) {
      pendingFlag = undefined;
      continue;
    }
    if (w.startsWith("-")) {
      const f = w.includes("=") ? undefined : flagByWord(w, flagsOf(verb));
      if (f && f[1].type === "string" && f[1].bare === undefined) pendingFlag = f[1];
      continue;
    }
    if (verb === undefined) verb = w;
    else positionals++;
  }
  const flags = flagsOf(verb);
  if (pendingFlag) return valuesFor(pendingFlag.completes, cur);
  if (cur.startsWith("--") && cur.includes("=")) {
    const eq = cur.indexOf("=");
    const f = flags[cur.slice(2, eq)];
    return valuesFor(f?.completes, cur.slice(eq + 1), cur.slice(0, eq + 1));
  }
  if (cur.startsWith("-")) {
    return {
      prefix: cur,
      lead: "",
      values: Object.entries(flags).map(([name, f]) => [`--${name}`, f.describe.split(/[.(]/)[0]!.trim()]),
    };
  }
  if (verb === undefined) return { prefix: cur, lead: "", values: VERBS.map((v) => [v.name, v.summary]) };
  const v = findVerb(verb);
  if (v?.positional && positionals === 0) return valuesFor(v.positional.completes, cur);
  return { prefix: cur, lead: "", values: [] };
}

/** -n, --context, --kubeconfig as they appear among the words, for reading names. */
export function globalsFromWords(words: string[]): GlobalFlags {
  const g: GlobalFlags = { requestTimeoutMs: 5000 };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const [flag, inline] =
      w.startsWith("--") && w.includes("=")
        ? [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)]
        : [w, undefined];
    const value = inline ?? words[i + 1];
    if (value === undefined) continue;
    if (flag === "-n" || flag === "--namespace") g.namespace = value;
    else if (flag === "--context") g.context = value;
    else if (flag === "--kubeconfig") g.kubeconfig = value;
  }
  return g;
}

/** The whole answer to `__complete`, ending with the directive line. */
export async function complete(words: string[], loadCore: () => Promise<Core>): Promise<string> {
  const p = plan(words);
  let values = p.values;
  if (p.names) {
    try {
      const core = await loadCore();
      const g = globalsFromWords(words.slice(0, -1));
      const names =
        p.names === "contexts"
          ? core.contexts(g)
          : await (await core.connect(g, new AbortController().signal)).names(p.names);
      values = names.map((n) => [n, ""]);
    } catch {
      values = [];
    }
  }
  const lines = values
    .filter(([v]) => v.startsWith(p.prefix))
    .map(([v, d]) => (d ? `${p.lead}${v}\t${d}` : `${p.lead}${v}`));
  return `${[...lines, `:${NO_FILE_COMP}`].join("\n")}\n`;
}
