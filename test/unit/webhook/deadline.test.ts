import { describe, expect, it } from "vitest";
import {
  budgetMs,
  parseGoDuration,
  requestDeadline,
  requestTimeoutMs,
  within,
} from "../../../src/webhook/deadline.ts";

describe("the request's deadline", () => {
  it("reads Go durations as the API server writes them", () => {
    expect(parseGoDuration("5s")).toBe(5000);
    expect(parseGoDuration("1m30s")).toBe(90_000);
    expect(parseGoDuration("500ms")).toBe(500);
    expect(parseGoDuration("1.5s")).toBe(1500);
    for (const bad of ["", "5", "s", "5x", "-1s", "5s "]) expect(parseGoDuration(bad)).toBeUndefined();
  });

  it("takes the timeout from the URL's query, else 10 s", () => {
    expect(requestTimeoutMs("/validate?timeout=5s")).toBe(5000);
    expect(requestTimeoutMs("/mutate?x=1&timeout=2s")).toBe(2000);
    expect(requestTimeoutMs("/validate")).toBe(10_000);
    expect(requestTimeoutMs("/validate?timeout=soon")).toBe(10_000);
    expect(requestTimeoutMs("/validate?timeout=0s")).toBe(10_000);
  });

  it("leaves a margin: a fifth, between 100 ms and 1 s", () => {
    expect(budgetMs(10_000)).toBe(9000);
    expect(budgetMs(5000)).toBe(4000);
    expect(budgetMs(1000)).toBe(800);
    expect(budgetMs(300)).toBe(200);
  });

  it("gives up on a promise when the signal aborts, and passes its value or error otherwise", async () => {
    const never = new Promise<number>(() => undefined);
    expect(await within(never, AbortSignal.timeout(20))).toBeUndefined();
    expect(await within(Promise.resolve(7), AbortSignal.timeout(1000))).toBe(7);
    await expect(within(Promise.reject(new Error("x")), AbortSignal.timeout(1000))).rejects.toThrow("x");
  });

  it("aborts a request's signal when its budget is spent, and at once when the request is answered", async () => {
    const late = requestDeadline(150); // budget 50 ms
    expect(late.signal.aborted).toBe(false);
    await new Promise((r) => setTimeout(r, 120));
    expect(late.signal.aborted).toBe(true);
    expect((late.signal.reason as DOMException).name).toBe("TimeoutError");
    const answered = requestDeadline(10_000);
    answered.release();
    expect(answered.signal.aborted).toBe(true);
    expect((answered.signal.reason as Error).message).toBe("the request was answered");
  });
});
