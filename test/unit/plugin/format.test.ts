import { describe, expect, it } from "vitest";
import {
  derivedName,
  formatAge,
  invalidName,
  parseDuration,
  timestampSuffix,
} from "../../../src/plugin/format.ts";

describe("parseDuration", () => {
  it("reads Go durations and bare seconds", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("2h")).toBe(7_200_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("1.5s")).toBe(1500);
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("15")).toBe(15_000);
  });
  it("rejects anything else", () => {
    for (const bad of ["", "soon", "5 m", "-1s", "1d", "s", "1m-30s"])
      expect(parseDuration(bad), bad).toBeUndefined();
  });
});

describe("formatAge", () => {
  const now = new Date("2026-11-23T12:00:00Z");
  const ago = (s: number) => new Date(now.getTime() - s * 1000);
  it("prints ages as kubectl does", () => {
    expect(formatAge(ago(45), now)).toBe("45s");
    expect(formatAge(ago(119), now)).toBe("119s");
    expect(formatAge(ago(310), now)).toBe("5m10s");
    expect(formatAge(ago(15 * 60), now)).toBe("15m");
    expect(formatAge(ago(3 * 3600 + 20 * 60), now)).toBe("3h20m");
    expect(formatAge(ago(20 * 3600), now)).toBe("20h");
    expect(formatAge(ago(4 * 86400 + 5 * 3600), now)).toBe("4d5h");
    expect(formatAge(ago(400 * 86400), now)).toBe("400d");
    expect(formatAge(undefined, now)).toBe("<unknown>");
    expect(formatAge(new Date(now.getTime() + 5000), now)).toBe("0s");
  });
});

describe("names", () => {
  it("stamps default names with the UTC time", () => {
    expect(timestampSuffix(new Date("2026-11-23T01:02:03.456Z"))).toBe("20261123-010203");
    expect(derivedName("db", "20261123-010203")).toBe("db-20261123-010203");
    expect(derivedName("db", "clone", "20261123-010203")).toBe("db-clone-20261123-010203");
  });
  it("keeps derived names within 253 characters and valid", () => {
    const long = `${"a".repeat(250)}`;
    const name = derivedName(long, "20261123-010203");
    expect(name.length).toBeLessThanOrEqual(253);
    expect(name.endsWith("-20261123-010203")).toBe(true);
    expect(invalidName(name)).toBeUndefined();
    expect(invalidName(derivedName(`${"a".repeat(236)}-x`, "20261123-010203"))).toBeUndefined();
  });
  it("explains invalid object names", () => {
    expect(invalidName("db-data.v2")).toBeUndefined();
    expect(invalidName("")).toMatch(/empty/);
    expect(invalidName("Bad")).toMatch(/lower case/);
    expect(invalidName("-x")).toMatch(/start and end/);
    expect(invalidName("../etc")).toMatch(/lower case/);
    expect(invalidName("a\u0000b")).toBeDefined();
    expect(invalidName("a".repeat(254))).toMatch(/253/);
  });
});
