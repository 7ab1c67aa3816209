// The shape both of the leader's loops share (the schedules, the per-node classes): a pass runs
// at once, again on any event of its watches, and at the time the pass asks for; a burst of
// events settles into one pass. Each pass reads the world afresh, so a missed event costs only
// time.
import type { Connection } from "../kube/connection.ts";
import { errorMessage, type Logger } from "../kube/log.ts";
import { watchStream } from "../kube/rest.ts";
import { sleep } from "../kube/sleep.ts";

/** Keeps a watch open until `signal` aborts, calling `kick` on every event (reopens, backing off). */
export async function keepWatching(
  conn: Connection,
  path: string,
  kick: () => void,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  let delay = 1000;
  while (!signal.aborted) {
    try {
      await watchStream(conn, path, () => kick(), signal, 120_000);
      delay = 1000;
    } catch (err) {
      if (!signal.aborted) log.debug("watch ended, reopening", { path, error: errorMessage(err) });
      await sleep(delay, signal);
      delay = Math.min(30_000, delay * 2);
    }
  }
}

/**
 * Runs `pass` until `signal` aborts. `pass` returns when it wants the next one (ms since the
 * epoch); an event of `watches` brings it forward (during a pass: one more pass right after).
 */
export async function runPasses(
  o: { conn: Connection; log: Logger; watches: string[] },
  signal: AbortSignal,
  pass: () => Promise<number>,
): Promise<void> {
  let wake: (() => void) | undefined;
  let kicked = false;
  const kick = () => {
    kicked = true;
    wake?.();
  };
  const watches = o.watches.map((p) => keepWatching(o.conn, p, kick, signal, o.log));
  signal.addEventListener("abort", kick, { once: true });
  while (!signal.aborted) {
    kicked = false;
    const wakeAt = await pass();
    if (signal.aborted) break;
    if (!kicked)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(0, wakeAt - Date.now()));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    wake = undefined;
    // Let a burst of events settle into one pass.
    if (!signal.aborted) await sleep(100, signal);
  }
  await Promise.all(watches);
}
