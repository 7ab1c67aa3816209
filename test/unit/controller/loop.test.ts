// The passes both leader loops run on (src/controller/loop.ts), without watches: a pass runs at
// once, then at the time it asked for; an abort ends the loop, also mid-wait.
import { describe, expect, it } from "vitest";
import { runPasses } from "../../../src/controller/loop.ts";
import type { Connection } from "../../../src/kube/connection.ts";
import { createLogger } from "../../../src/kube/log.ts";

const o = { conn: {} as Connection, log: createLogger({ level: "error" }), watches: [] };

describe("runPasses", () => {
  it("runs a pass at once and each next one at the time the last asked for", async () => {
    const stop = new AbortController();
    const at: number[] = [];
    const start = Date.now();
    await runPasses(o, stop.signal, async () => {
      at.push(Date.now() - start);
      if (at.length === 3) stop.abort();
      return Date.now() + 150;
    });
    expect(at.length).toBe(3);
    expect(at[0]).toBeLessThan(100);
    // 150 ms asked for, plus the 100 ms a burst of events is given to settle.
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(240);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(240);
  });
  it("ends at once when aborted while waiting for a far pass", async () => {
    const stop = new AbortController();
    let passes = 0;
    const start = Date.now();
    const done = runPasses(o, stop.signal, async () => {
      passes++;
      return Date.now() + 60_000;
    });
    setTimeout(() => stop.abort(), 50);
    await done;
    expect(passes).toBe(1);
    expect(Date.now() - start).toBeLessThan(1000);
  });
});
