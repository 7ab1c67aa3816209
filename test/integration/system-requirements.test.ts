// The system requirements (scripts/ensure-system.sh, one definition for setup.sh, `npm test` and
// `npm run demo`): a missing tool is one line that names the exact command to run, never a
// stack trace, and `npm run demo` / `npm test` stop on it before building or starting anything.
import { execFile } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../src/localcluster/assets.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, uid?: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, cwd: repoRoot, timeout: 60_000, uid, gid: uid }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

const script = path.join(repoRoot, "scripts/ensure-system.sh");
let tmp: string;
/** A PATH folder with every command of this machine but `without`. */
function pathWithout(without: string): string {
  const dir = path.join(tmp, `without-${without}`);
  mkdirSync(dir, { mode: 0o755 });
  const seen = new Set<string>([without]);
  for (const d of ["/usr/local/go/bin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) {
      if (seen.has(f)) continue;
      seen.add(f);
      symlinkSync(path.join(d, f), path.join(dir, f));
    }
  }
  return dir;
}
let noBtrfs: string;
let noGo: string;

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), "kubectl-vol-system-"));
  chmodSync(tmp, 0o755); // the non-root case runs as nobody
  noBtrfs = pathWithout("mkfs.btrfs");
  noGo = pathWithout("go");
}, 60_000);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("the system requirements", () => {
  it("are met on this machine: nothing printed, exit 0", async () => {
    const r = await run("/bin/bash", [script], process.env);
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  it("a missing tool, not root: one line with the sudo apt-get command, exit 1", async () => {
    const r = await run("/bin/bash", [script], { PATH: noBtrfs }, 65534);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "[system] missing mkfs.btrfs: run `sudo apt-get install -y --no-install-recommends btrfs-progs` (or `bash scripts/setup.sh` as root), then try again\n",
    );
  });

  it("as root with installing turned off, the same line without sudo", async () => {
    const r = await run("/bin/bash", [script], { PATH: noBtrfs, KUBECTL_VOL_NO_INSTALL: "1" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "[system] missing mkfs.btrfs: run `apt-get install -y --no-install-recommends btrfs-progs` (or `bash scripts/setup.sh` as root), then try again\n",
    );
  });

  it("no Go (and no prebuilt parts): one line saying where to get it; prebuilt parts need none", async () => {
    const r = await run("/bin/bash", [script], { PATH: noGo });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "[system] missing go: install Go 1.26 from https://go.dev/dl/ (it builds the upstream Kubernetes parts), or set KUBECTL_VOL_ASSETS to a folder of prebuilt binaries\n",
    );
    expect((await run("/bin/bash", [script], { PATH: noGo, KUBECTL_VOL_ASSETS: tmp })).code).toBe(0);
  });

  it("npm run demo and npm test stop on it with that one line, before building anything", async () => {
    const env = { PATH: noBtrfs, KUBECTL_VOL_NO_INSTALL: "1", HOME: tmp };
    for (const entry of ["scripts/demo.ts", "scripts/test.ts"]) {
      const r = await run(process.execPath, [path.join(repoRoot, entry)], env);
      expect(r.code, entry).toBe(1);
      expect(r.stderr, entry).toBe(
        "[system] missing mkfs.btrfs: run `apt-get install -y --no-install-recommends btrfs-progs` (or `bash scripts/setup.sh` as root), then try again\n",
      );
      expect(r.stdout, entry).not.toMatch(/\bat .*\.ts:\d+/);
    }
  });

  it("have one definition: setup.sh installs through ensure-system.sh, not a list of its own", () => {
    const setup = readFileSync(path.join(repoRoot, "scripts/setup.sh"), "utf8");
    expect(setup).toMatch(/bash scripts\/ensure-system\.sh/);
    expect(setup).not.toMatch(/apt-get|btrfs-progs/);
  });
});
