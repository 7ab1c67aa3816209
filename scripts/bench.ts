// `npm run bench`: runs every bench/*.bench.ts in turn (or the ones named on the command line).
// Each benchmark writes bench/results/<name>.json (figures plus machine and versions) and
// bench/results/<name>.md (a readable summary); this prints the summaries at the end.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const dir = path.join(root, "bench");
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
if (files.length === 0) {
  console.error(`no benchmark matches ${wanted.join(" ") || "bench/*.bench.ts"}`);
  process.exit(2);
}
let failed = 0;
for (const f of files) {
  console.log(`\n== ${f}`);
  const r = spawnSync(process.execPath, [path.join(dir, f)], { stdio: "inherit", cwd: root });
  if (r.status !== 0) {
    failed++;
    console.error(`${f} failed with exit code ${r.status}`);
  }
}
for (const f of files) {
  const md = path.join(dir, "results", f.replace(/\.bench\.ts$/, ".md"));
  if (existsSync(md)) console.log(`\n${readFileSync(md, "utf8")}`);
}
process.exit(failed > 0 ? 1 : 0);
