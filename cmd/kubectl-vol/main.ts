#!/usr/bin/env node
// kubectl-vol: the `kubectl vol` plugin. Thin: signals to a cancellation, argv to src/plugin.
import os from "node:os";
import path from "node:path";
import { main } from "../../src/plugin/cli.ts";

const ac = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (ac.signal.aborted) process.exit(128 + os.constants.signals[sig]);
    ac.abort(sig); // the reason names the signal: the exit code is 128 + its number
  });
}
// Run as (a link named) kubectl_complete-vol, it is kubectl's completion entry for the plugin:
// kubectl passes the words typed so far, cobra's __complete takes them.
const asCompleter = /^kubectl_complete-vol(\.exe)?$/.test(path.basename(process.argv0));
const args = process.argv.slice(2);
main(asCompleter ? ["__complete", ...args] : args, {
  out: process.stdout,
  err: process.stderr,
  signal: ac.signal,
}).then((code) => {
  process.exitCode = code;
});
