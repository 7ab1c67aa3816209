// Errors a CSI RPC answers with. A handler throws CsiError with the gRPC code the spec names;
// anything else becomes INTERNAL (or RESOURCE_EXHAUSTED for a full filesystem) with a one-line
// message. Stack traces stay in the log, never go to the client.
import { status } from "@grpc/grpc-js";

export const Code = status;
export type Code = status;

export class CsiError extends Error {
  readonly code: status;
  constructor(code: status, message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = "CsiError";
    this.code = code;
  }
}

export const invalid = (msg: string): CsiError => new CsiError(status.INVALID_ARGUMENT, msg);
export const notFound = (msg: string): CsiError => new CsiError(status.NOT_FOUND, msg);
export const alreadyExists = (msg: string): CsiError => new CsiError(status.ALREADY_EXISTS, msg);
export const outOfRange = (msg: string): CsiError => new CsiError(status.OUT_OF_RANGE, msg);
export const precondition = (msg: string): CsiError => new CsiError(status.FAILED_PRECONDITION, msg);
export const aborted = (msg: string): CsiError => new CsiError(status.ABORTED, msg);
export const unimplemented = (msg: string): CsiError => new CsiError(status.UNIMPLEMENTED, msg);

const FULL = new Set(["ENOSPC", "EDQUOT"]);

function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const stderr = (e as { stderr?: unknown }).stderr;
    if (typeof stderr === "string" && /No space left on device|Disk quota exceeded/.test(stderr))
      return "ENOSPC";
  }
  return undefined;
}

/** The gRPC code and client-facing message for any thrown value. */
export function toStatus(err: unknown): { code: status; details: string; internal: boolean } {
  if (err instanceof CsiError) return { code: err.code, details: err.message, internal: false };
  const msg = err instanceof Error ? err.message : String(err);
  const firstLine = msg.split("\n").slice(0, 3).join(" ").slice(0, 1000);
  const errno = errnoOf(err);
  if (errno && FULL.has(errno)) {
    return { code: status.RESOURCE_EXHAUSTED, details: `out of space: ${firstLine}`, internal: false };
  }
  // Worth trying again as it is (a reflink source that kept changing during every pass).
  if (errno === "EAGAIN") return { code: status.UNAVAILABLE, details: firstLine, internal: false };
  return { code: status.INTERNAL, details: `internal error: ${firstLine}`, internal: true };
}
