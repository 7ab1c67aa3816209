// Structured logs for the driver and the webhook: one JSON object per line, one line per event,
// on stdout unless told otherwise.
export type Level = "debug" | "info" | "warn" | "error";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  enabled(level: Level): boolean;
}

export function isLevel(s: string): s is Level {
  return Object.hasOwn(RANK, s);
}

export function createLogger(
  opts: {
    /** The lowest level written (default info). */
    level?: Level;
    write?: (line: string) => void;
    /** Fields on every line, such as the component. */
    base?: Record<string, unknown>;
  } = {},
): Logger {
  const { level: min = "info", write = (l) => process.stdout.write(l), base = {} } = opts;
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (RANK[level] < RANK[min]) return;
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields });
    } catch {
      line = JSON.stringify({
        time: new Date().toISOString(),
        level,
        msg,
        ...base,
        fields: "(unserialisable)",
      });
    }
    write(`${line}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    enabled: (level) => RANK[level] >= RANK[min],
  };
}

/** A logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  enabled: () => false,
};

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
