// Kubernetes resource quantities ("10Gi", "500M", "1.5e3", "100m"), as far as storage sizes need
// them: exact parsing to whole bytes (a fraction rounds up, as Quantity.Value() does) and
// comparison. Pure.

const BINARY: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d{1,3}))?$/;

/**
 * The number of bytes a quantity stands for, rounded up to a whole byte; `undefined` when the
 * text is not a valid quantity. Numbers (as VolumeSnapshotContent's restoreSize is) are taken as bytes.
 */
export function parseQuantity(q: string | number | undefined | null): bigint | undefined {
  if (q === undefined || q === null) return undefined;
  if (typeof q === "number") {
    if (!Number.isFinite(q)) return undefined;
    return BigInt(Math.ceil(q));
  }
  if (typeof q !== "string" || q.length > 64) return undefined;
  if (PARSED.has(q)) return PARSED.get(q);
  const bytes = parseText(q);
  // Bounded: the webhook parses the same few sizes on every request, but must not grow without end.
  if (PARSED.size >= 1024) PARSED.clear();
  PARSED.set(q, bytes);
  return bytes;
}

/** Parsed quantities by their text (bigints are immutable, so answers can be shared). */
const PARSED = new Map<string, bigint | undefined>();

function parseText(q: string): bigint | undefined {
  const m = QUANTITY.exec(q.trim());
  if (!m) return undefined;
  const [, sign, num = "", suffix = "", exp] = m;
  const [whole = "", frac = ""] = num.split(".");
  // value = digits * 10^(pow10) * mult
  let digits = BigInt(`${whole || "0"}${frac}`);
  let pow10 = -frac.length;
  let mult = 1n;
  if (exp !== undefined) pow10 += Number(exp);
  else if (suffix in BINARY) mult = BINARY[suffix] as bigint;
  else pow10 += DECIMAL[suffix] ?? 0;
  digits *= mult;
  let bytes: bigint;
  if (pow10 >= 0) bytes = digits * 10n ** BigInt(pow10);
  else {
    const div = 10n ** BigInt(-pow10);
    bytes = digits / div + (digits % div === 0n ? 0n : 1n);
  }
  return sign === "-" ? -bytes : bytes;
}

/** Compares two quantities by their byte value (-1, 0, 1); `undefined` when either is invalid. */
export function compareQuantities(
  a: string | number | undefined,
  b: string | number | undefined,
): -1 | 0 | 1 | undefined {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  if (x === undefined || y === undefined) return undefined;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** A byte count as the shortest exact quantity ("10Gi", "1500M", "123"). */
export function formatBytes(bytes: bigint): string {
  if (bytes === 0n) return "0";
  for (const unit of ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"] as const) {
    const m = BINARY[unit] as bigint;
    if (bytes % m === 0n) return `${bytes / m}${unit}`;
  }
  for (const [unit, p] of [
    ["E", 18],
    ["P", 15],
    ["T", 12],
    ["G", 9],
    ["M", 6],
    ["k", 3],
  ] as const) {
    const m = 10n ** BigInt(p);
    if (bytes % m === 0n) return `${bytes / m}${unit}`;
  }
  return String(bytes);
}
