// The plugin's failures and the one place that turns them into a message and an exit code:
// 0 done, 1 the operation failed, 2 the command line was wrong (with "See 'kubectl vol X -h'"),
// 128 + the signal's number when a signal stopped it (130 for Ctrl-C).
import { constants } from "node:os";

/** The command line is wrong: exit 2, with a pointer to the verb's help. */
export class UsageError extends Error {
  /** The verb whose help to point at ("" for the top level). */
  verb: string;
  constructor(message: string, verb = "") {
    super(message);
    this.name = "UsageError";
    this.verb = verb;
  }
}

/** The operation failed for a reason the user can act on: exit 1, message only. */
export class OperationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OperationError";
  }
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
/** Interrupted by Ctrl-C: 128 + SIGINT. */
export const EXIT_INTERRUPTED = 130;

/** The exit code after a signal (the abort reason names it): 128 + its number; 130 by default. */
export function interruptedCode(reason: unknown): number {
  const signals = constants.signals as Record<string, number | undefined>;
  const n = typeof reason === "string" ? signals[reason] : undefined;
  return n ? 128 + n : EXIT_INTERRUPTED;
}

/** The text to print for an error and the exit code it maps to. Pure. */
export function describeError(err: unknown): { text: string; code: number } {
  if (err instanceof UsageError) {
    const help = err.verb ? `kubectl vol ${err.verb} -h` : "kubectl vol -h";
    return { text: `error: ${err.message}\nSee '${help}' for help and examples.`, code: EXIT_USAGE };
  }
  if (err instanceof OperationError) return { text: `error: ${err.message}`, code: EXIT_FAILED };
  const message = err instanceof Error ? err.message : String(err);
  return { text: `error: ${message}`, code: EXIT_FAILED };
}
