// One JSON object per line, one line per event, on stdout.
export type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  enabled(level: Level): boolean;
}

export function isLevel(s: string): s is Level {
  return s in ORDER;
}

export function makeLogger(
  level: Level = "info",
  write: (line: string) => void = (l) => process.stdout.write(l),
): Logger {
  const min = ORDER[level];
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < min) return;
    let line: string;
    try {
      line = JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...fields });
    } catch {
      line = JSON.stringify({
        time: new Date().toISOString(),
        level: lvl,
        msg,
        note: "fields not serialisable",
      });
    }
    write(`${line}\n`);
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    enabled: (l) => ORDER[l] >= min,
  };
}

/** A deep copy of a request with every value of a `secrets` map replaced, for logging. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (/secret/i.test(k) && v && typeof v === "object") {
      out[k] = Object.fromEntries(Object.keys(v).map((key) => [key, "***"]));
    } else if (/secret|password/i.test(k) && typeof v === "string") {
      out[k] = "***";
    } else {
      out[k] = redact(v, depth + 1);
    }
  }
  return out;
}
