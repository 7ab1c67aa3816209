#!/usr/bin/env node
// vol-controller: runs SnapshotSchedules (thin entry; see src/controller/).
import { main } from "../../src/controller/main.ts";

process.exitCode = await main(process.argv.slice(2));
