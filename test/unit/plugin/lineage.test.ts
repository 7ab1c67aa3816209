import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { buildClone, buildRestore, buildSnapshot } from "../../../src/plugin/build.ts";
import { itemColumns, itemLabel } from "../../../src/plugin/inventory.ts";
import {
  claimSource,
  flatten,
  type Item,
  lineageTree,
  snapshotSource,
  withMissingLinks,
} from "../../../src/plugin/lineage.ts";
import { table } from "../../../src/plugin/printers.ts";
import { treeRows } from "../../../src/plugin/tree.ts";
import { LINEAGE, lineageAnnotations } from "../../../src/rules/index.ts";
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

describe("a deleted link in the middle of a lineage", () => {
  // db → s1 → r1 → (s2, c1), each annotated as the plugin and the webhook annotate what they make.
  const made = (
    kind: "PersistentVolumeClaim" | "VolumeSnapshot",
    name: string,
    from: Item,
    at: number,
  ): Item => {
    const annotations = lineageAnnotations(
      { kind: from.kind, name: from.obj.metadata?.name ?? "", namespace: "ns" },
      from.obj,
    );
    const metadata = { name, namespace: "ns", creationTimestamp: t(at), annotations };
    return kind === "VolumeSnapshot"
      ? { kind, obj: { metadata, spec: { source: { persistentVolumeClaimName: from.obj.metadata?.name } } } }
      : {
          kind,
          obj: {
            metadata: { ...metadata, creationTimestamp: metadata.creationTimestamp as unknown as Date },
          },
        };
  };
  const db = pvc("db", 0);
  const s1 = made("VolumeSnapshot", "s1", db, 1);
  const r1 = made("PersistentVolumeClaim", "r1", s1, 2);
  const s2 = made("VolumeSnapshot", "s2", r1, 3);
  const c1 = made("PersistentVolumeClaim", "c1", r1, 4);

  it("records the chain of ancestors above the source, only when there is one", () => {
    expect(s1.obj.metadata?.annotations?.[LINEAGE.ancestors]).toBeUndefined();
    expect(r1.obj.metadata?.annotations?.[LINEAGE.ancestors]).toBe("PersistentVolumeClaim/db");
    expect(c1.obj.metadata?.annotations?.[LINEAGE.ancestors]).toBe(
      "PersistentVolumeClaim/db,VolumeSnapshot/s1",
    );
  });

  it("shows the deleted claim and keeps everything below it", () => {
    const items = withMissingLinks([db, s1, s2, c1]);
    const rows = treeRows(lineageTree(db, items));
    expect(rows.map((r) => `${r.prefix}${itemLabel(r.item)}`)).toEqual([
      "pvc/db",
      "└─volumesnapshot/s1",
      "  └─pvc/r1 (deleted)",
      "    ├─volumesnapshot/s2",
      "    └─pvc/c1",
    ]);
    const text = table(
      itemColumns(
        (r: (typeof rows)[number]) => r.item,
        (r) => itemLabel(r.item),
        new Date(t(10)),
      ),
      rows,
      false,
    );
    expect(text.split("\n")[3]).toMatch(
      /^pvc\/r1 \(deleted\)\s+volumesnapshot\/s1\s+<none>\s+<none>\s+<none>$/,
    );
  });

  it("shows two deleted links in a row, and a deleted snapshot", () => {
    const rows = treeRows(lineageTree(db, withMissingLinks([db, c1])));
    expect(rows.map((r) => `${r.prefix}${itemLabel(r.item)}`)).toEqual([
      "pvc/db",
      "└─volumesnapshot/s1 (deleted)",
      "  └─pvc/r1 (deleted)",
      "    └─pvc/c1",
    ]);
  });
});
