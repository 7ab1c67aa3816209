// The bundle's loadCore (scripts/build.ts puts it in place of load-core.ts): the core is a
// second CommonJS bundle, embedded as an asset of the single executable (with a V8 code cache
// made at build time by the same node binary), or a file next to the main bundle when that runs
// under node. It needs only Node's built-in modules.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";
import type { Core } from "./cluster.ts";

export const CORE_ASSET = "kubectl-vol-core.cjs";
export const CORE_CACHE_ASSET = "kubectl-vol-core.cache";

/** The core as a function of CommonJS's five arguments; the build compiles the same text. */
export function coreScript(code: string, filename: string, cachedData?: Buffer): vm.Script {
  return new vm.Script(`(function (exports, require, module, __filename, __dirname) {${code}\n})`, {
    filename,
    ...(cachedData ? { cachedData } : {}),
  });
}

function coreSource(): { code: string; filename: string; cache?: Buffer } {
  // node:sea exists in every Node that can build the executable; isSea() is false under node.
  const sea = require("node:sea") as typeof import("node:sea");
  if (sea.isSea()) {
    let cache: Buffer | undefined;
    try {
      cache = Buffer.from(sea.getRawAsset(CORE_CACHE_ASSET) as ArrayBuffer);
    } catch {
      cache = undefined; // built without a cache: compile from source
    }
    return {
      code: sea.getAsset(CORE_ASSET, "utf8"),
      filename: path.join(path.dirname(process.execPath), CORE_ASSET),
      cache,
    };
  }
  const filename = path.join(__dirname, CORE_ASSET);
  const cacheFile = path.join(__dirname, CORE_CACHE_ASSET);
  return {
    code: readFileSync(filename, "utf8"),
    filename,
    cache: existsSync(cacheFile) ? readFileSync(cacheFile) : undefined,
  };
}

export async function loadCore(): Promise<Core> {
  const t0 = performance.now();
  const { code, filename, cache } = coreSource();
  const script = coreScript(code, filename, cache);
  const wrapper = script.runInThisContext() as (
    e: object,
    r: NodeJS.Require,
    m: { exports: object },
    f: string,
    d: string,
  ) => void;
  const mod = { exports: {} as { core?: Core } };
  wrapper(mod.exports, require, mod, filename, path.dirname(filename));
  if (process.env.KUBECTL_VOL_DEBUG_CORE) {
    const how = !cache
      ? "no code cache"
      : script.cachedDataRejected
        ? "code cache rejected"
        : "code cache used";
    process.stderr.write(`core loaded in ${(performance.now() - t0).toFixed(1)} ms (${how})\n`);
  }
  if (!mod.exports.core) throw new Error(`${CORE_ASSET} does not export the plugin core`);
  return mod.exports.core;
}
