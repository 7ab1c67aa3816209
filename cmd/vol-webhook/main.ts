#!/usr/bin/env -S node --max-semi-space-size=2
// Entry of the admission webhook server; everything else is in src/webhook. The flag on the
// first line is WEBHOOK_NODE_FLAGS (src/webhook/config.ts), for a direct ./main.ts start.
// `vol-webhook bootstrap-certs ...` is the self-signed certificate bootstrap (init container).
import { runBootstrapCli } from "../../src/webhook/bootstrap.ts";
import { main } from "../../src/webhook/main.ts";

const [first, ...rest] = process.argv.slice(2);
process.exitCode =
  first === "bootstrap-certs" ? await runBootstrapCli(rest) : await main(process.argv.slice(2));
