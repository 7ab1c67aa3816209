// Logging what a CSI call carried without its secrets.
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
