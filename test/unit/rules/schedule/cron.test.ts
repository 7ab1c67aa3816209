import { describe, expect, it } from "vitest";
import {
  CronError,
  cronNext,
  cronPrevious,
  parseCron,
  wallToInstant,
} from "../../../../src/rules/schedule/cron.ts";
import { dueSlot, timing } from "../../../../src/rules/schedule/slots.ts";

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

describe("parseCron", () => {
  it("reads numbers, ranges, lists, steps and names", () => {
    const c = parseCron("*/15 9-17/4 1,15 jan-mar mon-fri");
    expect([...c.minutes]).toEqual([0, 15, 30, 45]);
    expect([...c.hours]).toEqual([9, 13, 17]);
    expect([...c.days]).toEqual([1, 15]);
    expect([...c.months]).toEqual([1, 2, 3]);
    expect([...c.weekdays]).toEqual([1, 2, 3, 4, 5]);
    expect(c.daysRestricted).toBe(true);
    expect(c.weekdaysRestricted).toBe(true);
  });
  it("takes 7 as Sunday, a/n up to the end of the field, and macros", () => {
    expect([...parseCron("0 0 * * 7").weekdays]).toEqual([0]);
    expect([...parseCron("50/5 * * * *").minutes]).toEqual([50, 55]);
    expect([...parseCron("@daily").hours]).toEqual([0]);
    expect(parseCron("@hourly").hours.size).toBe(24);
  });
  it.each([
    ["0 3 * *", /has 4 fields/],
    ["60 * * * *", /minute 60 is out of range 0-59/],
    ["0 24 * * *", /hour 24 is out of range/],
    ["0 0 0 * *", /day of month 0 is out of range 1-31/],
    ["0 0 * 13 *", /month 13 is out of range/],
    ["*/0 * * * *", /step "0" of the minute must be a positive number/],
    ["5-1 * * * *", /goes backwards/],
    ["x * * * *", /"x" is not a valid minute/],
    ["1-2-3 * * * *", /not a valid minute range/],
    ["0 0 * * funday", /"funday" is not a valid day of week/],
  ])("refuses %s", (expr, message) => {
    expect(() => parseCron(expr)).toThrow(CronError);
    expect(() => parseCron(expr)).toThrow(message);
  });
});

describe("cron slots", () => {
  it("next and previous in UTC", () => {
    const c = parseCron("0 3 * * *");
    expect(iso(cronNext(c, "UTC", t("2026-12-01T02:59:00Z")))).toBe("2026-12-01T03:00:00.000Z");
    expect(iso(cronNext(c, "UTC", t("2026-12-01T03:00:00Z")))).toBe("2026-12-02T03:00:00.000Z");
    expect(iso(cronPrevious(c, "UTC", t("2026-12-01T03:00:00Z")))).toBe("2026-12-01T03:00:00.000Z");
    expect(iso(cronPrevious(c, "UTC", t("2026-12-01T02:59:59Z")))).toBe("2026-11-30T03:00:00.000Z");
  });
  it("follows the time zone, also across daylight saving time", () => {
    const c = parseCron("0 3 * * *");
    // Berlin is UTC+1 in winter and UTC+2 in summer.
    expect(iso(cronNext(c, "Europe/Berlin", t("2026-12-01T00:00:00Z")))).toBe("2026-12-01T02:00:00.000Z");
    expect(iso(cronNext(c, "Europe/Berlin", t("2026-07-01T00:00:00Z")))).toBe("2026-07-01T01:00:00.000Z");
    // The night of 2026-03-29 Berlin jumps from 02:00 to 03:00.
    expect(iso(cronNext(c, "Europe/Berlin", t("2026-03-28T12:00:00Z")))).toBe("2026-03-29T01:00:00.000Z");
  });
  it("a skipped wall time runs as far past the jump, a repeated one once", () => {
    // New York: 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
    const c = parseCron("30 2 * * *");
    expect(iso(cronNext(c, "America/New_York", t("2026-03-08T00:00:00Z")))).toBe("2026-03-08T07:30:00.000Z");
    const half1 = parseCron("30 1 * * *");
    const first = cronNext(half1, "America/New_York", t("2026-11-01T00:00:00Z"));
    expect(iso(first)).toBe("2026-11-01T05:30:00.000Z"); // 01:30 EDT
    expect(iso(cronNext(half1, "America/New_York", first!))).toBe("2026-11-02T06:30:00.000Z"); // not 01:30 EST
    expect(iso(wallToInstant(t("2026-11-01T01:30:00Z"), "America/New_York"))).toBe(
      "2026-11-01T05:30:00.000Z",
    );
  });
  it("day of month or day of week when both are restricted, and both when one is *", () => {
    const either = parseCron("0 0 13 * fri");
    // 2026-02-06 is a Friday, 2026-02-13 is a Friday and the 13th.
    expect(iso(cronNext(either, "UTC", t("2026-02-01T00:00:00Z")))).toBe("2026-02-06T00:00:00.000Z");
    const fridaysOnly = parseCron("0 0 */1 * fri");
    expect(iso(cronNext(fridaysOnly, "UTC", t("2026-02-01T00:00:00Z")))).toBe("2026-02-06T00:00:00.000Z");
    const thirteenth = parseCron("0 0 13 * *");
    expect(iso(cronNext(thirteenth, "UTC", t("2026-02-01T00:00:00Z")))).toBe("2026-02-13T00:00:00.000Z");
  });
  it("finds rare slots years away (29 February)", () => {
    const c = parseCron("0 0 29 2 *");
    expect(iso(cronNext(c, "UTC", t("2026-03-01T00:00:00Z")))).toBe("2028-02-29T00:00:00.000Z");
    expect(iso(cronPrevious(c, "UTC", t("2026-03-01T00:00:00Z")))).toBe("2024-02-29T00:00:00.000Z");
  });
});

describe("every and due slots", () => {
  it("every slots are multiples of the period since the epoch", () => {
    const h = timing({ every: "1h" });
    expect(iso(h.previous(t("2026-12-01T10:37:00Z")))).toBe("2026-12-01T10:00:00.000Z");
    expect(iso(h.next(t("2026-12-01T10:37:00Z")))).toBe("2026-12-01T11:00:00.000Z");
    expect(iso(h.next(t("2026-12-01T11:00:00Z")))).toBe("2026-12-01T12:00:00.000Z");
    const s = timing({ every: "10s" });
    expect(iso(s.previous(t("2026-12-01T10:37:09.999Z")))).toBe("2026-12-01T10:37:00.000Z");
  });
  it("runs the latest slot once, never one before the schedule existed, never twice", () => {
    const h = timing({ every: "1h" });
    const created = t("2026-12-01T10:37:00Z");
    // Created after the 10:00 slot: nothing until 11:00.
    expect(dueSlot(h, t("2026-12-01T10:50:00Z"), created, undefined)).toEqual({
      next: t("2026-12-01T11:00:00Z"),
    });
    expect(dueSlot(h, t("2026-12-01T11:00:01Z"), created, undefined).slot).toBe(t("2026-12-01T11:00:00Z"));
    // Already run: nothing.
    expect(dueSlot(h, t("2026-12-01T11:30:00Z"), created, t("2026-12-01T11:00:00Z")).slot).toBeUndefined();
    // Down from 11:30 to 15:10: one run, for 15:00 (not 12, 13, 14 and 15).
    expect(dueSlot(h, t("2026-12-01T15:10:00Z"), created, t("2026-12-01T11:00:00Z"))).toEqual({
      slot: t("2026-12-01T15:00:00Z"),
      next: t("2026-12-01T16:00:00Z"),
    });
  });
  it("cron in a time zone", () => {
    const c = timing({ cron: "0 3 * * *", timeZone: "Asia/Tokyo" });
    expect(iso(c.next(t("2026-12-01T00:00:00Z")))).toBe("2026-12-01T18:00:00.000Z");
  });
});
