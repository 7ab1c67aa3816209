// `npm test` after typecheck and lint: builds (or reuses) the upstream parts once, runs every
// vitest file, and ends with one plain summary line: "tests: N passed, N failed, N skipped".
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const t0 = Date.now();
const bins = spawnSync("bash", [path.join(root, "scripts/bins.sh")], {
  stdio: ["ignore", "ignore", "inherit"],
});
if (bins.status !== 0) {
  console.error("tests: building the upstream parts failed (see above); no test was run");
  process.exit(1);
}
console.log(`upstream parts ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

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
