// Loads one of the CommonJS bundles `npm run build` makes (dist/bundles/<name>.cjs): an asset of
// the single executable, with the V8 code cache made for it at build time by the same node
// binary (<name>.cache), or, under plain node, the file of that name in `dir` (the folder of the
// running bundle). Needs only Node's built-in modules, so it runs before anything else is loaded.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";

export const BUNDLE_DIR = "bundles";
export const bundleFile = (name: string) => `${name}.cjs`;
export const cacheFile = (name: string) => `${name}.cache`;
/** The full Kubernetes client, apart from the plugin's core (kube-client.ts). */
export const CLIENT_BUNDLE = "kubectl-vol-client";

type Wrapper = (e: object, r: NodeJS.Require, m: { exports: object }, f: string, d: string) => void;

/** A bundle as a function of CommonJS's five arguments; the build compiles the same text. */
export function bundleScript(code: string, filename: string, cachedData?: Buffer): vm.Script {
  // An entry's "#!" line (kept by the bundler) is valid only at the very start of a file.
  const body = code.startsWith("#!") ? code.slice(code.indexOf("\n")) : code;
  return new vm.Script(`(function (exports, require, module, __filename, __dirname) {${body}\n})`, {
    filename,
    ...(cachedData ? { cachedData } : {}),
  });
}

/** Runs a compiled bundle's top level; returns its exports. */
export function evaluate<T>(script: vm.Script, req: NodeJS.Require, filename: string, dirname: string): T {
  const mod = { exports: {} };
  (script.runInThisContext() as Wrapper)(mod.exports, req, mod, filename, dirname);
  return mod.exports as T;
}

function source(
  name: string,
  dir: string,
): { code: string; filename: string; dirname: string; cache?: Buffer } {
  // node:sea exists in every Node that can build the executable; isSea() is false under node.
  const sea = require("node:sea") as typeof import("node:sea");
  if (sea.isSea()) {
    let cache: Buffer | undefined;
    try {
      cache = Buffer.from(sea.getRawAsset(cacheFile(name)) as ArrayBuffer);
    } catch {
      cache = undefined; // built without a cache: compile from source
    }
    // Files beside the executable (csi.proto) are found through __dirname.
    const dirname = path.dirname(process.execPath);
    return {
      code: sea.getAsset(bundleFile(name), "utf8"),
      filename: path.join(dirname, bundleFile(name)),
      dirname,
      cache,
    };
  }
  const filename = path.join(dir, bundleFile(name));
  const cachePath = path.join(dir, cacheFile(name));
  return {
    code: readFileSync(filename, "utf8"),
    filename,
    dirname: dir,
    cache: existsSync(cachePath) ? readFileSync(cachePath) : undefined,
  };
}

/** Loads bundle `name` with `req` as its require (the caller's: built-in modules suffice). */
export function loadBundle<T>(name: string, dir: string, req: NodeJS.Require): T {
  const debug = Boolean(process.env.KUBECTL_VOL_DEBUG_BUNDLES);
  const t0 = debug ? performance.now() : 0; // the performance global loads perf_hooks
  const { code, filename, dirname, cache } = source(name, dir);
  const script = bundleScript(code, filename, cache);
  const exports = evaluate<T>(script, req, filename, dirname);
  if (debug) {
    const how = !cache
      ? "no code cache"
      : script.cachedDataRejected
        ? "code cache rejected"
        : "code cache used";
    process.stderr.write(`${name} loaded in ${(performance.now() - t0).toFixed(1)} ms (${how})\n`);
  }
  return exports;
}
