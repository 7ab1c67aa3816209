// Argument checks shared by the controller and node services. Each throws a CsiError with the
// code the CSI spec names (INVALID_ARGUMENT, OUT_OF_RANGE) and says which field is wrong.
import { ACCESS_MODES, READ_ONLY_MODES } from "./capabilities.ts";
import { invalid, outOfRange } from "./errors.ts";
import { BIND_FLAGS } from "./mounts.ts";
import type { Message } from "./rpc.ts";
import type { AccessType } from "./store.ts";

export const GiB = 2 ** 30;
/** Sizes are whole filesystem blocks. */
export const SIZE_STEP = 4096;
export const DEFAULT_SIZE = GiB;

export interface CheckedCapability {
  accessType: AccessType;
  mode: string;
  readOnlyMode: boolean;
  flags: string[];
}

/** Checks one VolumeCapability; `field` names it in messages. */
export function checkCapability(cap: Message | null | undefined, field: string): CheckedCapability {
  if (!cap) throw invalid(`${field} is required`);
  const accessType: AccessType | undefined = cap.block ? "block" : cap.mount ? "mount" : undefined;
  if (!accessType) throw invalid(`${field} has no access type (mount or block)`);
  const mode: string = cap.access_mode?.mode ?? "UNKNOWN";
  if (mode === "UNKNOWN") throw invalid(`${field} has no access mode`);
  if (!ACCESS_MODES.has(mode)) {
    throw invalid(
      `${field}: access mode ${mode} is not supported; a node-local volume supports ${[...ACCESS_MODES].join(", ")}`,
    );
  }
  const flags: string[] = accessType === "mount" ? [...(cap.mount?.mount_flags ?? [])] : [];
  for (const f of flags) {
    if (!BIND_FLAGS.has(f)) {
      throw invalid(
        `${field}: mount flag ${JSON.stringify(f)} is not supported for bind mounts (supported: ${[...BIND_FLAGS].join(", ")})`,
      );
    }
  }
  if (accessType === "mount" && cap.mount?.volume_mount_group) {
    throw invalid(`${field}: volume_mount_group is not supported`);
  }
  return { accessType, mode, readOnlyMode: READ_ONLY_MODES.has(mode), flags };
}

/** Checks a list of capabilities (at least one); all must ask for the same access type. */
export function checkCapabilities(caps: Message[] | null | undefined, field: string): CheckedCapability[] {
  if (!caps || caps.length === 0) throw invalid(`${field} is required`);
  const out = caps.map((c, i) => checkCapability(c, `${field}[${i}]`));
  if (new Set(out.map((c) => c.accessType)).size > 1) throw invalid(`${field} mixes mount and block access`);
  return out;
}

/** Parses an int64 field (a decimal string from proto-loader) into a safe number. */
export function int64(v: unknown, field: string): number {
  if (v === undefined || v === null || v === "") return 0;
  const big = BigInt(String(v));
  if (big < 0n) throw invalid(`${field} is negative`);
  if (big > BigInt(Number.MAX_SAFE_INTEGER))
    throw outOfRange(`${field} ${big} is larger than this driver supports`);
  return Number(big);
}

export interface Range {
  required: number;
  limit: number;
}

export function checkRange(range: Message | null | undefined, field = "capacity_range"): Range {
  const required = int64(range?.required_bytes, `${field}.required_bytes`);
  const limit = int64(range?.limit_bytes, `${field}.limit_bytes`);
  if (limit > 0 && required > limit)
    throw invalid(`${field}.required_bytes ${required} exceeds limit_bytes ${limit}`);
  return { required, limit };
}

/** The size to give a new volume for `range` (whole blocks, at least `atLeast`). */
export function sizeFor(range: Range, atLeast = 0): number {
  const up = (n: number) => Math.ceil(n / SIZE_STEP) * SIZE_STEP;
  let size = up(Math.max(range.required, atLeast));
  if (size === 0) size = range.limit > 0 ? Math.min(DEFAULT_SIZE, range.limit) : DEFAULT_SIZE;
  if (range.limit > 0 && size > range.limit) {
    size = Math.floor(range.limit / SIZE_STEP) * SIZE_STEP;
    if (size < Math.max(range.required, atLeast) || size === 0) {
      throw outOfRange(
        atLeast > range.required
          ? `limit_bytes ${range.limit} is smaller than the source (${atLeast} bytes)`
          : `no size in whole ${SIZE_STEP}-byte blocks lies between required_bytes ${range.required} and limit_bytes ${range.limit}`,
      );
    }
  }
  return size;
}

export function fits(size: number, range: Range): boolean {
  return size >= range.required && (range.limit === 0 || size <= range.limit);
}

/** A map<string,string> field as a plain object. */
export function stringMap(m: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (m && typeof m === "object") for (const [k, v] of Object.entries(m)) out[k] = String(v);
  return out;
}

export function sameMap(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/** Checks an absolute host path given by the CO (target or volume path). */
export function checkHostPath(p: unknown, field: string): string {
  if (typeof p !== "string" || p === "") throw invalid(`${field} is required`);
  if (p.includes("\0")) throw invalid(`${field} contains a NUL`);
  if (!p.startsWith("/")) throw invalid(`${field} ${JSON.stringify(p)} is not an absolute path`);
  if (p.split("/").includes("..")) throw invalid(`${field} ${JSON.stringify(p)} contains ".."`);
  if (p.length > 4096) throw invalid(`${field} is longer than 4096 bytes`);
  return p.length > 1 ? p.replace(/\/+$/, "") : p;
}
