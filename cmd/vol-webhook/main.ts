#!/usr/bin/env -S node --max-semi-space-size=2
// Entry of the admission webhook server; everything else is in src/webhook. The flag on the
// first line is WEBHOOK_NODE_FLAGS (src/webhook/config.ts), for a direct ./main.ts start.
import { main } from "../../src/webhook/main.ts";

process.exitCode = await main(process.argv.slice(2));
