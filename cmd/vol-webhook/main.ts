#!/usr/bin/env node
// Entry of the admission webhook server; everything else is in src/webhook.
import { main } from "../../src/webhook/main.ts";

process.exitCode = await main(process.argv.slice(2));
