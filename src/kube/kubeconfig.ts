// The kubeconfig as kubectl loads it (client-go's clientcmd loading rules): --kubeconfig alone
// when given (it must exist); else every file $KUBECONFIG lists (deduplicated, missing ones
// skipped), else ~/.kube/config. Files are merged: for clusters, users and contexts the first
// file that defines a name wins (the whole entry); current-context comes from the first file
// that sets it; relative paths are resolved against the file that holds them.
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { load } from "js-yaml";

export interface NamedCluster {
  name: string;
  cluster: Record<string, unknown>;
}
export interface NamedUser {
  name: string;
  user: Record<string, unknown>;
}
export interface NamedContext {
  name: string;
  context: { cluster?: string; user?: string; namespace?: string };
}

export interface Kubeconfig {
  apiVersion?: string;
  kind?: string;
  "current-context"?: string;
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: NamedContext[];
  preferences?: Record<string, unknown>;
}

export interface LoadedKubeconfig {
  config: Kubeconfig;
  /** The files that were read, in precedence order. */
  files: string[];
  /** The files that were named but do not exist. */
  missing: string[];
}

/** The files kubectl would read, in precedence order (an explicit one alone). */
export function kubeconfigFiles(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  home = os.homedir(),
): string[] {
  if (explicit) return [explicit];
  if (env.KUBECONFIG !== undefined && env.KUBECONFIG !== "") {
    return [...new Set(env.KUBECONFIG.split(path.delimiter).filter((f) => f !== ""))];
  }
  return [path.join(home, ".kube", "config")];
}

const PATH_FIELDS = {
  cluster: ["certificate-authority"],
  user: ["client-certificate", "client-key", "tokenFile"],
} as const;

/** Relative file references of one file's entries, made absolute against its folder. */
function resolvePaths(cfg: Kubeconfig, dir: string): Kubeconfig {
  const abs = (v: unknown) =>
    typeof v === "string" && v !== "" && !path.isAbsolute(v) ? path.resolve(dir, v) : v;
  const fix = <T extends Record<string, unknown>>(o: T, fields: readonly string[]): T => {
    const out: Record<string, unknown> = { ...o };
    for (const f of fields) if (f in out) out[f] = abs(out[f]);
    return out as T;
  };
  return {
    ...cfg,
    clusters: cfg.clusters?.map((c) => ({ ...c, cluster: fix(c.cluster ?? {}, PATH_FIELDS.cluster) })),
    users: cfg.users?.map((u) => {
      const user = fix(u.user ?? {}, PATH_FIELDS.user);
      // An exec plugin named by a relative path with a separator is relative to the file too.
      const exec = user.exec as { command?: string } | undefined;
      if (exec?.command?.includes("/") && !path.isAbsolute(exec.command)) {
        user.exec = { ...exec, command: path.resolve(dir, exec.command) };
      }
      return { ...u, user };
    }),
  };
}

function firstByName<T extends { name: string }>(lists: (T[] | undefined)[]): T[] {
  const seen = new Map<string, T>();
  for (const list of lists) {
    for (const e of list ?? []) if (e && typeof e.name === "string" && !seen.has(e.name)) seen.set(e.name, e);
  }
  return [...seen.values()];
}

/** Merges parsed files in precedence order, as client-go does. Pure. */
export function mergeKubeconfigs(configs: Kubeconfig[]): Kubeconfig {
  const current = configs.map((c) => c["current-context"]).find((c) => typeof c === "string" && c !== "");
  return {
    apiVersion: "v1",
    kind: "Config",
    ...(current ? { "current-context": current } : {}),
    clusters: firstByName(configs.map((c) => c.clusters)),
    users: firstByName(configs.map((c) => c.users)),
    contexts: firstByName(configs.map((c) => c.contexts)),
  };
}

function parseFile(file: string): Kubeconfig | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let doc: unknown;
  try {
    doc = load(text);
  } catch (err) {
    throw new Error(`error loading config file "${file}": ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc !== undefined && doc !== null && typeof doc !== "object") {
    throw new Error(`error loading config file "${file}": not a kubeconfig`);
  }
  return resolvePaths((doc ?? {}) as Kubeconfig, path.dirname(path.resolve(file)));
}

/**
 * Reads and merges the kubeconfig files kubectl would use. An explicit file that is missing
 * throws (ENOENT); missing files from $KUBECONFIG or the default location are skipped.
 */
export function loadKubeconfig(explicit?: string, env: NodeJS.ProcessEnv = process.env): LoadedKubeconfig {
  const files: string[] = [];
  const missing: string[] = [];
  const configs: Kubeconfig[] = [];
  for (const f of kubeconfigFiles(explicit, env)) {
    const cfg = parseFile(f);
    if (!cfg) {
      if (explicit)
        throw Object.assign(new Error(`ENOENT: no such file or directory, open '${f}'`), { code: "ENOENT" });
      missing.push(f);
      continue;
    }
    files.push(f);
    configs.push(cfg);
  }
  return { config: mergeKubeconfigs(configs), files, missing };
}

/** True when nothing was loaded at all (no file, or only empty ones). */
export function isEmptyKubeconfig(cfg: Kubeconfig): boolean {
  return !cfg.clusters?.length && !cfg.users?.length && !cfg.contexts?.length && !cfg["current-context"];
}
