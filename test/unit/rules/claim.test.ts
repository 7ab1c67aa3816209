import { describe, expect, it } from "vitest";
import {
  blocks,
  checkClaim,
  type Decision,
  droppedDataSource,
  memoryLookup,
} from "../../../src/rules/index.ts";
import { claim, content, DRIVER, fromSource, OTHER, snapshot, storageClass, world } from "./fixtures.ts";

const denied = (d: Decision) => d.findings.filter((f) => f.severity === "deny");
const warned = (d: Decision) => d.findings.filter((f) => f.severity === "warn");

describe("checkClaim: no data source, other operations", () => {
  it("allows a claim without a data source without reading anything", async () => {
    const d = await checkClaim(claim("plain", { resources: { requests: { storage: "1Gi" } } }), {} as never);
    expect(d).toEqual({ allowed: true, findings: [] });
  });

  it("never blocks an UPDATE or DELETE, even of a claim whose source is now invalid", async () => {
    const c = fromSource("PersistentVolumeClaim", "gone");
    const lookup = memoryLookup(world());
    expect((await checkClaim(c, lookup, "CREATE")).allowed).toBe(false);
    expect(await checkClaim(c, lookup, "UPDATE")).toEqual({ allowed: true, findings: [] });
    expect(await checkClaim(c, lookup, "DELETE")).toEqual({ allowed: true, findings: [] });
  });
});

describe("checkClaim: kind", () => {
  // A kind other than a PVC or a VolumeSnapshot reaches the rules through dataSourceRef
  // (Kubernetes drops it from dataSource: see the last describe).
  const ref = (kind: string, name: string, apiGroup?: string) =>
    claim("new", {
      storageClassName: "fast",
      resources: { requests: { storage: "10Gi" } },
      dataSourceRef: { kind, name, ...(apiGroup !== undefined ? { apiGroup } : {}) },
    });

  it("denies a ConfigMap in dataSourceRef, naming the allowed kinds", async () => {
    const d = await checkClaim(ref("ConfigMap", "cm"), memoryLookup(world()));
    expect(d.allowed).toBe(false);
    expect(denied(d)[0]?.rule).toBe("source-kind");
    expect(denied(d)[0]?.message).toBe(
      'PVC "new" in namespace "shop" has a data source of kind "ConfigMap" of the core group, which cannot be a data source: use a PersistentVolumeClaim or a VolumeSnapshot (snapshot.storage.k8s.io) (no VolumePopulator CRD of populator.storage.k8s.io is installed, so no other kind can be)',
    );
  });

  it("denies a VolumeSnapshot of the wrong group", async () => {
    const d = await checkClaim(
      fromSource("VolumeSnapshot", "db-snap", {}, "example.com"),
      memoryLookup(world()),
    );
    expect(denied(d).map((f) => f.rule)).toEqual(["source-kind"]);
    expect(denied(d)[0]?.message).toMatch(/kind "VolumeSnapshot" of group "example.com"/);
  });

  it("allows a kind a VolumePopulator registers, and lists registered kinds otherwise", async () => {
    const lookup = memoryLookup(world({ populatorKinds: [{ group: "hello.example.com", kind: "Hello" }] }));
    const ok = await checkClaim(
      claim("p", { dataSourceRef: { apiGroup: "hello.example.com", kind: "Hello", name: "h" } }),
      lookup,
    );
    expect(ok).toEqual({ allowed: true, findings: [] });
    const bad = await checkClaim(ref("Bye", "b", "hello.example.com"), lookup);
    expect(denied(bad)[0]?.message).toMatch(
      /or a kind a VolumePopulator registers: Hello \(hello.example.com\)$/,
    );
  });

  it("uses dataSourceRef over dataSource", async () => {
    const c = fromSource("PersistentVolumeClaim", "db", {
      dataSourceRef: { apiGroup: "example.com", kind: "Thing", name: "t" },
    });
    const d = await checkClaim(c, memoryLookup(world()));
    expect(denied(d)[0]?.message).toMatch(/kind "Thing" of group "example.com", which/);
  });
});

describe("checkClaim: namespace", () => {
  const cross = () =>
    claim(
      "new",
      {
        storageClassName: "fast",
        resources: { requests: { storage: "10Gi" } },
        dataSourceRef: { kind: "PersistentVolumeClaim", name: "db", namespace: "shop" },
      },
      { namespace: "dev" },
    );
  const grant = (to: { group: string; kind: string; name?: string }, from = "dev") => ({
    metadata: { name: "g", namespace: "shop" },
    spec: { from: [{ group: "", kind: "PersistentVolumeClaim", namespace: from }], to: [to] },
  });

  it("denies another namespace without a ReferenceGrant, saying how to grant it", async () => {
    const d = await checkClaim(cross(), memoryLookup(world()));
    expect(denied(d)).toEqual([
      {
        rule: "source-namespace",
        severity: "deny",
        message:
          'PVC "new" in namespace "dev" takes its data from PVC "db" in namespace "shop", another namespace, and no ReferenceGrant allows it: create a ReferenceGrant in namespace "shop" with from {group: "", kind: PersistentVolumeClaim, namespace: dev} and to {group: "", kind: PersistentVolumeClaim, name: db}, or copy the source into namespace "dev"',
      },
    ]);
  });

  it("denies when the ReferenceGrant CRD is not installed, and never reads the source", async () => {
    const lookup = memoryLookup(world({ referenceGrants: undefined }));
    let read = false;
    lookup.pvc = async () => {
      read = true;
      return undefined;
    };
    const d = await checkClaim(cross(), lookup);
    expect(denied(d)[0]?.message).toMatch(
      /the ReferenceGrant CRD \(gateway.networking.k8s.io\) is not installed/,
    );
    expect(read).toBe(false);
  });

  it("ignores grants for another namespace, kind or name", async () => {
    for (const g of [
      grant({ group: "", kind: "PersistentVolumeClaim" }, "prod"),
      grant({ group: "snapshot.storage.k8s.io", kind: "VolumeSnapshot" }),
      grant({ group: "", kind: "PersistentVolumeClaim", name: "other" }),
    ]) {
      const d = await checkClaim(cross(), memoryLookup(world({ referenceGrants: [g] })));
      expect(denied(d).map((f) => f.rule)).toEqual(["source-namespace"]);
    }
  });

  it("allows it with a matching grant and then checks the source in its namespace", async () => {
    for (const g of [
      grant({ group: "", kind: "PersistentVolumeClaim" }),
      grant({ group: "", kind: "PersistentVolumeClaim", name: "db" }),
    ]) {
      expect(await checkClaim(cross(), memoryLookup(world({ referenceGrants: [g] })))).toEqual({
        allowed: true,
        findings: [],
      });
    }
    const small = cross();
    small.spec!.resources = { requests: { storage: "1Gi" } };
    const d = await checkClaim(
      small,
      memoryLookup(world({ referenceGrants: [grant({ group: "", kind: "PersistentVolumeClaim" })] })),
    );
    expect(denied(d).map((f) => f.rule)).toEqual(["clone-size"]);
  });
});

describe("checkClaim: clone", () => {
  const lookup = memoryLookup(world());

  it("admits a valid clone with no findings", async () => {
    expect(await checkClaim(fromSource("PersistentVolumeClaim", "db"), lookup)).toEqual({
      allowed: true,
      findings: [],
    });
  });

  it("denies a missing source", async () => {
    const d = await checkClaim(fromSource("PersistentVolumeClaim", "nope"), lookup);
    expect(denied(d)[0]?.message).toBe(
      'PVC "nope" in namespace "shop" does not exist: create it first, or fix the data source of PVC "new" in namespace "shop"',
    );
  });

  it("admits a Pending source with a wait finding: the webhook warns, the pre-flight stops", async () => {
    const d = await checkClaim(fromSource("PersistentVolumeClaim", "pending"), lookup);
    expect(d).toEqual({
      allowed: true,
      findings: [
        {
          rule: "clone-source-bound",
          severity: "wait",
          message:
            'PVC "pending" in namespace "shop" is Pending, not Bound: a clone needs a Bound source, so PVC "new" in namespace "shop" would wait until it is',
        },
      ],
    });
    const f = d.findings[0]!;
    expect([blocks(f, "admission"), blocks(f, "preflight")]).toEqual([false, true]);
  });

  it("still checks a Pending source's driver, volume mode and size", async () => {
    const w = world();
    w.pvcs!.push(
      claim("pending-slow", { storageClassName: "slow", resources: { requests: { storage: "5Gi" } } }),
    );
    const d = await checkClaim(
      fromSource("PersistentVolumeClaim", "pending-slow", { resources: { requests: { storage: "1Gi" } } }),
      memoryLookup(w),
    );
    expect(d.allowed).toBe(false);
    expect(d.findings.map((f) => `${f.severity}:${f.rule}`)).toEqual([
      "wait:clone-source-bound",
      "deny:clone-driver",
      "deny:clone-size",
    ]);
  });

  it("denies a Lost source: it never binds", async () => {
    const w = world();
    w.pvcs!.push(claim("lost", { storageClassName: "fast" }, { phase: "Lost" }));
    const d = await checkClaim(fromSource("PersistentVolumeClaim", "lost"), memoryLookup(w));
    expect(denied(d)).toEqual([
      {
        rule: "clone-source-bound",
        severity: "deny",
        message:
          'PVC "lost" in namespace "shop" is Lost, not Bound: a clone needs a Bound source; clone another PVC',
      },
    ]);
  });

  it("denies a source being deleted", async () => {
    const w = world();
    w.pvcs!.push(
      claim("leaving", { storageClassName: "fast" }, { phase: "Bound", capacity: "1Gi", deleting: true }),
    );
    const d = await checkClaim(fromSource("PersistentVolumeClaim", "leaving"), memoryLookup(w));
    expect(denied(d).map((f) => f.rule)).toEqual(["clone-source-deleting"]);
  });

  it("denies a different driver, naming both and the fix", async () => {
    const d = await checkClaim(fromSource("PersistentVolumeClaim", "elsewhere"), lookup);
    expect(denied(d)).toEqual([
      {
        rule: "clone-driver",
        severity: "deny",
        message: `PVC "new" in namespace "shop" would be provisioned by "${DRIVER}" (StorageClass "fast") but its source PVC "elsewhere" in namespace "shop" is on driver "${OTHER}": use a StorageClass whose provisioner is "${OTHER}", such as "slow"`,
      },
    ]);
  });

  it("compares provisioners, not class names", async () => {
    const w = world({
      storageClasses: [storageClass("fast", DRIVER, true), storageClass("fast-too", DRIVER)],
    });
    const d = await checkClaim(
      fromSource("PersistentVolumeClaim", "db", { storageClassName: "fast-too" }),
      memoryLookup(w),
    );
    expect(d).toEqual({ allowed: true, findings: [] });
  });

  it("prefers the source volume's CSI driver when the Lookup can read volumes", async () => {
    const w = world();
    const src = w.pvcs!.find((p) => p.metadata?.name === "db")!;
    src.spec!.volumeName = "pv-db";
    w.pvs = [{ metadata: { name: "pv-db" }, spec: { csi: { driver: OTHER, volumeHandle: "h" } } }];
    const d = await checkClaim(fromSource("PersistentVolumeClaim", "db"), memoryLookup(w));
    expect(denied(d).map((f) => f.rule)).toEqual(["clone-driver"]);
  });

  it("uses the default StorageClass when the claim names none", async () => {
    const c = fromSource("PersistentVolumeClaim", "elsewhere");
    delete c.spec!.storageClassName;
    const d = await checkClaim(c, lookup);
    expect(denied(d)[0]?.message).toMatch(/StorageClass "fast"/);
  });

  it('denies storageClassName: "" (nothing would copy the data)', async () => {
    const d = await checkClaim(fromSource("PersistentVolumeClaim", "db", { storageClassName: "" }), lookup);
    expect(denied(d)[0]?.message).toMatch(
      /storageClassName: "" \(no dynamic provisioning\).*whose provisioner is "vol.csi.kubectl.io", such as "fast"$/,
    );
  });

  it("says to create a class when the source's driver has none", async () => {
    // The source's driver comes from its volume; no StorageClass is left for it.
    const w = world({ storageClasses: [storageClass("fast", DRIVER, true)] });
    w.pvcs!.find((p) => p.metadata?.name === "elsewhere")!.spec!.volumeName = "pv-elsewhere";
    w.pvs = [{ metadata: { name: "pv-elsewhere" }, spec: { csi: { driver: OTHER, volumeHandle: "h" } } }];
    const d = await checkClaim(fromSource("PersistentVolumeClaim", "elsewhere"), memoryLookup(w));
    expect(denied(d)[0]?.message).toMatch(
      new RegExp(`use a StorageClass whose provisioner is "${OTHER}" \\(there is none yet: create one\\)$`),
    );
  });

  it("warns, not denies, when the claim's class does not exist yet or there is no default", async () => {
    const d = await checkClaim(
      fromSource("PersistentVolumeClaim", "db", { storageClassName: "later" }),
      lookup,
    );
    expect(d.allowed).toBe(true);
    expect(warned(d).map((f) => f.rule)).toEqual(["clone-driver"]);
    const c = fromSource("PersistentVolumeClaim", "db");
    delete c.spec!.storageClassName;
    const d2 = await checkClaim(c, memoryLookup(world({ storageClasses: [storageClass("fast", DRIVER)] })));
    expect(d2.allowed).toBe(true);
    expect(warned(d2)[0]?.message).toMatch(/names no StorageClass and there is no default class/);
  });

  it("denies another volume mode", async () => {
    const d = await checkClaim(
      fromSource("PersistentVolumeClaim", "raw", { resources: { requests: { storage: "4Gi" } } }),
      lookup,
    );
    expect(denied(d)).toEqual([
      {
        rule: "clone-volume-mode",
        severity: "deny",
        message:
          'PVC "new" in namespace "shop" has volumeMode Filesystem but its source PVC "raw" in namespace "shop" is Block: set spec.volumeMode: Block',
      },
    ]);
  });

  it("denies a smaller request, exactly at the boundary", async () => {
    const small = await checkClaim(
      fromSource("PersistentVolumeClaim", "db", { resources: { requests: { storage: "10737418239" } } }),
      lookup,
    );
    expect(denied(small)).toEqual([
      {
        rule: "clone-size",
        severity: "deny",
        message:
          'PVC "new" in namespace "shop" requests 10737418239 but its source PVC "db" in namespace "shop" holds 10Gi: request at least 10Gi',
      },
    ]);
    const equal = await checkClaim(
      fromSource("PersistentVolumeClaim", "db", { resources: { requests: { storage: "10737418240" } } }),
      lookup,
    );
    expect(equal.allowed).toBe(true);
  });

  it("reports every failing rule of a Bound source at once", async () => {
    const d = await checkClaim(
      fromSource("PersistentVolumeClaim", "elsewhere", {
        volumeMode: "Block",
        resources: { requests: { storage: "1Mi" } },
      }),
      lookup,
    );
    expect(denied(d).map((f) => f.rule)).toEqual(["clone-driver", "clone-volume-mode", "clone-size"]);
  });

  it("names a claim that has only a generateName", async () => {
    const c = fromSource("PersistentVolumeClaim", "db", { resources: { requests: { storage: "1Gi" } } });
    c.metadata = { generateName: "copy-", namespace: "shop" };
    const d = await checkClaim(c, lookup);
    expect(denied(d)[0]?.message).toMatch(/^PVC "copy-…" in namespace "shop" requests 1Gi/);
  });
});

describe("checkClaim: restore", () => {
  const lookup = memoryLookup(world());

  it("admits a valid restore with no findings", async () => {
    expect(await checkClaim(fromSource("VolumeSnapshot", "db-snap"), lookup)).toEqual({
      allowed: true,
      findings: [],
    });
  });

  it("denies a missing snapshot", async () => {
    const d = await checkClaim(fromSource("VolumeSnapshot", "nope"), lookup);
    expect(denied(d).map((f) => f.rule)).toEqual(["restore-source-exists"]);
    expect(denied(d)[0]?.message).toMatch(
      /^VolumeSnapshot "nope" in namespace "shop" does not exist: create it first/,
    );
  });

  it("denies a snapshot being deleted or in error", async () => {
    const w = world({
      volumeSnapshots: [
        snapshot("leaving", { deleting: true }),
        snapshot("broken", { ready: false, error: "Failed to check and update snapshot content: boom" }),
      ],
    });
    const a = await checkClaim(fromSource("VolumeSnapshot", "leaving"), memoryLookup(w));
    expect(denied(a).map((f) => f.rule)).toEqual(["restore-source-deleting"]);
    const b = await checkClaim(fromSource("VolumeSnapshot", "broken"), memoryLookup(w));
    expect(denied(b)[0]?.message).toBe(
      'VolumeSnapshot "broken" in namespace "shop" failed (Failed to check and update snapshot content: boom): fix the cause and take the snapshot again, or restore from another snapshot',
    );
  });

  it("admits a snapshot that is not ready yet, with a warning", async () => {
    const w = world({ volumeSnapshots: [snapshot("fresh", { ready: false })] });
    const d = await checkClaim(fromSource("VolumeSnapshot", "fresh"), memoryLookup(w));
    expect(d.allowed).toBe(true);
    expect(warned(d)).toEqual([
      {
        rule: "restore-source-ready",
        severity: "warn",
        message:
          'VolumeSnapshot "fresh" in namespace "shop" is not ready yet: PVC "new" in namespace "shop" stays Pending until it is ready to use',
      },
    ]);
  });

  it("checks the driver of a not-ready snapshot through its class", async () => {
    const w = world({
      volumeSnapshots: [
        {
          ...snapshot("fresh", { ready: false }),
          spec: { source: { persistentVolumeClaimName: "db" }, volumeSnapshotClassName: "other-snaps" },
        },
      ],
    });
    const d = await checkClaim(fromSource("VolumeSnapshot", "fresh"), memoryLookup(w));
    expect(denied(d).map((f) => f.rule)).toEqual(["restore-driver"]);
  });

  it("denies a content on another driver", async () => {
    const d = await checkClaim(
      fromSource("VolumeSnapshot", "db-snap"),
      memoryLookup(world({ volumeSnapshotContents: [content("snapcontent-1", OTHER)] })),
    );
    expect(denied(d)[0]?.message).toBe(
      `PVC "new" in namespace "shop" would be provisioned by "${DRIVER}" (StorageClass "fast") but its source VolumeSnapshot "db-snap" in namespace "shop" is on driver "${OTHER}": use a StorageClass whose provisioner is "${OTHER}", such as "slow"`,
    );
  });

  it("denies a request below restoreSize", async () => {
    const d = await checkClaim(
      fromSource("VolumeSnapshot", "db-snap", { resources: { requests: { storage: "5Gi" } } }),
      lookup,
    );
    expect(denied(d)).toEqual([
      {
        rule: "restore-size",
        severity: "deny",
        message:
          'PVC "new" in namespace "shop" requests 5Gi but its source VolumeSnapshot "db-snap" in namespace "shop" holds 10Gi: request at least 10Gi',
      },
    ]);
  });

  it("takes restoreSize from the content (bytes) when the snapshot's status has none", async () => {
    const w = world({ volumeSnapshots: [snapshot("db-snap", { content: "snapcontent-1" })] });
    const d = await checkClaim(
      fromSource("VolumeSnapshot", "db-snap", { resources: { requests: { storage: "9Gi" } } }),
      memoryLookup(w),
    );
    expect(denied(d).map((f) => f.rule)).toEqual(["restore-size"]);
  });

  it("denies a volume mode change unless the content allows it", async () => {
    const block = fromSource("VolumeSnapshot", "db-snap", { volumeMode: "Block" });
    const d = await checkClaim(block, lookup);
    expect(denied(d)[0]?.message).toBe(
      'PVC "new" in namespace "shop" has volumeMode Block but its source VolumeSnapshot "db-snap" in namespace "shop" was taken from a Filesystem volume: set spec.volumeMode: Filesystem, or annotate VolumeSnapshotContent "snapcontent-1" with snapshot.storage.kubernetes.io/allow-volume-mode-change: "true"',
    );
    const allowed = memoryLookup(
      world({
        volumeSnapshotContents: [
          content("snapcontent-1", DRIVER, "Filesystem", {
            "snapshot.storage.kubernetes.io/allow-volume-mode-change": "true",
          }),
        ],
      }),
    );
    expect(await checkClaim(block, allowed)).toEqual({ allowed: true, findings: [] });
  });
});

describe("checkClaim: a dataSource Kubernetes drops", () => {
  it("denies a ConfigMap (or another kind) in spec.dataSource alone: the claim would be created empty", async () => {
    const cm = claim("new", {
      resources: { requests: { storage: "1Gi" } },
      dataSource: { kind: "ConfigMap", name: "settings" },
    });
    expect(await checkClaim(cm, memoryLookup(world()))).toEqual({
      allowed: false,
      findings: [
        {
          rule: "source-kind",
          severity: "deny",
          message:
            'PVC "new" in namespace "shop" has spec.dataSource of kind "ConfigMap" of the core group, which Kubernetes drops, creating the claim empty: spec.dataSource takes a PersistentVolumeClaim or a VolumeSnapshot (snapshot.storage.k8s.io); name a VolumePopulator\'s kind in spec.dataSourceRef instead',
        },
      ],
    });
    const widget = fromSource("Widget", "w", {}, "example.com");
    expect(droppedDataSource(widget)?.message).toMatch(
      /kind "Widget" of group "example.com", which Kubernetes drops/,
    );
    // The same kind in dataSourceRef is kept (and checked by the kind rule); a PVC or a snapshot is fine.
    expect(
      droppedDataSource({
        ...widget,
        spec: { ...widget.spec, dataSourceRef: { apiGroup: "example.com", kind: "Widget", name: "w" } },
      }),
    ).toBeUndefined();
    expect(droppedDataSource(fromSource("PersistentVolumeClaim", "db"))).toBeUndefined();
    expect(droppedDataSource(fromSource("VolumeSnapshot", "db-snap"))).toBeUndefined();
  });
});
