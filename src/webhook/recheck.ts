// Confirming a denial made from the caches without running the rules twice: the reads the
// rules made are recorded, then made again from the API itself, all at once; when every answer
// is the object (or list) the cache gave, at the same resourceVersion, the denial stands as it
// is. Only when something changed are the rules run again, over the answers already read.
import type { Lookup } from "../rules/index.ts";

type Method = keyof Lookup;

interface Call {
  method: Method;
  args: string[];
  result: unknown;
}

const METHODS: Method[] = [
  "pvc",
  "storageClass",
  "storageClasses",
  "volumeSnapshot",
  "volumeSnapshotContent",
  "volumeSnapshotClasses",
  "referenceGrants",
  "populatorKinds",
  "persistentVolume",
  "pvcs",
  "volumeGroupSnapshotClasses",
];

type AnyRead = (...args: string[]) => Promise<unknown>;

function wrap(
  inner: Lookup,
  around: (method: Method, args: string[], read: AnyRead) => Promise<unknown>,
): Lookup {
  const out: Record<string, AnyRead> = {};
  for (const method of METHODS) {
    const read = inner[method] as AnyRead | undefined;
    if (read) out[method] = (...args: string[]) => around(method, args, read.bind(inner));
  }
  return out as unknown as Lookup;
}

/** A Lookup that records every read and its answer. */
export function recording(inner: Lookup): { lookup: Lookup; calls: Call[] } {
  const calls: Call[] = [];
  const lookup = wrap(inner, async (method, args, read) => {
    const result = await read(...args);
    calls.push({ method, args, result });
    return result;
  });
  return { lookup, calls };
}

/** A Lookup that reads each (method, arguments) once and answers repeats from memory. */
export function memoized(inner: Lookup): Lookup {
  const seen = new Map<string, Promise<unknown>>();
  return wrap(inner, (method, args, read) => {
    const key = `${method}\u0000${args.join("\u0000")}`;
    let p = seen.get(key);
    if (!p) {
      p = read(...args);
      seen.set(key, p);
    }
    return p;
  });
}

/** What identifies an answer's version: objects by name and resourceVersion, lists as sets of those. */
function fingerprint(v: unknown): string {
  if (v === undefined || v === null) return "-";
  if (Array.isArray(v)) return `[${v.map(fingerprint).sort().join(",")}]`;
  const meta = (v as { metadata?: { namespace?: string; name?: string; resourceVersion?: string } }).metadata;
  if (meta?.resourceVersion) return `${meta.namespace ?? ""}/${meta.name ?? ""}@${meta.resourceVersion}`;
  return JSON.stringify(v);
}

/**
 * Makes every recorded read again through `direct` (at once) and tells whether each answer is
 * what was recorded. Throws when a read fails.
 */
export async function unchanged(calls: Call[], direct: Lookup): Promise<boolean> {
  const same = await Promise.all(
    calls.map(async (c) => {
      const read = direct[c.method] as AnyRead | undefined;
      if (!read) return true;
      return fingerprint(await read.apply(direct, c.args)) === fingerprint(c.result);
    }),
  );
  return same.every(Boolean);
}
