import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { buildClone, buildRestore, buildSnapshot } from "../../../src/plugin/build.ts";
import { claimSource, flatten, type Item, lineageTree, snapshotSource } from "../../../src/plugin/lineage.ts";
import { treeRows } from "../../../src/plugin/tree.ts";
import type { VolumeSnapshot } from "../../../src/rules/types.ts";

const t = (s: number) => new Date(Date.UTC(2026, 10, 23, 12, 0, s)).toISOString();
const pvc = (name: string, at: number, extra: Partial<V1PersistentVolumeClaim> = {}): Item => ({
  kind: "PersistentVolumeClaim",
  obj: { metadata: { name, namespace: "ns", creationTimestamp: t(at) as unknown as Date }, ...extra },
});
const snap = (name: string, of: string, at: number, annotations?: Record<string, string>): Item => ({
  kind: "VolumeSnapshot",
  obj: {
    metadata: { name, namespace: "ns", creationTimestamp: t(at), annotations },
    spec: { source: { persistentVolumeClaimName: of } },
  },
});

describe("sources", () => {
  it("reads the lineage annotations first, then spec.dataSource / spec.source", () => {
    const restored = buildRestore(
      { namespace: "ns", name: "r" },
      { metadata: { name: "s1" }, spec: { source: { persistentVolumeClaimName: "db" } } },
      undefined,
    );
    expect(claimSource(restored)).toEqual({ kind: "VolumeSnapshot", name: "s1" });
    const cloned = buildClone({ namespace: "ns", name: "c" }, { metadata: { name: "db" } });
    expect(claimSource(cloned)).toEqual({ kind: "PersistentVolumeClaim", name: "db" });
    expect(
      claimSource({
        metadata: {
          annotations: { "vol.kubectl.io/source-kind": "VolumeSnapshot", "vol.kubectl.io/source-name": "a" },
        },
        spec: { dataSource: { kind: "PersistentVolumeClaim", name: "b" } },
      }),
    ).toEqual({ kind: "VolumeSnapshot", name: "a" });
    expect(
      claimSource({ spec: { dataSource: { apiGroup: "example.com", kind: "Thing", name: "x" } } }),
    ).toBeUndefined();
    expect(
      claimSource({
        spec: { dataSourceRef: { kind: "PersistentVolumeClaim", name: "x", namespace: "other" } },
      }),
    ).toBe(undefined);
    expect(claimSource({ metadata: { name: "plain" } })).toBeUndefined();
    expect(snapshotSource(snap("s", "db", 0).obj as VolumeSnapshot)).toEqual({
      kind: "PersistentVolumeClaim",
      name: "db",
    });
    const built = buildSnapshot({
      namespace: "ns",
      name: "s",
      pvc: { metadata: { name: "db", uid: "u1" } },
      className: "c",
    });
    expect(snapshotSource(built)).toEqual({ kind: "PersistentVolumeClaim", name: "db" });
    expect(built.metadata.annotations?.["vol.kubectl.io/source-uid"]).toBe("u1");
  });
});

describe("lineageTree", () => {
  const items: Item[] = [
    pvc("db", 0),
    snap("s1", "db", 1),
    pvc("r1", 2, {
      spec: { dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "s1" } },
    }),
    pvc("c1", 3, { spec: { dataSource: { kind: "PersistentVolumeClaim", name: "r1" } } }),
    snap("s2", "r1", 3),
    pvc("other", 4),
  ];

  it("follows snapshot → restore → snapshot and clone, snapshots before clones", () => {
    const rows = treeRows(lineageTree(items[0]!, items)).map(
      (r) => `${r.prefix}${r.item.obj.metadata?.name}`,
    );
    expect(rows).toEqual(["db", "└─s1", "  └─r1", "    ├─s2", "    └─c1"]);
    expect(flatten(lineageTree(items[2]!, items)).map((i) => i.obj.metadata?.name)).toEqual([
      "r1",
      "s2",
      "c1",
    ]);
  });

  it("draws │ for a branch that continues below", () => {
    const more = [
      ...items,
      pvc("r2", 5, {
        spec: { dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "s2" } },
      }),
    ];
    const rows = treeRows(lineageTree(more[0]!, more)).map((r) => `${r.prefix}${r.item.obj.metadata?.name}`);
    expect(rows).toEqual(["db", "└─s1", "  └─r1", "    ├─s2", "    │ └─r2", "    └─c1"]);
  });

  it("cuts a cycle made by hand-edited annotations", () => {
    const a = pvc("a", 0, { spec: { dataSource: { kind: "PersistentVolumeClaim", name: "b" } } });
    const b = pvc("b", 1, { spec: { dataSource: { kind: "PersistentVolumeClaim", name: "a" } } });
    expect(flatten(lineageTree(a, [a, b])).map((i) => i.obj.metadata?.name)).toEqual(["a", "b"]);
  });
});
