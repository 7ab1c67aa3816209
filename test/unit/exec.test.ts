// The one exec function: no shell, errors that name the command, timeouts, stdin, and commands
// that die with the process that started them.
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ExecError, exec, makeExec } from "../../src/driver/exec.ts";
import { waitUntil } from "../../src/localcluster/session.ts";

async function failure(p: Promise<unknown>): Promise<ExecError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExecError);
  return err as ExecError;
}

/** Pids of processes whose command line has `marker` as an argument. */
async function pidsWith(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "");
    if (cmdline.split("\0").includes(marker)) found.push(Number(name));
  }
  return found;
}

describe("exec", () => {
  it("returns stdout and stderr and passes arguments without a shell", async () => {
    const hostile = "$(touch /tmp/pwned); rm -rf / `id` 'x\" *";
    const r = await exec("printf", ["%s\\n", hostile]);
    expect(r.stdout).toBe(`${hostile}\n`);
    const e = await exec("sh", ["-c", "echo out; echo err >&2", "ignored"]);
    expect(e).toEqual({ stdout: "out\n", stderr: "err\n" });
  });

  it("feeds input to stdin", async () => {
    expect((await exec("cat", [], { input: "fed\n" })).stdout).toBe("fed\n");
  });

  it("fails with the command, its exit code and its stderr", async () => {
    const err = await failure(exec("sh", ["-c", "echo partial; echo 'it broke' >&2; exit 3"]));
    expect(err.exitCode).toBe(3);
    expect(err.stderr).toBe("it broke\n");
    expect(err.stdout).toBe("partial\n");
    expect(err.message).toMatch(/^command sh -c .* exited with code 3: it broke$/);
  });

  it("says when a command is not installed", async () => {
    const err = await failure(exec("no-such-command-vol", ["x"]));
    expect(err.errno).toBe("ENOENT");
    expect(err.exitCode).toBeNull();
    expect(err.message).toContain("is no-such-command-vol installed?");
    const direct = await failure(makeExec({ dieWithParent: false })("no-such-command-vol", []));
    expect(direct.errno).toBe("ENOENT");
  });

  it("kills a command that overruns its time limit", async () => {
    const t0 = Date.now();
    const err = await failure(exec("sleep", ["30"], { timeoutMs: 300 }));
    expect(err.timedOut).toBe(true);
    expect(err.signal).toBe("SIGKILL");
    expect(err.message).toContain("timed out after 300 ms");
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("reports every command to onDone", async () => {
    const seen: string[] = [];
    const run = makeExec({
      onDone: (cmd, args, _ms, err) => seen.push(`${cmd} ${args.join(" ")} ${err ? "failed" : "ok"}`),
    });
    await run("true", []);
    await run("false", []).catch(() => undefined);
    expect(seen).toEqual(["true  ok", "false  failed"]);
  });

  it("kills a running command when the process that started it dies", async () => {
    const marker = `3${Math.floor(Math.random() * 1e6)}`;
    const execTs = path.resolve(import.meta.dirname, "../../src/driver/exec.ts");
    const child = spawn(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { exec } from ${JSON.stringify(execTs)}; await exec("sleep", [${JSON.stringify(marker)}]);`,
      ],
      { stdio: "ignore" },
    );
    try {
      await waitUntil("the command to start", async () => (await pidsWith(marker)).length > 0, 10_000);
      child.kill("SIGKILL");
      await waitUntil(
        "the command to die with its parent",
        async () => (await pidsWith(marker)).length === 0,
        10_000,
      );
    } finally {
      child.kill("SIGKILL");
      for (const pid of await pidsWith(marker)) process.kill(pid, "SIGKILL");
    }
  });
});
