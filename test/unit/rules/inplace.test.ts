// The pre-flight rules of an in-place restore, over plain objects.
import type { V1PersistentVolume } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  checkInPlace,
  claimUids,
  IN_PLACE,
  type InPlaceFacts,
  LINEAGE,
  restoredSize,
  snapshotClaimName,
} from "../../../src/rules/index.ts";
import { claim, content, DRIVER, db, OTHER, snapshot, storageClass } from "./fixtures.ts";

const pv = (csi = true): V1PersistentVolume => ({
  metadata: { name: "pv-db" },
  spec: csi ? { csi: { driver: DRIVER, volumeHandle: "vol-1" } } : { hostPath: { path: "/x" } },
});

function facts(over: Partial<InPlaceFacts> = {}): InPlaceFacts {
  const c = db();
  c.spec = { ...c.spec, volumeName: "pv-db" };
  return {
    snapshot: snapshot("db-snap", { restoreSize: "10Gi", content: "snapcontent-1" }),
    content: content("snapcontent-1"),
    claim: c,
    volume: pv(),
    storageClass: storageClass("fast", DRIVER),
    ...over,
  };
}

const rules = (f: InPlaceFacts) => checkInPlace(f).findings.map((x) => `${x.severity} ${x.rule}`);
const message = (f: InPlaceFacts) => checkInPlace(f).findings[0]?.message ?? "";

describe("checkInPlace", () => {
  it("allows a ready snapshot of the claim, on its driver", () => {
    expect(checkInPlace(facts())).toEqual({ allowed: true, findings: [] });
  });

  it("finds the claim by spec.source, else by the lineage annotations", () => {
    const s = snapshot("x");
    expect(snapshotClaimName(s)).toBe("db");
    s.spec.source = { volumeSnapshotContentName: "c1" };
    expect(snapshotClaimName(s)).toBeUndefined();
    s.metadata.annotations = { [LINEAGE.sourceKind]: "PersistentVolumeClaim", [LINEAGE.sourceName]: "web" };
    expect(snapshotClaimName(s)).toBe("web");
  });

  it("refuses a pre-provisioned snapshot: there is no claim to put back", () => {
    const s = snapshot("imported");
    s.spec.source = { volumeSnapshotContentName: "c1" };
    expect(rules(facts({ snapshot: s }))).toEqual(["deny inplace-snapshot-source"]);
    expect(message(facts({ snapshot: s }))).toContain("kubectl vol restore imported --name NAME");
  });

  it("refuses a snapshot that is not ready, failed or being deleted", () => {
    expect(rules(facts({ snapshot: snapshot("db-snap", { ready: false }) }))).toEqual([
      "deny inplace-snapshot-ready",
    ]);
    expect(message(facts({ snapshot: snapshot("db-snap", { ready: false }) }))).toBe(
      'VolumeSnapshot "db-snap" in namespace "shop" is not ready to use yet: wait until it is (kubectl get volumesnapshot db-snap -n shop), then run the restore again',
    );
    expect(rules(facts({ snapshot: snapshot("db-snap", { error: "disk on fire" }) }))).toEqual([
      "deny inplace-snapshot-error",
    ]);
    expect(rules(facts({ snapshot: snapshot("db-snap", { deleting: true }) }))).toEqual([
      "deny inplace-snapshot-deleting",
    ]);
  });

  it("refuses when the claim is gone, and says how to restore it under that name", () => {
    expect(rules(facts({ claim: undefined }))).toEqual(["deny inplace-claim-exists"]);
    expect(message(facts({ claim: undefined }))).toContain("'kubectl vol restore db-snap --name db'");
  });

  it("refuses a snapshot of an earlier claim of the same name (uid), accepts one of a claim it replaced", () => {
    const s = snapshot("db-snap", { restoreSize: "10Gi" });
    s.metadata.annotations = {
      [LINEAGE.sourceKind]: "PersistentVolumeClaim",
      [LINEAGE.sourceName]: "db",
      [LINEAGE.sourceUid]: "uid-of-another-db",
    };
    expect(rules(facts({ snapshot: s }))).toEqual(["deny inplace-claim-identity"]);
    expect(message(facts({ snapshot: s }))).toBe(
      'VolumeSnapshot "db-snap" in namespace "shop" was taken of an earlier claim named "db" (uid uid-of-another-db), not of the current PVC "db" in namespace "shop" (uid uid-db): restore it into a new claim with \'kubectl vol restore db-snap --name NAME\', or restore PVC "db" in namespace "shop" from a snapshot of its own',
    );
    const f = facts({ snapshot: s });
    f.claim!.metadata!.annotations = { [IN_PLACE.previousUids]: "uid-first,uid-of-another-db" };
    expect(claimUids(f.claim!)).toEqual(["uid-first", "uid-of-another-db", "uid-db"]);
    expect(checkInPlace(f).allowed).toBe(true);
    s.metadata.annotations[LINEAGE.sourceUid] = "uid-db";
    expect(checkInPlace(facts({ snapshot: s })).allowed).toBe(true);
  });

  it("refuses a claim with a run in progress, naming both ways out", () => {
    const f = facts();
    f.claim!.metadata!.annotations = { [IN_PLACE.record]: "{}" };
    expect(rules(f)).toEqual(["deny inplace-claim-busy"]);
    expect(message(f)).toContain("'kubectl vol restore --in-place --continue db -n shop'");
    expect(message(f)).toContain("'kubectl vol restore --in-place --abort db -n shop'");
  });

  it("refuses a claim that is Pending, being deleted, or not on a CSI volume", () => {
    const pending = claim("db", { storageClassName: "fast" }, { phase: "Pending" });
    expect(rules(facts({ claim: pending }))).toEqual(["deny inplace-claim-bound"]);
    const deleting = claim(
      "db",
      { storageClassName: "fast", volumeName: "pv-db" },
      { phase: "Bound", deleting: true },
    );
    expect(rules(facts({ claim: deleting }))).toEqual(["deny inplace-claim-deleting"]);
    expect(rules(facts({ volume: pv(false) }))).toEqual(["deny inplace-volume"]);
    expect(rules(facts({ volume: undefined }))).toEqual(["deny inplace-volume"]);
  });

  it("refuses the wrong driver, naming both and the way out", () => {
    const f = facts({ storageClass: storageClass("fast", OTHER) });
    expect(rules(f)).toEqual(["deny inplace-driver"]);
    expect(message(f)).toBe(
      `VolumeSnapshot "db-snap" in namespace "shop" was cut by driver "${DRIVER}" but PVC "db" in namespace "shop" is provisioned by "${OTHER}" (StorageClass "fast"), which cannot restore it: restore into a new claim of a class of "${DRIVER}" with 'kubectl vol restore db-snap --name NAME --storage-class CLASS'`,
    );
    // No content yet: the snapshot class's driver decides.
    expect(rules(facts({ content: undefined, snapshotClassDriver: OTHER }))).toEqual(["deny inplace-driver"]);
  });

  it("refuses a missing class and another volume mode", () => {
    expect(rules(facts({ storageClass: undefined }))).toEqual(["deny inplace-class"]);
    expect(rules(facts({ content: content("snapcontent-1", DRIVER, "Block") }))).toEqual([
      "deny inplace-volume-mode",
    ]);
    const allowed = content("snapcontent-1", DRIVER, "Block", {
      "snapshot.storage.kubernetes.io/allow-volume-mode-change": "true",
    });
    expect(rules(facts({ content: allowed }))).toEqual([]);
  });

  it("warns when the restoreSize is more than the claim's request; the restored size is the larger", () => {
    const f = facts({ snapshot: snapshot("db-snap", { restoreSize: "12Gi", content: "snapcontent-1" }) });
    expect(rules(f)).toEqual(["warn inplace-size"]);
    expect(restoredSize(f.claim!, f.snapshot, f.content)).toBe("12Gi");
    expect(restoredSize(f.claim!, snapshot("s", { restoreSize: "1Gi" }), undefined)).toBe("10Gi");
    // The content's restoreSize (bytes) when the snapshot shows none.
    expect(
      restoredSize(claim("x", { resources: { requests: { storage: "1Gi" } } }), snapshot("s"), content("c")),
    ).toBe("10Gi");
  });
});
