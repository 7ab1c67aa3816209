import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  checkGroupSnapshot,
  checkSnapshot,
  chooseGroupSnapshotClass,
  claimNode,
  groupFacts,
  matchesSelector,
  memoryLookup,
  type Objects,
  type VolumeGroupSnapshot,
  type VolumeGroupSnapshotClass,
} from "../../../src/rules/index.ts";
import { claim, OTHER, storageClass } from "./fixtures.ts";

const VOL = "vol.kubectl.io";

const groupClass = (name: string, driver: string, isDefault = false): VolumeGroupSnapshotClass => ({
  metadata: {
    name,
    annotations: isDefault ? { "groupsnapshot.storage.kubernetes.io/is-default-class": "true" } : {},
  },
  driver,
  deletionPolicy: "Delete",
});

/** A Bound claim labelled app=db of StorageClass `sc`. */
function member(name: string, sc = "local", phase = "Bound"): V1PersistentVolumeClaim {
  const c = claim(
    name,
    { storageClassName: sc, volumeName: `pv-${name}`, resources: { requests: { storage: "1Gi" } } },
    { phase, capacity: "1Gi" },
  );
  c.metadata = { ...c.metadata, labels: { app: "db" } };
  return c;
}

function pv(name: string, driver: string, node: string): V1PersistentVolume {
  return {
    metadata: { name: `pv-${name}` },
    spec: {
      csi: { driver, volumeHandle: `vol-${name}` },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [
            { matchExpressions: [{ key: "topology.vol.kubectl.io/node", operator: "In", values: [node] }] },
          ],
        },
      },
    },
  };
}

function objects(over: Partial<Objects> = {}): Objects {
  return {
    pvcs: [member("data"), member("wal"), claim("unrelated", {}, { phase: "Bound" })],
    pvs: [pv("data", VOL, "n1"), pv("wal", VOL, "n1")],
    storageClasses: [storageClass("local", VOL, true), storageClass("net", OTHER)],
    volumeGroupSnapshotClasses: [groupClass("vol-groups", VOL, true)],
    referenceGrants: [],
    ...over,
  };
}

const group = (cls?: string, selector = { matchLabels: { app: "db" } }): VolumeGroupSnapshot => ({
  apiVersion: "groupsnapshot.storage.k8s.io/v1",
  kind: "VolumeGroupSnapshot",
  metadata: { name: "g", namespace: "shop" },
  spec: { source: { selector }, ...(cls ? { volumeGroupSnapshotClassName: cls } : {}) },
});

const deniedWith = async (o: Objects, g = group()) => {
  const d = await checkGroupSnapshot(g, memoryLookup(o));
  expect(d.allowed).toBe(false);
  return d.findings.map((f) => `${f.rule}: ${f.message}`).join("\n");
};

describe("groupFacts", () => {
  it("finds the members by label, their driver, node and the default class", async () => {
    const f = await groupFacts("shop", { matchLabels: { app: "db" } }, undefined, memoryLookup(objects()));
    expect(f.findings).toEqual([]);
    expect(f.members.map((m) => m.metadata?.name)).toEqual(["data", "wal"]);
    expect(f.driver).toBe(VOL);
    expect(f.node).toBe("n1");
    expect(f.choice?.ok && [f.choice.class.metadata.name, f.choice.how]).toEqual(["vol-groups", "default"]);
  });

  it("takes a named class and the driver's only class", async () => {
    const o = objects({ volumeGroupSnapshotClasses: [groupClass("a", VOL), groupClass("b", OTHER)] });
    const only = await groupFacts("shop", { matchLabels: { app: "db" } }, undefined, memoryLookup(o));
    expect(only.choice?.ok && [only.choice.class.metadata.name, only.choice.how]).toEqual(["a", "only"]);
    const named = await groupFacts("shop", { matchLabels: { app: "db" } }, "a", memoryLookup(o));
    expect(named.choice?.ok && named.choice.how).toBe("named");
  });
});

describe("checkGroupSnapshot", () => {
  it("admits a group of Bound claims of one driver on one node with a default class", async () => {
    const d = await checkGroupSnapshot(group(), memoryLookup(objects()));
    expect(d).toEqual({ allowed: true, findings: [] });
  });

  it("denies a selector that matches no claim, with the selector and the fix", async () => {
    const msg = await deniedWith(objects(), group(undefined, { matchLabels: { app: "nothing" } }));
    expect(msg).toBe(
      'group-selector: VolumeGroupSnapshot "g" in namespace "shop" selects no PVC in namespace "shop" (selector "app=nothing"; none of its 3 PVCs has those labels): label the claims to snapshot together with app=nothing, or fix the selector',
    );
    const empty = await deniedWith(objects({ pvcs: [] }));
    expect(empty).toMatch(/there is no PVC there/);
  });

  it("denies members that are not Bound, naming each with its phase", async () => {
    const o = objects({ pvcs: [member("data"), member("wal", "local", "Pending")] });
    expect(await deniedWith(o)).toBe(
      'group-member-bound: VolumeGroupSnapshot "g" in namespace "shop" needs every member Bound, and PVC "wal" (Pending) in namespace "shop" is not: wait until it is Bound, or take the selector\'s labels off it',
    );
    const gone = member("wal");
    gone.metadata = { ...gone.metadata, deletionTimestamp: new Date() };
    expect(await deniedWith(objects({ pvcs: [member("data"), gone] }))).toMatch(
      /PVC "wal" \(being deleted\)/,
    );
  });

  it("denies a member on a volume that is not CSI", async () => {
    const host: V1PersistentVolume = { metadata: { name: "pv-wal" }, spec: { hostPath: { path: "/x" } } };
    const msg = await deniedWith(objects({ pvs: [pv("data", VOL, "n1"), host] }));
    expect(msg).toMatch(
      /^group-member-csi: PVC "wal" in namespace "shop" is bound to PersistentVolume "pv-wal", a hostPath volume/,
    );
  });

  it("denies members of two CSI drivers, naming the claims of each", async () => {
    const o = objects({ pvs: [pv("data", VOL, "n1"), pv("wal", OTHER, "n1")] });
    expect(await deniedWith(o)).toBe(
      `group-driver: VolumeGroupSnapshot "g" in namespace "shop" mixes CSI drivers (PVCs "data" on driver "${VOL}" and "wal" on driver "${OTHER}", in namespace "shop"): one group snapshot is cut by one driver, so narrow the selector to the claims of one driver`,
    );
  });

  it("denies members on two nodes of a node-local driver, naming the nodes", async () => {
    const o = objects({ pvs: [pv("data", VOL, "n1"), pv("wal", VOL, "n2")] });
    expect(await deniedWith(o)).toBe(
      `group-node: VolumeGroupSnapshot "g" in namespace "shop" spans nodes (PVCs "data" on node "n1" and "wal" on node "n2", in namespace "shop"): driver "${VOL}" keeps each volume on its node, so one group snapshot can only hold the claims of one node; narrow the selector to one node's claims`,
    );
  });

  it("lets a networked driver's members be on any nodes", async () => {
    const net = (name: string): V1PersistentVolume => ({
      metadata: { name: `pv-${name}` },
      spec: { csi: { driver: OTHER, volumeHandle: name } },
    });
    const pvcs = [member("data", "net"), member("wal", "net")];
    pvcs[0]!.metadata!.annotations = { "volume.kubernetes.io/selected-node": "n1" };
    pvcs[1]!.metadata!.annotations = { "volume.kubernetes.io/selected-node": "n2" };
    const o = objects({
      pvcs,
      pvs: [net("data"), net("wal")],
      volumeGroupSnapshotClasses: [groupClass("net-groups", OTHER, true)],
    });
    expect((await checkGroupSnapshot(group(), memoryLookup(o))).allowed).toBe(true);
  });

  it("denies a missing class: none for the driver, a named one that does not exist, no API", async () => {
    expect(await deniedWith(objects({ volumeGroupSnapshotClasses: [groupClass("x", OTHER)] }))).toBe(
      `group-class: VolumeGroupSnapshot "g" in namespace "shop": no VolumeGroupSnapshotClass is for driver "${VOL}" (the classes are "x" (driver "${OTHER}")): create a VolumeGroupSnapshotClass with driver: ${VOL}`,
    );
    expect(await deniedWith(objects(), group("nope"))).toMatch(
      /VolumeGroupSnapshotClass "nope" does not exist: use "vol-groups"/,
    );
    expect(await deniedWith(objects({ volumeGroupSnapshotClasses: undefined }))).toMatch(
      /the VolumeGroupSnapshotClass API \(groupsnapshot.storage.k8s.io\/v1\) is not installed/,
    );
  });

  it("asks to name the driver's only class when none is the default", async () => {
    const msg = await deniedWith(objects({ volumeGroupSnapshotClasses: [groupClass("only", VOL)] }));
    expect(msg).toMatch(
      /set spec.volumeGroupSnapshotClassName: only, or annotate VolumeGroupSnapshotClass "only"/,
    );
    const named = await checkGroupSnapshot(
      group("only"),
      memoryLookup(objects({ volumeGroupSnapshotClasses: [groupClass("only", VOL)] })),
    );
    expect(named.allowed).toBe(true);
  });

  it("checks only CREATE with a selector", async () => {
    const bad = objects({ pvcs: [] });
    for (const op of ["UPDATE", "DELETE"] as const) {
      expect((await checkGroupSnapshot(group(), memoryLookup(bad), op)).allowed).toBe(true);
    }
    const pre: VolumeGroupSnapshot = {
      ...group(),
      spec: { source: { volumeGroupSnapshotContentName: "c" } },
    };
    expect((await checkGroupSnapshot(pre, memoryLookup(bad))).allowed).toBe(true);
  });
});

describe("helpers", () => {
  it("chooseGroupSnapshotClass refuses two defaults", () => {
    const c = chooseGroupSnapshotClass(VOL, [groupClass("a", VOL, true), groupClass("b", VOL, true)]);
    expect(!c.ok && c.message).toMatch(/has 2 default VolumeGroupSnapshotClasses \("a", "b"\)/);
  });

  it("claimNode reads the volume's node affinity, else the selected-node annotation", () => {
    expect(claimNode(member("a"), pv("a", VOL, "n7"))).toBe("n7");
    const c = member("a");
    c.metadata!.annotations = { "volume.kubernetes.io/selected-node": "n3" };
    expect(claimNode(c, undefined)).toBe("n3");
    expect(claimNode(member("a"), undefined)).toBeUndefined();
  });

  it("matchesSelector follows the API server's rules", () => {
    const labels = { app: "db", tier: "wal" };
    expect(matchesSelector(labels, { matchLabels: { app: "db" } })).toBe(true);
    expect(
      matchesSelector(labels, { matchExpressions: [{ key: "tier", operator: "In", values: ["x"] }] }),
    ).toBe(false);
    expect(matchesSelector(labels, { matchExpressions: [{ key: "gone", operator: "DoesNotExist" }] })).toBe(
      true,
    );
  });

  it("a member VolumeSnapshot of a group passes checkSnapshot (its group was checked)", async () => {
    const snap = {
      metadata: {
        name: "snapshot-1",
        namespace: "shop",
        ownerReferences: [
          { apiVersion: "groupsnapshot.storage.k8s.io/v1", kind: "VolumeGroupSnapshot", name: "g" },
        ],
      },
      spec: { source: { persistentVolumeClaimName: "data" } },
    };
    const o = memoryLookup(objects({ volumeSnapshotClasses: [] }));
    expect((await checkSnapshot(snap, o)).allowed).toBe(true);
    expect((await checkSnapshot({ ...snap, metadata: { name: "s", namespace: "shop" } }, o)).allowed).toBe(
      false,
    );
  });
});
