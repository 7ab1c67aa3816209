import { describe, expect, it } from "vitest";
import {
  blocks,
  checkSnapshot,
  chooseSnapshotClass,
  memoryLookup,
  type VolumeSnapshot,
} from "../../../src/rules/index.ts";
import { claim, DRIVER, OTHER, snapshotClass, world } from "./fixtures.ts";

const snap = (pvc: string, cls?: string): VolumeSnapshot => ({
  metadata: { name: "s", namespace: "shop" },
  spec: { source: { persistentVolumeClaimName: pvc }, ...(cls ? { volumeSnapshotClassName: cls } : {}) },
});

describe("chooseSnapshotClass", () => {
  const classes = [snapshotClass("a", DRIVER), snapshotClass("b", DRIVER, true), snapshotClass("x", OTHER)];

  it("takes a named class of the driver", () => {
    const c = chooseSnapshotClass(DRIVER, classes, "a");
    expect(c.ok && c.class.metadata.name).toBe("a");
    expect(c.ok && c.how).toBe("named");
  });

  it("refuses a named class that is missing or of another driver, naming the candidates", () => {
    expect(chooseSnapshotClass(DRIVER, classes, "nope")).toEqual({
      ok: false,
      candidates: ["a", "b"],
      message: `VolumeSnapshotClass "nope" does not exist: use one of "a", "b" (driver "${DRIVER}")`,
    });
    expect(chooseSnapshotClass(DRIVER, classes, "x")).toEqual({
      ok: false,
      candidates: ["a", "b"],
      message: `VolumeSnapshotClass "x" is for driver "${OTHER}", not "${DRIVER}": use one of "a", "b"`,
    });
  });

  it("takes the driver's default, else its only class", () => {
    const d = chooseSnapshotClass(DRIVER, classes);
    expect(d.ok && [d.class.metadata.name, d.how]).toEqual(["b", "default"]);
    const o = chooseSnapshotClass(OTHER, classes);
    expect(o.ok && [o.class.metadata.name, o.how]).toEqual(["x", "only"]);
  });

  it("refuses two defaults, several non-defaults, and none", () => {
    const two = chooseSnapshotClass(DRIVER, [
      snapshotClass("a", DRIVER, true),
      snapshotClass("b", DRIVER, true),
    ]);
    expect(!two.ok && two.message).toMatch(/has 2 default VolumeSnapshotClasses \("a", "b"\): name one/);
    const several = chooseSnapshotClass(DRIVER, [snapshotClass("b", DRIVER), snapshotClass("a", DRIVER)]);
    expect(several).toMatchObject({ ok: false, candidates: ["a", "b"] });
    expect(!several.ok && several.message).toMatch(/and none is the default: name one, or annotate one/);
    const none = chooseSnapshotClass("third.example.com", classes);
    expect(none).toEqual({
      ok: false,
      candidates: ["a", "b", "x"],
      message: `no VolumeSnapshotClass is for driver "third.example.com" (the classes are "a" (driver "${DRIVER}"), "b" (driver "${DRIVER}"), "x" (driver "${OTHER}")): create a VolumeSnapshotClass with driver: third.example.com`,
    });
    expect(chooseSnapshotClass(DRIVER, []).ok).toBe(false);
  });
});

describe("checkSnapshot", () => {
  const lookup = memoryLookup(world());

  it("admits a snapshot of a Bound PVC with the driver's default class or a named one", async () => {
    expect(await checkSnapshot(snap("db"), lookup)).toEqual({ allowed: true, findings: [] });
    expect(await checkSnapshot(snap("db", "snaps"), lookup)).toEqual({ allowed: true, findings: [] });
  });

  it("denies a missing or unbound source", async () => {
    const a = await checkSnapshot(snap("nope"), lookup);
    expect(a.findings).toEqual([
      {
        rule: "snapshot-source-exists",
        severity: "deny",
        message:
          'VolumeSnapshot "s" in namespace "shop" takes a snapshot of PVC "nope" in namespace "shop", which does not exist: create the PVC first, or fix spec.source.persistentVolumeClaimName',
      },
    ]);
  });

  it("admits a snapshot of a Pending claim with a wait finding, and still checks its class", async () => {
    const b = await checkSnapshot(snap("pending"), lookup);
    expect(b).toEqual({
      allowed: true,
      findings: [
        {
          rule: "snapshot-source-bound",
          severity: "wait",
          message:
            'PVC "pending" in namespace "shop" is Pending, not Bound: a snapshot needs a Bound source, so VolumeSnapshot "s" in namespace "shop" would wait until it is',
        },
      ],
    });
    expect([blocks(b.findings[0]!, "admission"), blocks(b.findings[0]!, "preflight")]).toEqual([false, true]);
    const c = await checkSnapshot(snap("pending", "other-snaps"), lookup);
    expect(c.allowed).toBe(false);
    expect(c.findings.map((f) => `${f.severity}:${f.rule}`)).toEqual([
      "wait:snapshot-source-bound",
      "deny:snapshot-class",
    ]);
  });

  it("denies a snapshot of a Lost claim", async () => {
    const w = world();
    w.pvcs!.push(claim("lost", { storageClassName: "fast" }, { phase: "Lost" }));
    const d = await checkSnapshot(snap("lost"), memoryLookup(w));
    expect(d.allowed).toBe(false);
    expect(d.findings[0]?.message).toBe(
      'PVC "lost" in namespace "shop" is Lost, not Bound: a snapshot needs a Bound source; take the snapshot of another PVC',
    );
  });

  it("denies a class of another driver or a missing class", async () => {
    const a = await checkSnapshot(snap("db", "other-snaps"), lookup);
    expect(a.findings[0]?.message).toBe(
      `VolumeSnapshot "s" in namespace "shop": VolumeSnapshotClass "other-snaps" is for driver "${OTHER}", not "${DRIVER}": use "snaps"`,
    );
    const b = await checkSnapshot(snap("db", "gone"), lookup);
    expect(b.allowed).toBe(false);
    expect(b.findings[0]?.rule).toBe("snapshot-class");
  });

  it("denies no class named when the driver has no default, saying which classes exist", async () => {
    const d = await checkSnapshot(snap("elsewhere"), lookup);
    expect(d.findings[0]?.message).toBe(
      `VolumeSnapshot "s" in namespace "shop" names no VolumeSnapshotClass and driver "${OTHER}" has no default class: set spec.volumeSnapshotClassName: other-snaps, or annotate VolumeSnapshotClass "other-snaps" with snapshot.storage.kubernetes.io/is-default-class: "true"`,
    );
    const none = await checkSnapshot(
      snap("elsewhere"),
      memoryLookup(world({ volumeSnapshotClasses: [snapshotClass("snaps", DRIVER, true)] })),
    );
    expect(none.findings[0]?.message).toMatch(
      /no VolumeSnapshotClass is for driver "other.csi.example.com" \(the classes are "snaps"/,
    );
  });

  it("denies a PVC whose driver is unknown when no class is named", async () => {
    const w = world();
    w.pvcs!.push(claim("static", { storageClassName: "" }, { phase: "Bound", capacity: "1Gi" }));
    const d = await checkSnapshot(snap("static"), memoryLookup(w));
    expect(d.findings[0]?.message).toMatch(/the CSI driver of PVC "static" in namespace "shop" is unknown/);
    expect((await checkSnapshot(snap("static", "snaps"), memoryLookup(w))).allowed).toBe(true);
  });

  it("never blocks an UPDATE", async () => {
    expect(await checkSnapshot(snap("nope"), lookup, "UPDATE")).toEqual({ allowed: true, findings: [] });
  });

  it("checks a pre-provisioned snapshot's class against its content", async () => {
    const pre = (cls?: string): VolumeSnapshot => ({
      metadata: { name: "pre", namespace: "shop" },
      spec: {
        source: { volumeSnapshotContentName: "snapcontent-1" },
        ...(cls ? { volumeSnapshotClassName: cls } : {}),
      },
    });
    expect((await checkSnapshot(pre(), lookup)).allowed).toBe(true);
    expect((await checkSnapshot(pre("snaps"), lookup)).allowed).toBe(true);
    expect((await checkSnapshot(pre("other-snaps"), lookup)).allowed).toBe(false);
    const missing = { ...pre(), spec: { source: { volumeSnapshotContentName: "later" } } };
    const d = await checkSnapshot(missing, lookup);
    expect(d).toMatchObject({
      allowed: true,
      findings: [{ rule: "snapshot-content-exists", severity: "warn" }],
    });
  });
});
