import { describe, expect, it } from "vitest";
import { compareQuantities, formatBytes, parseQuantity } from "../../../src/rules/index.ts";

describe("parseQuantity", () => {
  it.each([
    ["1Gi", 1n << 30n],
    ["10Gi", 10n << 30n],
    ["1.5Gi", 3n << 29n],
    ["500M", 500_000_000n],
    ["1e3", 1000n],
    ["1E3", 1000n],
    ["1k", 1000n],
    ["0", 0n],
    ["100m", 1n],
    ["1500m", 2n],
    [".5Ki", 512n],
    ["+2Mi", 2n << 20n],
    ["-1", -1n],
    [10737418240, 10n << 30n],
  ] as const)("%s → %s bytes", (q, bytes) => {
    expect(parseQuantity(q)).toBe(bytes);
  });

  it.each(["", "Gi", "1GiB", "1 Gi", "abc", "1.2.3", "1e", "--1", `${"9".repeat(70)}`])("rejects %j", (q) => {
    expect(parseQuantity(q)).toBeUndefined();
  });

  it("rejects non-finite numbers and missing values", () => {
    expect(parseQuantity(Number.NaN)).toBeUndefined();
    expect(parseQuantity(undefined)).toBeUndefined();
  });
});

describe("compareQuantities and formatBytes", () => {
  it("compares across notations", () => {
    expect(compareQuantities("1Gi", "1073741824")).toBe(0);
    expect(compareQuantities("1G", "1Gi")).toBe(-1);
    expect(compareQuantities("2Gi", 1)).toBe(1);
    expect(compareQuantities("x", "1")).toBeUndefined();
  });

  it("formats the shortest exact form and round-trips", () => {
    for (const [b, s] of [
      [10n << 30n, "10Gi"],
      [1_500_000_000n, "1500M"],
      [123n, "123"],
      [0n, "0"],
      [3n << 29n, "1536Mi"],
    ] as const) {
      expect(formatBytes(b)).toBe(s);
      expect(parseQuantity(s)).toBe(b);
    }
  });
});
