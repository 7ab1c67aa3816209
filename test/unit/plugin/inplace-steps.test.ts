// The in-place restore's step machine: for every recorded state, what --continue and --abort
// do next; which copy of the record wins; and that no workload is ever started on a claim that
// may be empty.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { reboundClaim, restoredClaim } from "../../../src/plugin/inplace-plan.ts";
import {
  abortActions,
  continueSteps,
  currentRecord,
  decodeRecord,
  encodeRecord,
  identify,
  onFailure,
  type RunRecord,
  STEPS,
  safeToScaleUp,
} from "../../../src/plugin/inplace-steps.ts";

const record = (over: Partial<RunRecord> = {}): RunRecord => ({
  v: 1,
  step: "snapshot",
  mode: "restore",
  namespace: "shop",
  claim: "db",
  claimUid: "uid-old",
  uids: ["uid-old"],
  snapshot: "db-1400",
  snapshotUid: "uid-snap",
  safety: "db-before-restore-20261201-141000",
  volume: "pv-old",
  reclaimPolicy: "Delete",
  workloads: [{ kind: "StatefulSet", name: "db", replicas: 2 }],
  size: "10Gi",
  template: { spec: { storageClassName: "fast", accessModes: ["ReadWriteOnce"], storage: "10Gi" } },
  started: "2026-12-01T14:10:00.000Z",
  ...over,
});

const pvc = (uid: string, over: Partial<V1PersistentVolumeClaim> = {}): V1PersistentVolumeClaim => ({
  metadata: { name: "db", namespace: "shop", uid, ...over.metadata },
  spec: { storageClassName: "fast", ...over.spec },
});

describe("continue", () => {
  it("takes the recorded step again, then every later one, for each recorded state", () => {
    const expected: Record<string, string[]> = {
      snapshot: ["snapshot", "retain", "scale-down", "delete-claim", "create-claim", "scale-up"],
      retain: ["retain", "scale-down", "delete-claim", "create-claim", "scale-up"],
      "scale-down": ["scale-down", "delete-claim", "create-claim", "scale-up"],
      "delete-claim": ["delete-claim", "create-claim", "scale-up"],
      "create-claim": ["create-claim", "scale-up"],
      "scale-up": ["scale-up"],
    };
    for (const step of STEPS)
      expect(continueSteps(record({ step }))).toEqual({ ok: true, steps: expected[step] });
  });

  it("refuses a run being rolled back, pointing at --abort", () => {
    for (const step of STEPS) {
      const c = continueSteps(record({ step, mode: "abort" }));
      expect(c.ok).toBe(false);
      expect(c.ok ? "" : c.message).toContain("'kubectl vol restore --in-place --abort db -n shop'");
    }
  });
});

describe("abort", () => {
  it("undoes exactly what the recorded step may have done, for each recorded state", () => {
    const undo = (step: (typeof STEPS)[number]) => abortActions(record({ step }));
    expect(undo("snapshot")).toEqual({ ok: true, actions: ["clear"] });
    expect(undo("retain")).toEqual({ ok: true, actions: ["reclaim-policy", "clear"] });
    expect(undo("scale-down")).toEqual({ ok: true, actions: ["scale-up", "reclaim-policy", "clear"] });
    for (const step of ["delete-claim", "create-claim"] as const) {
      expect(undo(step)).toEqual({
        ok: true,
        actions: ["delete-restored", "rebind", "scale-up", "reclaim-policy", "clear"],
      });
    }
  });

  it("after the claim was replaced and the workloads are starting, points at --continue and the undo", () => {
    const a = abortActions(record({ step: "scale-up" }));
    expect(a.ok).toBe(false);
    expect(a.ok ? "" : a.message).toBe(
      `PVC "db" in namespace "shop" already holds the data of VolumeSnapshot "db-1400" and its workloads are being started, so there is nothing left to roll back: finish with 'kubectl vol restore --in-place --continue db -n shop', then put the earlier data back with 'kubectl vol restore db-before-restore-20261201-141000 --in-place -n shop'`,
    );
  });

  it("an abort in progress is continued by --abort (same actions)", () => {
    expect(abortActions(record({ step: "create-claim", mode: "abort" }))).toEqual(
      abortActions(record({ step: "create-claim" })),
    );
  });

  it("a failure rolls back by itself only while the old claim has not been deleted", () => {
    expect(STEPS.map((s) => onFailure(s))).toEqual([
      "rollback",
      "rollback",
      "rollback",
      "stop",
      "stop",
      "stop",
    ]);
  });
});

describe("the record", () => {
  it("round-trips through its annotation text and rejects what is not one", () => {
    const r = record({ step: "delete-claim" });
    expect(decodeRecord(encodeRecord(r))).toEqual(r);
    for (const bad of [
      undefined,
      "",
      "{",
      "null",
      "[]",
      '{"v":2}',
      encodeRecord({ ...r, step: "x" as never }),
    ]) {
      expect(decodeRecord(bad)).toBeUndefined();
    }
  });

  it("the later of two copies wins (a write that reached one and not the other); an abort wins", () => {
    const a = record({ step: "scale-down" });
    const b = record({ step: "delete-claim" });
    expect(currentRecord([a, b])?.step).toBe("delete-claim");
    expect(currentRecord([b, undefined, a])?.step).toBe("delete-claim");
    expect(currentRecord([b, record({ step: "scale-down", mode: "abort" })])?.mode).toBe("abort");
    expect(currentRecord([undefined])).toBeUndefined();
  });
});

describe("never a workload running on an empty volume", () => {
  const r = record({ step: "scale-up" });

  it("tells the claims apart: old, restored by this run, bound again to the old volume, or foreign", () => {
    expect(identify(r, undefined)).toBe("missing");
    expect(identify(r, pvc("uid-old"))).toBe("old");
    expect(identify(r, pvc("uid-old", { metadata: { deletionTimestamp: new Date() } }))).toBe("deleting");
    expect(
      identify(r, { ...restoredClaim(r), metadata: { ...restoredClaim(r).metadata, uid: "uid-new" } }),
    ).toBe("restored");
    expect(
      identify(r, { ...reboundClaim(r), metadata: { ...reboundClaim(r).metadata, uid: "uid-back" } }),
    ).toBe("rebound");
    // A claim of the same name made by someone else (a StatefulSet's template): no data source.
    expect(identify(r, pvc("uid-template"))).toBe("foreign");
    // Restored from the snapshot, but not by this run (no annotation): foreign too.
    expect(
      identify(
        r,
        pvc("uid-other", {
          spec: {
            dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "db-1400" },
          },
        }),
      ),
    ).toBe("foreign");
    // Bound to the old volume without the record: not a claim an abort made.
    expect(identify(r, pvc("uid-x", { spec: { volumeName: "pv-old" } }))).toBe("foreign");
  });

  it("scales up only on the old claim, the restored one or the old volume bound again", () => {
    expect(safeToScaleUp(r, pvc("uid-old"))).toEqual({ ok: true });
    expect(
      safeToScaleUp(r, { ...restoredClaim(r), metadata: { ...restoredClaim(r).metadata, uid: "n" } }),
    ).toEqual({
      ok: true,
    });
    expect(
      safeToScaleUp(r, { ...reboundClaim(r), metadata: { ...reboundClaim(r).metadata, uid: "b" } }),
    ).toEqual({
      ok: true,
    });
  });

  it("refuses a missing claim (a StatefulSet would make an empty one), a deleting or a foreign one", () => {
    const missing = safeToScaleUp(r, undefined);
    expect(missing).toEqual({
      ok: false,
      message: `PVC "db" in namespace "shop" does not exist, and a workload started now would get an empty volume; StatefulSet "db" stays at zero: run 'kubectl vol restore --in-place --continue db -n shop' or 'kubectl vol restore --in-place --abort db -n shop'`,
    });
    expect(safeToScaleUp(r, pvc("uid-old", { metadata: { deletionTimestamp: new Date() } })).ok).toBe(false);
    const foreign = safeToScaleUp(r, pvc("uid-template"));
    expect(foreign.ok).toBe(false);
    expect(foreign.ok ? "" : foreign.message).toContain("(uid uid-template) was made by someone else");
  });
});
