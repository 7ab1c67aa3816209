#!/usr/bin/env node
// kubectl-vol: the `kubectl vol` plugin. Thin: signals to a cancellation, argv to src/plugin.
import { main } from "../../src/plugin/cli.ts";

const ac = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort();
  });
}
main(process.argv.slice(2), { out: process.stdout, err: process.stderr, signal: ac.signal }).then((code) => {
  process.exitCode = code;
});
