// Group snapshots in the plugin without a cluster: parsing -l and vgs/NAME, the objects built,
// the members found, the state --wait shows, and the rows of list and tree.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { RESTORED_FROM_GROUP } from "../../../src/plugin/build.ts";
import { parseCommand } from "../../../src/plugin/cli.ts";
import { groupName, groupState, groupTree } from "../../../src/plugin/groups.ts";
import type { Item } from "../../../src/plugin/lineage.ts";
import { renderList } from "../../../src/plugin/list.ts";
import { groupClaims } from "../../../src/plugin/restore-group.ts";
import { treeRows } from "../../../src/plugin/tree.ts";
import { buildGroupSnapshot, groupMembers } from "../../../src/rules/group.ts";
import { LINEAGE, memoryLookup } from "../../../src/rules/index.ts";
import type { VolumeGroupSnapshot, VolumeSnapshot } from "../../../src/rules/types.ts";

const group: VolumeGroupSnapshot = {
  apiVersion: "groupsnapshot.storage.k8s.io/v1",
  kind: "VolumeGroupSnapshot",
  metadata: { name: "db-1", namespace: "shop", uid: "u-g", creationTimestamp: "2026-12-01T10:00:00Z" },
  spec: { volumeGroupSnapshotClassName: "vol-groups", source: { selector: { matchLabels: { app: "db" } } } },
  status: { readyToUse: true },
};

const member = (claim: string, ready: boolean, owner = "u-g"): VolumeSnapshot => ({
  metadata: {
    name: `snapshot-${claim}`,
    namespace: "shop",
    uid: `u-${claim}`,
    creationTimestamp: "2026-12-01T10:00:01Z",
    ownerReferences: [
      {
        apiVersion: "groupsnapshot.storage.k8s.io/v1",
        kind: "VolumeGroupSnapshot",
        name: "db-1",
        uid: owner,
      },
    ],
  },
  spec: { source: { persistentVolumeClaimName: claim } },
  status: { readyToUse: ready, ...(ready ? { restoreSize: "1Gi" } : {}) },
});

const pvc = (name: string, extra: Partial<V1PersistentVolumeClaim> = {}): V1PersistentVolumeClaim => ({
  metadata: {
    name,
    namespace: "shop",
    uid: `u-${name}`,
    creationTimestamp: new Date("2026-12-01T09:00:00Z"),
  },
  spec: {
    storageClassName: "vol-local",
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: "1Gi" } },
  },
  status: { phase: "Bound", capacity: { storage: "1Gi" } },
  ...extra,
});

describe("kubectl vol snapshot -l", () => {
  it("parses the selector into a group snapshot's options", async () => {
    const p = await parseCommand(["snapshot", "-l", "app=db,tier in (data,wal)", "--class", "c", "--wait"]);
    expect(p.options).toMatchObject({
      source: "app=db,tier in (data,wal)",
      className: "c",
      wait: true,
      selector: {
        matchLabels: { app: "db" },
        matchExpressions: [{ key: "tier", operator: "In", values: ["data", "wal"] }],
      },
    });
  });

  it("refuses a PVC together with -l, an empty selector and a bad one, pointing at snapshot's help", async () => {
    await expect(parseCommand(["snapshot", "db", "-l", "app=db"])).rejects.toThrow(
      /give a PVC or -l SELECTOR, not both/,
    );
    await expect(parseCommand(["snapshot", "-l", ""])).rejects.toThrow(/-l needs a selector/);
    await expect(parseCommand(["snapshot", "-l", "a b"])).rejects.toMatchObject({ verb: "snapshot" });
  });

  it("builds a VolumeGroupSnapshot with the selector and the class, named after the labels", () => {
    const selector = { matchLabels: { app: "db" } };
    expect(
      buildGroupSnapshot({ namespace: "shop", name: "db-1", selector, className: "vol-groups" }),
    ).toEqual({
      apiVersion: "groupsnapshot.storage.k8s.io/v1",
      kind: "VolumeGroupSnapshot",
      metadata: { name: "db-1", namespace: "shop" },
      spec: { volumeGroupSnapshotClassName: "vol-groups", source: { selector } },
    });
    expect(groupName(selector, "20261201-100000")).toBe("db-20261201-100000");
    expect(groupName({ matchExpressions: [{ key: "x", operator: "Exists" }] }, "t")).toBe("group-t");
    expect(groupName({ matchLabels: { "app.kubernetes.io/name": "My_DB" } }, "t")).toBe("my-db-t");
  });
});

describe("members and --wait", () => {
  it("finds the members by owner uid, by claim name", () => {
    const other = member("other", true, "u-else");
    const found = groupMembers(group, [member("wal", true), other, member("data", true)]);
    expect(found.map((m) => m.metadata.name)).toEqual(["snapshot-data", "snapshot-wal"]);
  });

  it("shows the group's progress with each member, then ready", () => {
    const pending = { ...group, status: {} };
    expect(groupState(pending, [])).toEqual({
      done: false,
      text: "not ready: waiting for the snapshot controller",
    });
    expect(groupState(pending, [member("data", true), member("wal", false)])).toEqual({
      done: false,
      text: "not ready: 1 of 2 members ready (pvc/data ready (1Gi), pvc/wal being cut)",
    });
    expect(groupState(group, [member("data", true), member("wal", true)])).toEqual({
      done: true,
      text: "ready to use: 2 members (pvc/data ready (1Gi), pvc/wal ready (1Gi))",
    });
    expect(groupState(undefined, [])).toMatchObject({ failed: true, text: "deleted" });
  });

  it("is not done while a member of a ready group has no ready status yet (it could not be restored)", () => {
    // snapshot-controller may write the group's readyToUse before the last member's status.
    expect(groupState(group, [member("data", true), member("wal", false)])).toEqual({
      done: false,
      text: "not ready: 1 of 2 members ready (pvc/data ready (1Gi), pvc/wal being cut)",
    });
  });
});

describe("kubectl vol restore vgs/NAME", () => {
  it("parses vgs/NAME and its names, with --suffix; refuses --name and --size", async () => {
    for (const arg of ["vgs/db-1", "volumegroupsnapshot/db-1", "VolumeGroupSnapshots/db-1"]) {
      expect((await parseCommand(["restore", arg, "--suffix", "r"])).options).toMatchObject({
        source: "db-1",
        group: true,
        suffix: "r",
      });
    }
    await expect(parseCommand(["restore", "vgs/db-1", "--name", "x"])).rejects.toThrow(/use --suffix/);
    await expect(parseCommand(["restore", "vgs/db-1", "--size", "1Gi"])).rejects.toThrow(
      /--size sets one claim/,
    );
    await expect(parseCommand(["restore", "vgs/db-1", "--suffix", "Bad_"])).rejects.toThrow(
      /invalid --suffix/,
    );
    await expect(parseCommand(["restore", "s1", "--suffix", "r"])).rejects.toThrow(
      /--suffix goes with a group/,
    );
  });

  it("builds one claim per member, named <claim>-<suffix>, with the usual defaults and the group recorded", async () => {
    const lookup = memoryLookup({
      pvcs: [pvc("data"), pvc("wal")],
      volumeSnapshots: [member("data", true), member("wal", true)],
    });
    const members = [member("data", true), member("wal", true)];
    const built = await groupClaims(group, members, { namespace: "shop" }, { lookup });
    expect(built.map((b) => b.claim.metadata?.name)).toEqual(["data-db-1", "wal-db-1"]);
    const first = built[0]!.claim;
    expect(first.spec).toMatchObject({
      storageClassName: "vol-local",
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "1Gi" } },
      dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "snapshot-data" },
    });
    expect(first.metadata?.annotations).toMatchObject({
      [RESTORED_FROM_GROUP]: "db-1",
      [LINEAGE.sourceKind]: "VolumeSnapshot",
      [LINEAGE.sourceName]: "snapshot-data",
      [LINEAGE.snapshotOf]: "data",
    });
    const suffixed = await groupClaims(group, members, { namespace: "shop", suffix: "restored" }, { lookup });
    expect(suffixed.map((b) => b.claim.metadata?.name)).toEqual(["data-restored", "wal-restored"]);
  });
});

describe("list and tree", () => {
  const restored = pvc("data-db-1", {
    metadata: {
      name: "data-db-1",
      namespace: "shop",
      creationTimestamp: new Date("2026-12-01T10:05:00Z"),
      annotations: {
        [RESTORED_FROM_GROUP]: "db-1",
        [LINEAGE.sourceKind]: "VolumeSnapshot",
        [LINEAGE.sourceName]: "snapshot-data",
      },
    },
  });
  const items: Item[] = [
    { kind: "PersistentVolumeClaim", obj: pvc("data") },
    { kind: "PersistentVolumeClaim", obj: pvc("wal") },
    { kind: "VolumeGroupSnapshot", obj: group },
    { kind: "VolumeSnapshot", obj: member("data", true) },
    { kind: "VolumeSnapshot", obj: member("wal", true) },
    { kind: "PersistentVolumeClaim", obj: restored },
  ];
  const now = new Date("2026-12-01T11:00:00Z");

  it("list shows the group with its selector, and a GROUP column for members and restores", () => {
    const out = renderList(items, { allNamespaces: false, output: "" }, "shop", now, { write: () => {} });
    expect(out.split("\n").map((l) => l.trimEnd())).toEqual([
      "NAME                           SOURCE                         READY   SIZE     AGE    GROUP",
      "pvc/data                       <none>                         true    1Gi      120m   <none>",
      "pvc/wal                        <none>                         true    1Gi      120m   <none>",
      "volumegroupsnapshot/db-1       -l app=db                      true    <none>   60m    <none>",
      "volumesnapshot/snapshot-data   pvc/data                       true    1Gi      59m    db-1",
      "volumesnapshot/snapshot-wal    pvc/wal                        true    1Gi      59m    db-1",
      "pvc/data-db-1                  volumesnapshot/snapshot-data   true    1Gi      55m    db-1",
      "",
    ]);
  });

  it("tree vgs/NAME shows the members and what was restored from each", () => {
    const g = items[2] as Item & { kind: "VolumeGroupSnapshot" };
    const rows = treeRows(groupTree(g, items)).map(
      (r) => `${r.prefix}${r.item.kind}/${r.item.obj.metadata?.name}`,
    );
    expect(rows).toEqual([
      "VolumeGroupSnapshot/db-1",
      "├─VolumeSnapshot/snapshot-data",
      "│ └─PersistentVolumeClaim/data-db-1",
      "└─VolumeSnapshot/snapshot-wal",
    ]);
  });
});
