// The one function through which the driver runs external commands (btrfs, cp, xfs_quota,
// losetup, mount, ...). No shell: the argument vector goes to execve as is, so a name can never
// become shell syntax. Every call has a timeout; a failure is an ExecError that names the
// command, its exit code or signal and the end of its stderr. Tests replace or wrap it.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
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
  /**
   * Kill a command when this process dies (default true, through util-linux `setpriv
   * --pdeathsig KILL` where it is installed), so a copy started by a driver that gets SIGKILL
   * does not go on writing while the restarted driver clears its half-made result.
   */
  dieWithParent?: boolean;
}

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));
const SETPRIV_NOEXEC = /^setpriv: failed to execute .*: (No such file or directory|Permission denied)\s*$/m;

/** Makes an Exec. The environment is the process's with a C locale, so output parses the same everywhere. */
export function makeExec(options: ExecOptions = {}): Exec {
  const defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const wrapper = options.dieWithParent === false ? undefined : SETPRIV;
  return (cmd, args, opts = {}) => {
    const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
    const t0 = performance.now();
    return new Promise((resolve, reject) => {
      const child = execFile(
        wrapper ?? cmd,
        wrapper ? ["--pdeathsig", "KILL", "--", cmd, ...args] : args,
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
          const e = error as Error & { code?: unknown; killed?: boolean; signal?: string | null };
          let code = e.code;
          // A string code is an errno from spawn (ENOENT: not installed) unless Node made it up;
          // through setpriv the same shows as exit code 127 and its message.
          const noexec = wrapper && code === 127 ? SETPRIV_NOEXEC.exec(stderr ?? "") : null;
          if (noexec) code = noexec[1] === "Permission denied" ? "EACCES" : "ENOENT";
          const nodeMade = typeof code === "string" && code.startsWith("ERR_");
          const failure = new ExecError({
            cmd,
            args,
            exitCode: typeof code === "number" ? code : null,
            signal: e.signal ?? null,
            stdout: stdout ?? "",
            stderr: stderr ?? "",
            timedOut: Boolean(e.killed) && timeoutMs > 0 && ms >= timeoutMs,
            errno: typeof code === "string" && !nodeMade ? code : undefined,
            note: nodeMade ? e.message : undefined,
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
