// The built plugin for the integration tests: scripts/build.ts's bundle + executable steps into
// the project's cache (~/.cache/kubectl-vol/plugin-build/<hash of the sources>, or under
// $KUBECTL_VOL_CACHE), so one test run (and the next, when nothing changed) builds it once. A
// new build removes the older ones.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { bundle, executable, root } from "../../scripts/build.ts";

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? files(p) : [p];
  });
}

function sourceHash(): string {
  const h = createHash("sha256");
  const inputs = [
    ...files(path.join(root, "src")),
    ...files(path.join(root, "cmd")),
    path.join(root, "scripts/build.ts"),
    path.join(root, "package-lock.json"),
  ].sort();
  for (const f of inputs) h.update(f).update(readFileSync(f));
  return h.digest("hex").slice(0, 16);
}

const CACHE = path.join(
  process.env.KUBECTL_VOL_CACHE ?? path.join(os.homedir(), ".cache/kubectl-vol"),
  "plugin-build",
);

/** The folder holding kubectl-vol and kubectl_complete-vol, built if needed. */
export async function builtPlugin(): Promise<string> {
  mkdirSync(CACHE, { recursive: true });
  const dir = path.join(CACHE, sourceHash());
  if (existsSync(path.join(dir, "kubectl-vol"))) return dir;
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    await bundle(tmp);
    await executable(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  if (existsSync(path.join(dir, "kubectl-vol"))) {
    rmSync(tmp, { recursive: true, force: true }); // another worker won the race
  } else {
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  }
  for (const old of readdirSync(CACHE)) {
    const p = path.join(CACHE, old);
    if (p !== dir && !old.endsWith(".tmp") && statSync(p).mtimeMs < statSync(dir).mtimeMs) {
      rmSync(p, { recursive: true, force: true });
    }
  }
  return dir;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (bounded), never throwing for a non-zero exit. */
export function runCommand(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<Result> {
  return new Promise((resolve) => {
    execFile(bin, args, { env, timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
