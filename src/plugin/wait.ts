// --wait: polls the created object until it is ready (every 100 ms at first, see pollDelayMs) (a snapshot readyToUse, a claim Bound),
// showing each state change. On a terminal a spinner line is redrawn in place (colour unless
// NO_COLOR); otherwise one plain line per state change. On timeout, failure or Ctrl-C it stops
// with the reason from the object's status and its recent events.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { sleep } from "../kube/sleep.ts";
import type { VolumeSnapshot } from "../rules/types.ts";
import type { EventLine } from "./cluster.ts";
import { OperationError } from "./errors.ts";

export interface State {
  done: boolean;
  /** A state that will not get better by waiting. */
  failed?: boolean;
  text: string;
}

export function snapshotState(s: VolumeSnapshot | undefined): State {
  if (!s) return { done: false, failed: true, text: "deleted" };
  if (s.metadata.deletionTimestamp) return { done: false, failed: true, text: "being deleted" };
  const st = s.status;
  if (st?.readyToUse === true) {
    return { done: true, text: `ready to use${st.restoreSize ? ` (restoreSize ${st.restoreSize})` : ""}` };
  }
  if (st?.error?.message) return { done: false, text: `not ready: ${st.error.message}` };
  if (st?.boundVolumeSnapshotContentName) {
    return { done: false, text: `not ready: content ${st.boundVolumeSnapshotContentName} is being cut` };
  }
  return { done: false, text: "not ready: waiting for the snapshot controller" };
}

export function claimState(c: V1PersistentVolumeClaim | undefined): State {
  if (!c) return { done: false, failed: true, text: "deleted" };
  if (c.metadata?.deletionTimestamp) return { done: false, failed: true, text: "being deleted" };
  const phase = c.status?.phase ?? "Pending";
  if (phase === "Bound") {
    const cap = c.status?.capacity?.storage;
    return { done: true, text: `Bound to ${c.spec?.volumeName ?? "a volume"}${cap ? ` (${cap})` : ""}` };
  }
  if (phase === "Lost") return { done: false, failed: true, text: "Lost: its volume is gone" };
  return { done: false, text: `${phase}: waiting for a volume to be provisioned` };
}

/** Events as `kubectl describe` shows them, most recent last; only the last `max`. */
export function formatEvents(events: EventLine[], max = 5): string {
  if (events.length === 0) return "no events";
  const lines = events
    .slice(-max)
    .map((e) => `  ${e.type}  ${e.reason}  ${e.message}${e.count > 1 ? ` (x${e.count})` : ""}`);
  return `events:\n${lines.join("\n")}`;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** The spinner line of a terminal. Pure. */
export function spinnerLine(frame: number, label: string, text: string, elapsedMs: number): string {
  return `${FRAMES[frame % FRAMES.length]} ${label}: ${text} (${Math.floor(elapsedMs / 1000)}s)`;
}

export interface Sink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface Reporter {
  state(text: string): void;
  end(): void;
}

/** One line per state change; on a TTY also a redrawn spinner line. */
export function reporter(sink: Sink, label: string, env: NodeJS.ProcessEnv = process.env): Reporter {
  const t0 = Date.now();
  if (!sink.isTTY) {
    return { state: (text) => sink.write(`${label}: ${text}\n`), end: () => {} };
  }
  const color = !env.NO_COLOR && env.TERM !== "dumb";
  const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s);
  let current = "";
  let frame = 0;
  const draw = () => sink.write(`\r\x1b[K${dim(spinnerLine(frame++, label, current, Date.now() - t0))}`);
  const timer = setInterval(draw, 100);
  timer.unref();
  return {
    state: (text) => {
      sink.write(`\r\x1b[K${label}: ${text}\n`);
      current = text;
      draw();
    },
    end: () => {
      clearInterval(timer);
      sink.write("\r\x1b[K");
    },
  };
}

export interface WaitSpec {
  /** kubectl-style `kind/name`. */
  label: string;
  /** "ready to use", "Bound" */
  goal: string;
  read(): Promise<State>;
  events(): Promise<EventLine[]>;
  timeoutMs: number;
  signal: AbortSignal;
  sink: Sink;
  /** A fixed interval between reads (tests); default pollDelayMs. */
  intervalMs?: number;
}

/**
 * How long to wait before the next read, `elapsedMs` into the wait: 100 ms for the first 10 s
 * (a snapshot or restore is usually ready within a second or two, and a 500 ms poll added a
 * quarter of a second on average to each, see bench/results/e2e.md), then 500 ms. Ten small GETs
 * a second for a few seconds are nothing to an API server.
 */
export function pollDelayMs(elapsedMs: number): number {
  return elapsedMs < 10_000 ? 100 : 500;
}

export async function waitFor(w: WaitSpec): Promise<void> {
  const rep = reporter(w.sink, w.label);
  const started = Date.now();
  const deadline = started + w.timeoutMs;
  let last = "";
  let state: State | undefined;
  try {
    while (!w.signal.aborted) {
      state = await w.read();
      if (state.text !== last) {
        rep.state(state.text);
        last = state.text;
      }
      if (state.done) return;
      if (state.failed || Date.now() >= deadline) break;
      const next = w.intervalMs ?? pollDelayMs(Date.now() - started);
      await sleep(Math.min(next, Math.max(0, deadline - Date.now())), w.signal);
    }
  } catch (err) {
    if (!w.signal.aborted) throw err;
  } finally {
    rep.end();
  }
  const why = w.signal.aborted
    ? `interrupted while waiting for ${w.label} to be ${w.goal}; it was created and is left as it is`
    : state?.failed
      ? `${w.label} is ${state.text}; it will not become ${w.goal}`
      : `timed out after ${formatMs(w.timeoutMs)} waiting for ${w.label} to be ${w.goal}`;
  const events = w.signal.aborted
    ? ""
    : `\n${await w.events().then(formatEvents, (e: Error) => `events unavailable: ${e.message}`)}`;
  throw new OperationError(`${why}\nlast state: ${last || "unknown"}${events}`);
}

export function formatMs(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
