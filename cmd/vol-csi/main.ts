#!/usr/bin/env node
// vol-csi: the CSI driver (thin entry; see src/driver/). Run directly, or as a part of the
// executable (cmd/multicall/main.ts calls `run`).
import { runDriverCli } from "../../src/driver/cli.ts";

export const run = runDriverCli;

if (import.meta.main) {
  run(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
