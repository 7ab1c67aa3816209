#!/usr/bin/env node
// vol-controller: runs SnapshotSchedules (thin entry; see src/controller/). Run directly, or as
// a part of the executable (cmd/multicall/main.ts calls `run`).
import { main } from "../../src/controller/main.ts";

export const run = main;

if (import.meta.main) {
  run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
