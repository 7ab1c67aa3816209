import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { buildClone, buildRestore, buildSnapshot } from "../../../src/plugin/build.ts";
import { OperationError } from "../../../src/plugin/errors.ts";
import { enforce, snapshotClassFor } from "../../../src/plugin/preflight.ts";
import { defaultClaim, memoryLookup } from "../../../src/rules/index.ts";
import type { VolumeSnapshot, VolumeSnapshotClass } from "../../../src/rules/types.ts";

const db: V1PersistentVolumeClaim = {
  metadata: { name: "db", namespace: "shop", uid: "u-db" },
  spec: {
    storageClassName: "fast",
    accessModes: ["ReadWriteOncePod"],
    volumeMode: "Block",
    resources: { requests: { storage: "1Gi" } },
    volumeName: "pv-db",
  },
  status: { phase: "Bound", capacity: { storage: "2Gi" } },
};
const s1: VolumeSnapshot = {
  metadata: { name: "s1", namespace: "shop", uid: "u-s1" },
  spec: { source: { persistentVolumeClaimName: "db" }, volumeSnapshotClassName: "x" },
  status: { readyToUse: true, restoreSize: "3Gi" },
};
const cls = (name: string, driver: string, isDefault = false): VolumeSnapshotClass => ({
  metadata: {
    name,
    annotations: isDefault ? { "snapshot.storage.kubernetes.io/is-default-class": "true" } : undefined,
  },
  driver,
  deletionPolicy: "Delete",
});

describe("the objects the verbs build", () => {
  it("a snapshot names its class and source and records the lineage", () => {
    expect(buildSnapshot({ namespace: "shop", name: "db-1", pvc: db, className: "x" })).toEqual({
      apiVersion: "snapshot.storage.k8s.io/v1",
      kind: "VolumeSnapshot",
      metadata: {
        name: "db-1",
        namespace: "shop",
        annotations: {
          "vol.kubectl.io/source-kind": "PersistentVolumeClaim",
          "vol.kubectl.io/source-name": "db",
          "vol.kubectl.io/source-namespace": "shop",
          "vol.kubectl.io/source-uid": "u-db",
        },
      },
      spec: { volumeSnapshotClassName: "x", source: { persistentVolumeClaimName: "db" } },
    });
  });

  it("a clone skeleton holds only the choices and the source's access modes; defaultClaim fills the rest", async () => {
    const skel = buildClone({ namespace: "shop", name: "c" }, db);
    expect(skel.spec).toEqual({
      accessModes: ["ReadWriteOncePod"],
      resources: { requests: {} },
      dataSource: { kind: "PersistentVolumeClaim", name: "db" },
    });
    const { claim } = await defaultClaim(skel, memoryLookup({ pvcs: [db] }));
    expect(claim.spec).toMatchObject({
      storageClassName: "fast",
      volumeMode: "Block",
      resources: { requests: { storage: "2Gi" } }, // the source's capacity
    });
    const chosen = buildClone({ namespace: "shop", name: "c", storageClass: "slow", size: "9Gi" }, db);
    expect(chosen.spec).toMatchObject({
      storageClassName: "slow",
      resources: { requests: { storage: "9Gi" } },
    });
  });

  it("a restore is sized max(source request, restoreSize) by defaultClaim", async () => {
    const skel = buildRestore({ namespace: "shop", name: "r" }, s1, db);
    expect(skel.spec?.dataSource).toEqual({
      apiGroup: "snapshot.storage.k8s.io",
      kind: "VolumeSnapshot",
      name: "s1",
    });
    expect(skel.spec?.accessModes).toEqual(["ReadWriteOncePod"]);
    const lookup = memoryLookup({ pvcs: [db], volumeSnapshots: [s1] });
    expect((await defaultClaim(skel, lookup)).claim.spec?.resources?.requests?.storage).toBe("3Gi");
    const small = { ...s1, status: { readyToUse: true, restoreSize: "100Mi" } };
    const r2 = await defaultClaim(
      buildRestore({ namespace: "shop", name: "r" }, small, db),
      memoryLookup({ pvcs: [db], volumeSnapshots: [small] }),
    );
    expect(r2.claim.spec?.resources?.requests?.storage).toBe("1Gi");
    expect(buildRestore({ namespace: "shop", name: "r" }, s1, undefined).spec?.accessModes).toEqual([
      "ReadWriteOnce",
    ]);
  });
});

describe("snapshotClassFor", () => {
  const classes = [
    cls("x-default", "x", true),
    cls("x-slow", "x"),
    cls("z-a", "z"),
    cls("z-b", "z"),
    cls("y-only", "y"),
  ];
  const pick = (driver: string | undefined, named?: string) =>
    snapshotClassFor(driver, classes, named, "db", "shop");
  const fails = (driver: string | undefined, named?: string) => {
    try {
      pick(driver, named);
    } catch (e) {
      expect(e).toBeInstanceOf(OperationError);
      return (e as Error).message;
    }
    throw new Error("expected a failure");
  };

  it("takes the named class, else the driver's default, else its only class", () => {
    expect(pick("x", "x-slow").metadata.name).toBe("x-slow");
    expect(pick("x").metadata.name).toBe("x-default");
    expect(pick("y").metadata.name).toBe("y-only");
    expect(pick(undefined, "z-a").metadata.name).toBe("z-a");
  });

  it("explains every other case with the fix", () => {
    expect(fails("w")).toBe('no VolumeSnapshotClass for driver "w": create one or pass --class');
    expect(fails("z")).toBe(
      'driver "z" has several VolumeSnapshotClasses (z-a, z-b) and none is the default: pass --class with one of them, or mark one with snapshot.storage.kubernetes.io/is-default-class: "true"',
    );
    const twoDefaults = [cls("q-1", "q", true), cls("q-2", "q", true)];
    expect(() => snapshotClassFor("q", twoDefaults, undefined, "db", "shop")).toThrow(
      'driver "q" has several default VolumeSnapshotClasses (q-1, q-2): pass --class with one of them',
    );
    expect(fails("x", "z-a")).toMatch(/VolumeSnapshotClass "z-a" is for driver "z", not "x"/);
    expect(fails("x", "nope")).toMatch(/VolumeSnapshotClass "nope" does not exist/);
    expect(fails(undefined)).toMatch(/CSI driver of PVC "db" in namespace "shop" is unknown.*pass --class/);
    expect(fails(undefined, "nope")).toMatch(/VolumeSnapshotClass "nope" not found/);
  });
});

describe("enforce", () => {
  it("stops on denials and returns warnings", () => {
    expect(
      enforce({ allowed: true, findings: [{ rule: "r", severity: "warn", message: "careful" }] }, [
        { rule: "d", severity: "warn", message: "raised" },
      ]),
    ).toEqual(["raised", "careful"]);
    expect(() =>
      enforce({
        allowed: false,
        findings: [
          { rule: "a", severity: "deny", message: "first" },
          { rule: "b", severity: "deny", message: "second" },
        ],
      }),
    ).toThrow("first\nsecond");
  });
});
