// Pure helpers for the values the plugin reads and prints: Go-style durations (kubectl's
// --timeout, --request-timeout), ages, default object names. Quantities are the rules' (src/rules).

/**
 * Orders names (and kinds) by code unit, as kubectl sorts them. For Kubernetes names the order
 * is localeCompare's, without its ICU collator, whose first use costs a process 25-150 ms.
 */
export const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Milliseconds of a Go duration ("30s", "1m30s", "2h", "500ms") or a bare number of seconds
 * ("0" = no limit, as kubectl reads --request-timeout). Undefined when malformed.
 */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * DURATION_UNITS[m[2]!]!;
  return Math.round(total);
}

/** kubectl's AGE column: 45s, 5m10s, 3h20m, 4d5h, 400d. */
export function formatAge(from: Date | string | undefined, now: Date): string {
  if (from === undefined) return "<unknown>";
  const ms = now.getTime() - new Date(from).getTime();
  if (!Number.isFinite(ms)) return "<unknown>";
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  return `${d}d`;
}

/** UTC timestamp for default names: 20261123T115900Z → "20261123-115900". */
export function timestampSuffix(now: Date): string {
  const iso = now.toISOString(); // 2026-11-23T11:59:00.000Z
  return `${iso.slice(0, 10).replaceAll("-", "")}-${iso.slice(11, 19).replaceAll(":", "")}`;
}

const MAX_NAME = 253;

/** `<base>-<suffix>`, trimming the base so the name stays a valid object name. */
export function derivedName(base: string, ...suffix: string[]): string {
  const tail = suffix.length ? `-${suffix.join("-")}` : "";
  const room = MAX_NAME - tail.length;
  return `${base.slice(0, room).replace(/[-.]+$/, "")}${tail}`;
}

/** Why `name` is not a valid DNS-1123 subdomain (the rule for PVC and snapshot names), or undefined. */
export function invalidName(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > MAX_NAME) return `must be no more than ${MAX_NAME} characters`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name)) {
    return "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}
