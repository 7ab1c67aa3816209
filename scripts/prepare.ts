// What `npm test` and `npm run demo` do first, so that after `npm ci` nothing else is needed:
// the system requirements (scripts/ensure-system.sh: as root it installs missing apt packages,
// otherwise it prints one line naming the command to run), then the upstream parts
// (scripts/bins.sh: a cold build prints which part, n of m, the expected time and a heartbeat).
// A failure ends the process with exit code 1 after the script's own one-line message.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const scripts = import.meta.dirname;
// By absolute path, so a PATH without the system's tools still finds the shell that says so.
const bash = existsSync("/bin/bash") ? "/bin/bash" : "bash";

/** Ensures the system tools and (unless `parts` is false) the upstream parts; exits 1 if it cannot. */
export function prepare(opts: { parts?: boolean } = {}): void {
  const system = spawnSync(bash, [path.join(scripts, "ensure-system.sh")], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (system.status !== 0) process.exit(1);
  if (opts.parts === false) return;
  const t0 = Date.now();
  const bins = spawnSync(bash, [path.join(scripts, "bins.sh")], { stdio: ["ignore", "ignore", "inherit"] });
  if (bins.status !== 0) {
    console.error("the upstream parts could not be built (see the [bins] line above)");
    process.exit(1);
  }
  const secs = (Date.now() - t0) / 1000;
  if (secs > 5) console.error(`[bins] upstream parts ready in ${secs.toFixed(0)} s`);
}
