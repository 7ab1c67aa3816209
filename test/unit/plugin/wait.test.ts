import { describe, expect, it } from "vitest";
import { OperationError } from "../../../src/plugin/errors.ts";
import {
  claimState,
  formatEvents,
  pollDelayMs,
  reporter,
  type State,
  snapshotState,
  spinnerLine,
  waitFor,
} from "../../../src/plugin/wait.ts";

const sink = (isTTY = false) => {
  const chunks: string[] = [];
  return { chunks, isTTY, write: (s: string) => chunks.push(s) };
};

describe("states", () => {
  it("reads a snapshot's progress from its status", () => {
    const s = (status?: object) => ({ metadata: { name: "s" }, spec: { source: {} }, status });
    expect(snapshotState(undefined)).toEqual({ done: false, failed: true, text: "deleted" });
    expect(snapshotState(s())).toEqual({
      done: false,
      text: "not ready: waiting for the snapshot controller",
    });
    expect(snapshotState(s({ boundVolumeSnapshotContentName: "c" })).text).toBe(
      "not ready: content c is being cut",
    );
    expect(snapshotState(s({ error: { message: "quota" } })).text).toBe("not ready: quota");
    expect(snapshotState(s({ readyToUse: true, restoreSize: "1Gi" }))).toEqual({
      done: true,
      text: "ready to use (restoreSize 1Gi)",
    });
    expect(snapshotState({ ...s(), metadata: { name: "s", deletionTimestamp: "x" } }).failed).toBe(true);
  });
  it("reads a claim's phase", () => {
    expect(claimState({ status: {} }).text).toBe("Pending: waiting for a volume to be provisioned");
    expect(
      claimState({ spec: { volumeName: "pv1" }, status: { phase: "Bound", capacity: { storage: "1Gi" } } }),
    ).toEqual({
      done: true,
      text: "Bound to pv1 (1Gi)",
    });
    expect(claimState({ status: { phase: "Lost" } })).toMatchObject({ failed: true });
  });
  it("formats the last events as kubectl describe does", () => {
    expect(formatEvents([])).toBe("no events");
    const ev = (i: number) => ({ type: "Warning", reason: `R${i}`, message: `m${i}`, count: i });
    expect(formatEvents([1, 2, 3, 4, 5, 6].map(ev)).split("\n")).toEqual([
      "events:",
      "  Warning  R2  m2 (x2)",
      "  Warning  R3  m3 (x3)",
      "  Warning  R4  m4 (x4)",
      "  Warning  R5  m5 (x5)",
      "  Warning  R6  m6 (x6)",
    ]);
  });
});

describe("progress", () => {
  it("prints one plain line per state change when not on a terminal", () => {
    const out = sink(false);
    const r = reporter(out, "pvc/c");
    r.state("Pending");
    r.end();
    expect(out.chunks).toEqual(["pvc/c: Pending\n"]);
  });
  it("redraws a spinner line on a terminal, without colour under NO_COLOR", () => {
    const out = sink(true);
    const r = reporter(out, "pvc/c", { NO_COLOR: "1" });
    r.state("Pending");
    r.end();
    const text = out.chunks.join("");
    expect(text).toContain("\r\x1b[Kpvc/c: Pending\n");
    expect(text).toContain("⠋ pvc/c: Pending (0s)");
    expect(text).not.toContain("\x1b[2m");
    expect(spinnerLine(11, "x", "y", 65_432)).toBe("⠙ x: y (65s)");
    const coloured = sink(true);
    const r2 = reporter(coloured, "pvc/c", {});
    r2.state("Pending");
    r2.end();
    expect(coloured.chunks.join("")).toContain("\x1b[2m");
  });
});

describe("how often --wait reads", () => {
  it("reads every 100 ms for the first 10 s (most snapshots and restores are ready within seconds), then every 500 ms", () => {
    expect(pollDelayMs(0)).toBe(100);
    expect(pollDelayMs(9_999)).toBe(100);
    expect(pollDelayMs(10_000)).toBe(500);
    expect(pollDelayMs(120_000)).toBe(500);
  });
});

describe("waitFor", () => {
  const spec = (states: State[], extra: Partial<Parameters<typeof waitFor>[0]> = {}) => {
    const out = sink(false);
    let i = 0;
    return {
      out,
      w: {
        label: "volumesnapshot/s",
        goal: "ready to use",
        read: async () => states[Math.min(i++, states.length - 1)]!,
        events: async () => [{ type: "Warning", reason: "Failed", message: "no driver", count: 1 }],
        timeoutMs: 5_000,
        signal: new AbortController().signal,
        sink: out,
        intervalMs: 1,
        ...extra,
      },
    };
  };
  it("returns when the object is ready, printing each change once", async () => {
    const { out, w } = spec([
      { done: false, text: "a" },
      { done: false, text: "a" },
      { done: false, text: "b" },
      { done: true, text: "ready" },
    ]);
    await waitFor(w);
    expect(out.chunks).toEqual([
      "volumesnapshot/s: a\n",
      "volumesnapshot/s: b\n",
      "volumesnapshot/s: ready\n",
    ]);
  });
  it("stops at once on a failed state, with the last state and the events", async () => {
    const { w } = spec([{ done: false, failed: true, text: "deleted" }]);
    const err = await waitFor(w).catch((e: Error) => e);
    expect(err).toBeInstanceOf(OperationError);
    expect((err as Error).message).toBe(
      "volumesnapshot/s is deleted; it will not become ready to use\nlast state: deleted\nevents:\n  Warning  Failed  no driver",
    );
  });
  it("times out", async () => {
    const { w } = spec([{ done: false, text: "pending" }], { timeoutMs: 30 });
    await expect(waitFor(w)).rejects.toThrow(
      /^timed out after 30ms waiting for volumesnapshot\/s to be ready to use\nlast state: pending/,
    );
  });
  it("stops when cancelled (Ctrl-C), saying the object was left as it is", async () => {
    const ac = new AbortController();
    const { w } = spec([{ done: false, text: "pending" }], { signal: ac.signal, intervalMs: 10_000 });
    setTimeout(() => ac.abort(), 20);
    await expect(waitFor(w)).rejects.toThrow(
      /^interrupted while waiting for volumesnapshot\/s .*left as it is\nlast state: pending$/,
    );
  });
});
