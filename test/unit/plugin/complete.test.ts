import { describe, expect, it } from "vitest";
import type { Cluster, Core, GlobalFlags } from "../../../src/plugin/cluster.ts";
import { complete, globalsFromWords, plan } from "../../../src/plugin/complete.ts";

describe("completion plan", () => {
  it("offers verbs first, with their summaries", () => {
    const p = plan([""]);
    expect(p.values.map(([v]) => v)).toEqual(["snapshot", "clone", "restore", "list", "tree"]);
    expect(p.values[0]![1]).toMatch(/VolumeSnapshot/);
    expect(plan(["sn"]).prefix).toBe("sn");
  });
  it("completes the positional argument from the cluster", () => {
    expect(plan(["snapshot", ""]).names).toBe("persistentvolumeclaims");
    expect(plan(["restore", "-n", "shop", "s"]).names).toBe("volumesnapshots");
    expect(plan(["restore", "-n", "shop", "s"]).prefix).toBe("s");
    expect(plan(["tree", "db", ""]).names).toBeUndefined(); // only one positional
    expect(plan(["list", "--wide-is-not-a-flag", ""]).names).toBe("persistentvolumeclaims");
  });
  it("completes flag values from the same lists help and validation use", () => {
    expect(plan(["list", "-o", ""]).values.map(([v]) => v)).toEqual(["json", "yaml", "name", "wide"]);
    expect(plan(["tree", "db", "--output", ""]).values.map(([v]) => v)).toEqual(["wide"]);
    expect(plan(["snapshot", "db", "--dry-run=s"])).toMatchObject({ prefix: "s", lead: "--dry-run=" });
    expect(plan(["snapshot", "db", "--class", ""]).names).toBe("volumesnapshotclasses");
    expect(plan(["clone", "db", "--storage-class", ""]).names).toBe("storageclasses");
    expect(plan(["-n", ""]).names).toBe("namespaces");
    expect(plan(["--context", ""]).names).toBe("contexts");
  });
  it("completes flag names for the verb", () => {
    const names = plan(["snapshot", "--"]).values.map(([v]) => v);
    expect(names).toContain("--class");
    expect(names).toContain("--namespace");
    expect(names).not.toContain("--storage-class");
  });
  it("reads -n, --context and --kubeconfig from the words", () => {
    expect(globalsFromWords(["-n", "shop", "--context=c1", "--kubeconfig", "/k"])).toEqual({
      namespace: "shop",
      context: "c1",
      kubeconfig: "/k",
      requestTimeoutMs: 5000,
    });
  });
});

describe("complete", () => {
  const fakeCore = (names: string[], seen: GlobalFlags[] = []): Core => ({
    contexts: () => ["ctx-a", "ctx-b"],
    connect: async (g) => {
      seen.push(g);
      return { names: async () => names } as unknown as Cluster;
    },
  });
  it("prints matching candidates one per line, then cobra's no-file directive", async () => {
    const seen: GlobalFlags[] = [];
    const out = await complete(["snapshot", "-n", "shop", "d"], async () =>
      fakeCore(["db", "data", "web"], seen),
    );
    expect(out).toBe("db\ndata\n:4\n");
    expect(seen[0]?.namespace).toBe("shop");
    expect(await complete(["--context", "ctx-b"], async () => fakeCore([]))).toBe("ctx-b\n:4\n");
    expect(await complete(["snapshot", "db", "--dry-run=c"], async () => fakeCore([]))).toBe(
      "--dry-run=client\n:4\n",
    );
    expect(await complete(["tr"], async () => fakeCore([]))).toMatch(
      /^tree\tShow the lineage tree under a claim\n:4\n$/,
    );
  });
  it("prints only the directive when the cluster cannot be read", async () => {
    const broken = async (): Promise<Core> => {
      throw new Error("no kubeconfig");
    };
    expect(await complete(["snapshot", ""], broken)).toBe(":4\n");
  });
});
