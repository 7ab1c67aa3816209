// A claim on a volume no CSI driver holds (a static hostPath PV) can be neither cloned nor
// snapshotted: the rules deny both with the real cause instead of letting them wait forever.
import type { V1PersistentVolume } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { checkClaim, checkSnapshot, memoryLookup, nonCsiVolumeType } from "../../../src/rules/index.ts";
import { claim, DRIVER, snapshotClass, storageClass } from "./fixtures.ts";

const pv = (name: string, source: Record<string, unknown>): V1PersistentVolume => ({
  metadata: { name },
  spec: {
    capacity: { storage: "1Gi" },
    accessModes: ["ReadWriteOnce"],
    storageClassName: "manual",
    ...source,
  },
});
const bound = (name: string, volume: string, sc: string) =>
  claim(
    name,
    { storageClassName: sc, volumeName: volume, resources: { requests: { storage: "1Gi" } } },
    {
      phase: "Bound",
      capacity: "1Gi",
    },
  );

const lookup = memoryLookup({
  pvcs: [bound("static", "pv-static", "manual"), bound("csi", "pv-csi", "fast")],
  pvs: [
    pv("pv-static", { hostPath: { path: "/data" } }),
    pv("pv-csi", { csi: { driver: DRIVER, volumeHandle: "h" } }),
  ],
  storageClasses: [storageClass("fast", DRIVER), storageClass("manual", "kubernetes.io/no-provisioner")],
  volumeSnapshotClasses: [snapshotClass("snaps", DRIVER, true)],
});

const cloneOf = (source: string, sc: string) =>
  claim("copy", {
    storageClassName: sc,
    resources: { requests: { storage: "1Gi" } },
    dataSource: { kind: "PersistentVolumeClaim", name: source },
  });
const snapshotOf = (pvc: string) => ({
  metadata: { name: "s", namespace: "shop" },
  spec: { source: { persistentVolumeClaimName: pvc } },
});

describe("a source that is not a CSI volume", () => {
  it("names the volume type", () => {
    expect(nonCsiVolumeType(pv("a", { hostPath: { path: "/x" } }))).toBe("hostPath");
    expect(nonCsiVolumeType(pv("b", { nfs: { server: "n", path: "/" } }))).toBe("nfs");
    expect(nonCsiVolumeType(pv("c", { csi: { driver: DRIVER, volumeHandle: "h" } }))).toBeUndefined();
  });

  it("denies a clone of it, whatever class the clone names", async () => {
    for (const sc of ["manual", "fast"]) {
      const d = await checkClaim(cloneOf("static", sc), lookup);
      expect(d.allowed).toBe(false);
      expect(d.findings).toEqual([
        {
          rule: "clone-source-csi",
          severity: "deny",
          message:
            'PVC "static" in namespace "shop" is bound to PersistentVolume "pv-static", a hostPath volume, not a CSI volume: only a CSI driver can clone a volume, so the clone would never be made; copy the data with a pod that mounts both claims instead',
        },
      ]);
    }
    expect((await checkClaim(cloneOf("csi", "fast"), lookup)).allowed).toBe(true);
  });

  it("denies a snapshot of it instead of asking for a class for kubernetes.io/no-provisioner", async () => {
    const d = await checkSnapshot(snapshotOf("static"), lookup);
    expect(d.findings.map((f) => [f.rule, f.severity])).toEqual([["snapshot-source-csi", "deny"]]);
    expect(d.findings[0]?.message).toMatch(
      /a hostPath volume, not a CSI volume: only a CSI driver can take a snapshot/,
    );
    expect(d.findings[0]?.message).not.toMatch(/VolumeSnapshotClass/);
    expect((await checkSnapshot(snapshotOf("csi"), lookup)).allowed).toBe(true);
  });
});
