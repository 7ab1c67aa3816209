// The bundle's loadCore (scripts/build.ts puts it in place of load-core.ts): the core is its own
// CommonJS bundle (kubectl-vol-core), an asset of the single executable with a V8 code cache made
// at build time, or a file next to the plugin's bundle when that runs under node.
import { loadBundle } from "../exe/bundles.ts";
import type { Core } from "./cluster.ts";

export const CORE_BUNDLE = "kubectl-vol-core";

export async function loadCore(): Promise<Core> {
  const { core } = loadBundle<{ core?: Core }>(CORE_BUNDLE, __dirname, require);
  if (!core) throw new Error(`${CORE_BUNDLE} does not export the plugin core`);
  return core;
}
