// The machine and versions a benchmark ran on, recorded with every result.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

function versionsEnv(): Record<string, string> {
  const text = readFileSync(path.resolve(import.meta.dirname, "../scripts/versions.env"), "utf8");
  return Object.fromEntries(
    text
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

export function machine(): Record<string, unknown> {
  let kernel = os.release();
  try {
    kernel = execFileSync("uname", ["-sr"], { encoding: "utf8" }).trim();
  } catch {
    // keep os.release()
  }
  let virtualMachine = false;
  try {
    virtualMachine = /^flags\s*:.*\bhypervisor\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    // not Linux: unknown, say no
  }
  return {
    date: new Date().toISOString(),
    cpus: os.cpus().length,
    virtualMachine,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel,
    node: process.version,
    pinned: versionsEnv(),
  };
}

/** The machine of machine() in one line, for a summary. */
export function machineLine(m: Record<string, unknown>): string {
  const x = m as {
    date: string;
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    kernel: string;
    node: string;
  };
  return `${x.date}; ${x.cpus} × ${x.cpuModel}, ${x.memoryGiB} GiB, ${x.kernel}, Node ${x.node}`;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[mid] as number)
      : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}
