// Loads the half of the plugin that talks to the API server (and the Kubernetes client library
// with it) only when a verb needs it, so help, usage errors and completion start fast. The
// bundle build swaps this file for load-core.bundled.ts.
import type { Core } from "./cluster.ts";

export async function loadCore(): Promise<Core> {
  return (await import("./core.ts")).core;
}
