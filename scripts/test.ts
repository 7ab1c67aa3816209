// `npm test` after typecheck and lint: checks the system (installing what is missing, as root) and
// builds (or reuses) the upstream parts once (scripts/prepare.ts), runs every vitest file, and ends with one plain summary line: "tests: N passed, N failed, N skipped".
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { prepare } from "./prepare.ts";

const root = path.resolve(import.meta.dirname, "..");
prepare();

const tmp = mkdtempSync(path.join(os.tmpdir(), "kubectl-vol-test-report-"));
const report = path.join(tmp, "report.json");
const vitest = spawnSync(
  process.execPath,
  [
    path.join(root, "node_modules/vitest/vitest.mjs"),
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: "inherit", cwd: root },
);

let summary = "tests: no report was written (vitest crashed?)";
let failed = true;
try {
  const r = JSON.parse(readFileSync(report, "utf8")) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    numFailedTestSuites: number;
  };
  summary = `tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`;
  failed = r.numFailedTests > 0 || r.numFailedTestSuites > 0 || r.numPassedTests === 0;
} catch {
  // keep the default summary
}
rmSync(tmp, { recursive: true, force: true });
console.log(summary);
process.exit(vitest.status === 0 && !failed ? 0 : 1);
