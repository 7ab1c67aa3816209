#!/usr/bin/env -S node --max-semi-space-size=2
// Entry of the admission webhook server; everything else is in src/webhook. The flag on the
// first line is WEBHOOK_NODE_FLAGS (src/webhook/runtime.ts), for a direct ./main.ts start (the
// executable gets it from NODE_OPTIONS, as the manifests set). Run directly, or as a part of
// the executable (cmd/multicall/main.ts calls `run`).
// `vol-webhook bootstrap-certs ...` is the self-signed certificate bootstrap (init container).
// The bootstrap needs the full Kubernetes client; the server does not, so it is loaded only for
// the bootstrap (some 25 MiB less heap for every webhook replica, bench/results/webhook.md).
import { main } from "../../src/webhook/main.ts";

export async function run(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  if (first !== "bootstrap-certs") return main(args);
  const { runBootstrapCli } = await import("../../src/webhook/bootstrap.ts");
  return runBootstrapCli(rest);
}

if (import.meta.main) {
  run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
