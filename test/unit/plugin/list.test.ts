// list's order without the ICU collator: String.prototype.localeCompare's first use costs a
// process 25-150 ms, more than the rest of list's own work.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Cluster } from "../../../src/plugin/cluster.ts";
import { byText } from "../../../src/plugin/format.ts";
import { list } from "../../../src/plugin/list.ts";
import type { RunContext } from "../../../src/plugin/verb.ts";

const claim = (namespace: string, name: string, created: string) => ({
  metadata: { namespace, name, creationTimestamp: created },
  spec: {},
  status: { phase: "Bound" },
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("list -A", () => {
  it("orders by namespace, then creation, then name, without localeCompare", async () => {
    const compare = vi.spyOn(String.prototype, "localeCompare");
    const cluster = {
      namespace: "default",
      listClaims: async () => [
        claim("web", "b", "2026-01-01T00:00:00Z"),
        claim("a-b", "x", "2026-01-02T00:00:00Z"),
        claim("web", "a", "2026-01-01T00:00:00Z"),
        claim("a.b", "y", "2026-01-01T00:00:00Z"),
        claim("ab", "z", "2026-01-01T00:00:00Z"),
      ],
      listSnapshots: async () => [],
      listGroupSnapshots: async () => [],
    } as unknown as Cluster;
    const out: string[] = [];
    const sink = { write: (s: string) => out.push(s) };
    const ctx = {
      cluster: async () => cluster,
      out: sink,
      err: sink,
      now: new Date("2026-02-01T00:00:00Z"),
    } as unknown as RunContext;
    await list.run({ allNamespaces: true, output: "name" }, ctx);
    expect(out.join("")).toBe(
      [
        "persistentvolumeclaim/x",
        "persistentvolumeclaim/y",
        "persistentvolumeclaim/z",
        "persistentvolumeclaim/a",
        "persistentvolumeclaim/b",
        "",
      ].join("\n"),
    );
    expect(compare).not.toHaveBeenCalled();
  });

  it("orders Kubernetes names as localeCompare does", () => {
    const names = ["db-2", "db.1", "db", "a1", "a-1", "a.1", "10", "9", "web", "w-eb", "x0y"];
    expect([...names].sort(byText)).toEqual([...names].sort((a, b) => a.localeCompare(b)));
  });
});
