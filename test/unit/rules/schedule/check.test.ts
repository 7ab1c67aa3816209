// The admission checks of a SnapshotSchedule (plugin pre-flight and webhook), over plain objects.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { memoryLookup } from "../../../../src/rules/index.ts";
import { checkSchedule } from "../../../../src/rules/schedule/check.ts";
import type { ScheduleSpec } from "../../../../src/rules/schedule/spec.ts";
import type { VolumeGroupSnapshotClass } from "../../../../src/rules/types.ts";

const pvc = (name: string, labels: Record<string, string> = {}): V1PersistentVolumeClaim => ({
  metadata: { name, namespace: "shop", labels },
  spec: { storageClassName: "local" },
  status: { phase: "Bound" },
});
const claims = [pvc("db", { backup: "yes" }), pvc("cache")];
const lookup = memoryLookup({
  pvcs: claims,
  storageClasses: [{ metadata: { name: "local" }, provisioner: "vol.kubectl.io" }],
  volumeSnapshotClasses: [
    { metadata: { name: "vol-snapshots" }, driver: "vol.kubectl.io", deletionPolicy: "Delete" },
    { metadata: { name: "elsewhere" }, driver: "other.csi.example", deletionPolicy: "Delete" },
  ],
});
const check = (spec: ScheduleSpec) =>
  checkSchedule({ metadata: { name: "s", namespace: "shop" }, spec }, lookup, async () => claims);
const rules = async (spec: ScheduleSpec) =>
  (await check(spec)).findings.map((f) => `${f.severity} ${f.rule}`);

describe("checkSchedule", () => {
  it("admits a good schedule with no findings", async () => {
    expect(await check({ claim: "db", every: "1h", keep: 3 })).toEqual({ allowed: true, findings: [] });
    expect(await rules({ selector: { matchLabels: { backup: "yes" } }, cron: "@daily", keep: 3 })).toEqual(
      [],
    );
  });
  it("denies a class of another driver, naming it", async () => {
    const d = await check({ claim: "db", every: "1h", keep: 3, snapshotClassName: "elsewhere" });
    expect(d.allowed).toBe(false);
    expect(d.findings).toEqual([
      expect.objectContaining({
        rule: "schedule-class",
        severity: "deny",
        message: expect.stringMatching(/"elsewhere"/),
      }),
    ]);
    expect(await rules({ claim: "db", every: "1h", keep: 3, snapshotClassName: "nope" })).toEqual([
      "deny schedule-class",
    ]);
  });
  it("warns about a selector that matches nothing, and about a period under a minute", async () => {
    const d = await check({ selector: { matchLabels: { team: "none" } }, every: "10s", keep: 3 });
    expect(d.allowed).toBe(true);
    expect(d.findings.map((f) => f.message)).toEqual([
      'spec.every "10s" is below one minute: vol-controller takes it only when run with a shorter --min-interval',
      'the selector "team=none" matches no PVC in namespace "shop" yet: runs fail until a claim carries those labels',
    ]);
  });
  it("warns about a missing claim (a file may hold the claim after it) and denies a malformed spec", async () => {
    expect(await rules({ claim: "gone", every: "1h", keep: 3 })).toEqual(["warn schedule-claim-exists"]);
    expect((await check({ claim: "gone", every: "1h", keep: 3 })).allowed).toBe(true);
    expect(await rules({ claim: "db", every: "1h" })).toEqual(["deny schedule-spec"]);
  });
});

describe("checkSchedule of a group schedule (spec.group: the group snapshot rules)", () => {
  const onNode = (name: string, node: string, labels: Record<string, string>): V1PersistentVolumeClaim => ({
    ...pvc(name, labels),
    metadata: {
      name,
      namespace: "shop",
      labels,
      annotations: { "volume.kubernetes.io/selected-node": node },
    },
  });
  const members = [
    onNode("db", "node-a", { app: "shop" }),
    onNode("logs", "node-a", { app: "shop" }),
    onNode("far", "node-b", { app: "wide" }),
    onNode("near", "node-a", { app: "wide" }),
    { ...onNode("new", "node-a", { app: "fresh" }), status: { phase: "Pending" } },
  ];
  const groupClasses: VolumeGroupSnapshotClass[] = [
    {
      metadata: {
        name: "vol-group-snapshots",
        annotations: { "groupsnapshot.storage.kubernetes.io/is-default-class": "true" },
      },
      driver: "vol.kubectl.io",
      deletionPolicy: "Delete",
    },
    { metadata: { name: "elsewhere-groups" }, driver: "other.csi.example", deletionPolicy: "Delete" },
  ];
  const lookupWith = (classes: typeof groupClasses | undefined) =>
    memoryLookup({
      pvcs: members,
      storageClasses: [{ metadata: { name: "local" }, provisioner: "vol.kubectl.io" }],
      volumeSnapshotClasses: [],
      volumeGroupSnapshotClasses: classes,
    });
  const group = (
    app: string,
    extra: Partial<ScheduleSpec> = {},
    classes: typeof groupClasses | "none" = groupClasses,
  ) =>
    checkSchedule(
      {
        metadata: { name: "nightly", namespace: "shop" },
        spec: { selector: { matchLabels: { app } }, group: true, every: "1h", keep: 3, ...extra },
      },
      lookupWith(classes === "none" ? undefined : classes),
      async () => members,
    );
  const found = async (d: ReturnType<typeof group>) =>
    (await d).findings.map((f) => `${f.severity} ${f.rule}: ${f.message}`);

  it("admits claims of one driver on one node, with the driver's default group class", async () => {
    expect(await group("shop")).toEqual({ allowed: true, findings: [] });
    expect((await group("shop", { groupSnapshotClassName: "vol-group-snapshots" })).allowed).toBe(true);
  });
  it("warns about a selector that matches nothing yet and about a member not Bound yet", async () => {
    expect(await found(group("none"))).toEqual([
      'warn schedule-selector-empty: the selector "app=none" matches no PVC in namespace "shop" yet: runs fail until a claim carries those labels',
    ]);
    const pending = await group("fresh");
    expect(pending.allowed).toBe(true);
    expect(pending.findings).toEqual([
      expect.objectContaining({
        rule: "group-member-bound",
        severity: "warn",
        message: expect.stringMatching(/PVC "new" \(Pending\).*\(until then its runs fail\)$/),
      }),
    ]);
  });
  it("denies claims on two nodes, a group class of another driver, and a cluster without group snapshots", async () => {
    const wide = await group("wide");
    expect(wide.allowed).toBe(false);
    expect(await found(group("wide"))).toEqual([
      expect.stringMatching(
        /^deny group-node: the group snapshot of SnapshotSchedule "nightly" spans nodes \(PVCs "far" on node "node-b" and "near" on node "node-a"/,
      ),
    ]);
    expect(await found(group("shop", { groupSnapshotClassName: "elsewhere-groups" }))).toEqual([
      expect.stringMatching(/^deny schedule-class: .*"elsewhere-groups"/),
    ]);
    expect(await found(group("shop", {}, "none"))).toEqual([
      expect.stringMatching(/^deny schedule-class: the VolumeGroupSnapshotClass API .* is not installed/),
    ]);
  });
});
