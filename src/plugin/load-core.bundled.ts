// The bundle's loadCore (scripts/build.ts puts it in place of load-core.ts): the core is a
// second CommonJS bundle, embedded as an asset of the single executable, or a file next to
// the main bundle when that runs under node. It needs only Node's built-in modules.
import { readFileSync } from "node:fs";
import path from "node:path";
import vm from "node:vm";
import type { Core } from "./cluster.ts";

export const CORE_ASSET = "kubectl-vol-core.cjs";

function coreSource(): { code: string; filename: string } {
  // node:sea exists in every Node that can build the executable; isSea() is false under node.
  const sea = require("node:sea") as typeof import("node:sea");
  if (sea.isSea())
    return {
      code: sea.getAsset(CORE_ASSET, "utf8"),
      filename: path.join(path.dirname(process.execPath), CORE_ASSET),
    };
  const filename = path.join(__dirname, CORE_ASSET);
  return { code: readFileSync(filename, "utf8"), filename };
}

export async function loadCore(): Promise<Core> {
  const { code, filename } = coreSource();
  const wrapper = vm.runInThisContext(
    `(function (exports, require, module, __filename, __dirname) {${code}\n})`,
    {
      filename,
    },
  ) as (e: object, r: NodeJS.Require, m: { exports: object }, f: string, d: string) => void;
  const mod = { exports: {} as { core?: Core } };
  wrapper(mod.exports, require, mod, filename, path.dirname(filename));
  if (!mod.exports.core) throw new Error(`${CORE_ASSET} does not export the plugin core`);
  return mod.exports.core;
}
