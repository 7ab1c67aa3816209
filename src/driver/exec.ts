// The one function through which the driver runs external commands (btrfs, cp, xfs_quota,
// losetup, mount, ...). No shell: the argument vector goes to execve as is, so a name can never
// become shell syntax. Every call has a timeout; a failure is an ExecError that names the
// command, its exit code or signal and the end of its stderr. Tests replace or wrap it.
import { execFile } from "node:child_process";
import type { Exec } from "./backends/backend.ts";

export type { Exec };

/** Default time limit of one command; long copies pass their own. */
export const DEFAULT_TIMEOUT_MS = 120_000;

export class ExecError extends Error {
  readonly cmd: string;
  readonly args: string[];
  /** Exit status, or null when the command was killed by a signal or never started. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  /** The errno code when the command could not be started (ENOENT: not installed). */
  readonly errno: string | undefined;
  constructor(init: {
    cmd: string;
    args: string[];
    exitCode: number | null;
    signal: string | null;
    stdout: string;
    stderr: string;
    timedOut: boolean;
    errno?: string | undefined;
    note?: string | undefined;
    timeoutMs: number;
  }) {
    const line = [init.cmd, ...init.args].map(quote).join(" ");
    const why = init.timedOut
      ? `timed out after ${init.timeoutMs} ms`
      : init.errno
        ? `could not start (${init.errno}${init.errno === "ENOENT" ? `: is ${init.cmd} installed?` : ""})`
        : init.signal
          ? `was killed by ${init.signal}`
          : `exited with code ${init.exitCode}`;
    const err = init.stderr.trim().split("\n").slice(-5).join("\n").slice(-2000);
    super(`command ${line} ${why}${err ? `: ${err}` : ""}`);
    this.name = "ExecError";
    this.cmd = init.cmd;
    this.args = init.args;
    this.exitCode = init.exitCode;
    this.signal = init.signal;
    this.stdout = init.stdout;
    this.stderr = init.stderr;
    this.timedOut = init.timedOut;
    this.errno = init.errno;
  }
}

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface ExecOptions {
  /** Time limit for calls that give none (ms); 0 means none. */
  defaultTimeoutMs?: number;
  /** Called after every command (for debug logging and for tests that record calls). */
  onDone?: (cmd: string, args: string[], ms: number, err: ExecError | undefined) => void;
}

/** Makes an Exec. The environment is the process's with a C locale, so output parses the same everywhere. */
export function makeExec(options: ExecOptions = {}): Exec {
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  return (cmd, args, opts = {}) => {
    const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const child = execFile(
        cmd,
        args,
        {
          encoding: "utf8",
          maxBuffer: 64 * 2 ** 20,
          timeout: timeoutMs,
          killSignal: "SIGKILL",
          env: { ...process.env, LC_ALL: "C", LANG: "C" },
        },
        (error, stdout, stderr) => {
          const ms = performance.now() - t0;
          if (!error) {
            options.onDone?.(cmd, args, ms, undefined);
            resolve({ stdout, stderr });
            return;
          }
          const e = error as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null };
          // A string code is an errno from spawn (ENOENT: not installed) unless Node made it up.
          const started = typeof e.code !== "string" || e.code.startsWith("ERR_");
          const failure = new ExecError({
            cmd,
            args,
            exitCode: started && typeof e.code === "number" ? e.code : null,
            signal: e.signal ?? null,
            stdout: stdout ?? "",
            stderr: stderr ?? "",
            timedOut: Boolean(e.killed) && timeoutMs > 0 && ms >= timeoutMs,
            errno: started ? undefined : (e.code as string),
            note: typeof e.code === "string" && e.code.startsWith("ERR_") ? e.message : undefined,
            timeoutMs,
          });
          options.onDone?.(cmd, args, ms, failure);
          reject(failure);
        },
      );
      if (opts.input !== undefined) child.stdin?.end(opts.input);
      else child.stdin?.end();
    });
  };
}

/** The process-wide Exec with default options. */
export const exec: Exec = makeExec();
