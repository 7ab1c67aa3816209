// The deadline of one admission request. The API server gives up on a webhook after the
// configuration's timeoutSeconds and says so in the URL (`?timeout=5s`: the AdmissionReview has
// no such field); an answer after that is lost, so the webhook answers with what it knows a
// margin before it. Pure apart from the timer.

/** What the API server waits when the URL names no timeout (the most timeoutSeconds can be). */
export const DEFAULT_TIMEOUT_MS = 10_000;

const UNITS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  µs: 1e-3,
  ns: 1e-6,
};

/** A Go duration as the API server writes it (`5s`, `1m30s`, `500ms`) in milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(h|m|s|ms|us|µs|ns))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g)) {
    ms += Number(m[1]) * (UNITS[m[2] as string] as number);
  }
  return ms;
}

/** The API server's timeout for a request URL: its `timeout` query parameter, else the default. */
export function requestTimeoutMs(url: string | undefined): number {
  const q = (url ?? "").split("?")[1];
  const given = q ? new URLSearchParams(q).get("timeout") : null;
  const ms = given ? parseGoDuration(given) : undefined;
  return ms !== undefined && ms > 0 ? Math.min(ms, 30_000) : DEFAULT_TIMEOUT_MS;
}

/**
 * How long the webhook gives itself: the timeout less a margin for the answer's way back and the
 * API server's own clock (a fifth of it, between 100 ms and 1 s).
 */
export function budgetMs(timeoutMs: number): number {
  const margin = Math.min(1000, Math.max(100, timeoutMs / 5));
  return Math.max(1, timeoutMs - margin);
}

export interface Deadline {
  /** Aborts when the budget of the request is spent, or when the request is answered. */
  signal: AbortSignal;
  /** The request is answered: the timer goes at once and reads still running stop. */
  release(): void;
}

/** The reason of a deadline released after its answer (made once: no stack captured per request). */
const ANSWERED = Object.freeze(new Error("the request was answered"));

/**
 * A signal that aborts when the budget of a request with this timeout is spent. Unlike
 * AbortSignal.timeout, whose timer and signal live for the whole budget (seconds, so tens of
 * thousands at a few thousand requests a second, kept for the collector to trace), this one is
 * released with the answer.
 */
export function requestDeadline(timeoutMs: number): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException("the deadline has passed", "TimeoutError")),
    budgetMs(timeoutMs),
  );
  return {
    signal: controller.signal,
    release() {
      clearTimeout(timer);
      controller.abort(ANSWERED);
    },
  };
}

/** The value of `p`, or undefined when `signal` aborts first (its rejection, if any, is dropped then). */
export function within<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => undefined);
      resolve(undefined);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
