#!/usr/bin/env node
// kubectl-vol: the `kubectl vol` plugin. Thin: signals to a cancellation, argv to src/plugin.
// Run directly (`npx node cmd/kubectl-vol/main.ts`), or as a part of the executable
// (cmd/multicall/main.ts calls `run`; as kubectl_complete-vol it passes "__complete" first).
import os from "node:os";
import { main } from "../../src/plugin/cli.ts";

export function run(args: string[]): Promise<number> {
  const ac = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      if (ac.signal.aborted) process.exit(128 + os.constants.signals[sig]);
      ac.abort(sig); // the reason names the signal: the exit code is 128 + its number
    });
  }
  return main(args, { out: process.stdout, err: process.stderr, signal: ac.signal });
}

if (import.meta.main) {
  run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
