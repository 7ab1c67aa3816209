#!/usr/bin/env node
// vol-csi: the CSI driver (thin entry; see src/driver/).
import { runDriverCli } from "../../src/driver/cli.ts";

process.exitCode = await runDriverCli(process.argv.slice(2));
