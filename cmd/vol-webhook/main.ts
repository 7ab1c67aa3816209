#!/usr/bin/env -S node --max-semi-space-size=2
// Entry of the admission webhook server; everything else is in src/webhook. The flag on the
// first line is WEBHOOK_NODE_FLAGS (src/webhook/config.ts), for a direct ./main.ts start (the
// executable gets it from NODE_OPTIONS, as the manifests set). Run directly, or as a part of
// the executable (cmd/multicall/main.ts calls `run`).
// `vol-webhook bootstrap-certs ...` is the self-signed certificate bootstrap (init container).
import { runBootstrapCli } from "../../src/webhook/bootstrap.ts";
import { main } from "../../src/webhook/main.ts";

export function run(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  return first === "bootstrap-certs" ? runBootstrapCli(rest) : main(args);
}

if (import.meta.main) {
  run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
