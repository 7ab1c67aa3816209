import { describe, expect, it } from "vitest";
import {
  buildScheduledGroupSnapshot,
  buildScheduledSnapshot,
  KEEP_ANNOTATION,
  SCHEDULE_LABEL,
  SLOT_ANNOTATION,
  snapshotName,
} from "../../../../src/rules/schedule/names.ts";
import {
  type GroupSnap,
  groupRetention,
  retention,
  type Snap,
} from "../../../../src/rules/schedule/retention.ts";
import {
  PRODUCTION_RULES,
  parseScheduleDuration,
  specProblems,
} from "../../../../src/rules/schedule/spec.ts";

const H = 3_600_000;
const NOW = Date.parse("2026-12-01T12:00:00Z");

type State = "ready" | "failed" | "pending";
function snap(
  name: string,
  hoursAgo: number,
  state: State,
  extra: Partial<Snap["metadata"]> = {},
  claim = "db",
): Snap {
  return {
    metadata: {
      name,
      labels: { [SCHEDULE_LABEL]: "nightly" },
      annotations: { [SLOT_ANNOTATION]: new Date(NOW - hoursAgo * H).toISOString() },
      ...extra,
    },
    spec: { source: { persistentVolumeClaimName: claim } },
    status:
      state === "ready"
        ? { readyToUse: true }
        : state === "failed"
          ? { readyToUse: false, error: { message: "driver refused" } }
          : { readyToUse: false },
  };
}
const sched = (keep?: number, maxAge?: string) => ({ metadata: { name: "nightly" }, spec: { keep, maxAge } });

describe("retention", () => {
  it("keeps the newest `keep` ready snapshots and deletes the rest", () => {
    const list = [
      snap("s1", 4, "ready"),
      snap("s2", 3, "ready"),
      snap("s3", 2, "ready"),
      snap("s4", 1, "ready"),
    ];
    expect(retention(sched(2), list, NOW)).toEqual({ kept: ["s4", "s3"], delete: ["s1", "s2"] });
  });

  it("never deletes the newest ready snapshot while later ones fail, and failures do not count as kept", () => {
    const list = [
      snap("s1", 5, "ready"),
      snap("s2", 4, "ready"),
      snap("f3", 3, "failed"),
      snap("f4", 2, "failed"),
      snap("f5", 1, "failed"),
    ];
    const r = retention(sched(2), list, NOW);
    expect(r.kept).toEqual(["s2", "s1"]);
    // Two ready ones are kept as asked; the oldest failure beyond `keep` goes.
    expect(r.delete).toEqual(["f3"]);
    // keep: 1 — still the newest ready one, not a failure.
    expect(retention(sched(1), list, NOW)).toEqual({ kept: ["s2"], delete: ["f3", "f4", "s1"] });
  });

  it("keeps the newest ready snapshot even when maxAge says all are too old", () => {
    const list = [snap("s1", 50, "ready"), snap("s2", 49, "ready"), snap("f3", 48, "failed")];
    expect(retention(sched(undefined, "1d"), list, NOW)).toEqual({ kept: ["s2"], delete: ["f3", "s1"] });
  });

  it("deletes a not-ready snapshot only when a newer one is ready (superseded)", () => {
    const list = [snap("p1", 3, "pending"), snap("s2", 2, "ready"), snap("p3", 1, "pending")];
    expect(retention(sched(5), list, NOW)).toEqual({ kept: ["s2"], delete: ["p1"] });
  });

  it("leaves alone what it did not make, what a user pinned, and what is being deleted", () => {
    const list = [
      snap("mine-old", 3, "ready"),
      snap("pinned", 2.5, "ready", { annotations: { [KEEP_ANNOTATION]: "true" } }),
      snap("relabelled", 2.2, "ready", { labels: { [SCHEDULE_LABEL]: "other" } }),
      snap("unlabelled", 2.1, "ready", { labels: {} }),
      snap("going", 2.05, "ready", { deletionTimestamp: "2026-12-01T11:00:00Z" }),
      snap("mine-new", 2, "ready"),
    ];
    expect(retention(sched(1), list, NOW)).toEqual({ kept: ["mine-new"], delete: ["mine-old"] });
  });

  it("counts each claim apart (a selector schedule)", () => {
    const list = [
      snap("a1", 2, "ready", {}, "a"),
      snap("a2", 1, "ready", {}, "a"),
      snap("b1", 2, "ready", {}, "b"),
      snap("b2", 1, "failed", {}, "b"),
    ];
    expect(retention(sched(1), list, NOW)).toEqual({ kept: ["a2", "b1"], delete: ["a1"] });
  });
});

describe("scheduled snapshot names and objects", () => {
  const slot = Date.parse("2026-12-01T03:00:00Z");
  it("derives the name from the schedule, the claim (selector schedules) and the slot", () => {
    expect(snapshotName("db-nightly", undefined, slot)).toBe("db-nightly-20261201-030000");
    expect(snapshotName("all", "db", slot)).toBe("all-db-20261201-030000");
    expect(snapshotName("all", "db", slot)).toBe(snapshotName("all", "db", slot));
    expect(snapshotName("all", "db", slot + 1000)).not.toBe(snapshotName("all", "db", slot));
  });
  it("keeps long names valid and apart", () => {
    const a = snapshotName("s", "a".repeat(250), slot);
    const b = snapshotName("s", `${"a".repeat(249)}b`, slot);
    expect(a.length).toBeLessThanOrEqual(253);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[a-z0-9][-a-z0-9.]*-[0-9a-f]{10}-20261201-030000$/);
  });
  it("labels the snapshot with its schedule and records slot and lineage", () => {
    const s = buildScheduledSnapshot({
      schedule: { metadata: { name: "all", namespace: "shop" } },
      claim: { metadata: { name: "db", uid: "u1" } },
      single: false,
      slot,
      className: "vol-snapshots",
    });
    expect(s.metadata).toEqual({
      name: "all-db-20261201-030000",
      namespace: "shop",
      labels: { "vol.kubectl.io/schedule": "all" },
      annotations: {
        "vol.kubectl.io/source-kind": "PersistentVolumeClaim",
        "vol.kubectl.io/source-name": "db",
        "vol.kubectl.io/source-namespace": "shop",
        "vol.kubectl.io/source-uid": "u1",
        "vol.kubectl.io/schedule-slot": "2026-12-01T03:00:00.000Z",
      },
    });
    expect(s.spec).toEqual({
      volumeSnapshotClassName: "vol-snapshots",
      source: { persistentVolumeClaimName: "db" },
    });
  });
});

describe("spec checks", () => {
  it("reads durations with s, m, h and d", () => {
    expect(parseScheduleDuration("1h30m")).toBe(5_400_000);
    expect(parseScheduleDuration("7d")).toBe(7 * 86_400_000);
    expect(parseScheduleDuration("1.5h")).toBeUndefined();
    expect(parseScheduleDuration("")).toBeUndefined();
  });
  it("accepts a good spec", () => {
    expect(specProblems({ claim: "db", every: "1h", keep: 24 })).toEqual([]);
    expect(
      specProblems({ selector: {}, cron: "0 3 * * *", timeZone: "Europe/Berlin", maxAge: "7d" }),
    ).toEqual([]);
  });
  it("names every problem", () => {
    expect(specProblems({ claim: "db", selector: {}, every: "1h", cron: "0 3 * * *" })).toEqual([
      "give exactly one of spec.claim and spec.selector",
      "give exactly one of spec.every and spec.cron",
      "give spec.keep or spec.maxAge (or both): without either every snapshot would be kept forever",
    ]);
    expect(specProblems({ claim: "db", every: "10s", keep: 0 })).toEqual([
      'spec.every "10s" is shorter than the minimum of 60s',
      "spec.keep 0 must be a whole number of at least 1",
    ]);
    expect(specProblems({ claim: "db", cron: "0 3 * *", timeZone: "Mars/Olympus", keep: 1 })).toEqual([
      'spec.cron: "0 3 * *" has 4 fields: a cron expression has 5 (minute hour day-of-month month day-of-week)',
      'spec.timeZone: "Mars/Olympus" is not a known time zone: use an IANA name such as Europe/Berlin or UTC',
    ]);
  });
  it("a shorter minimum interval when the controller's flag allows it", () => {
    expect(
      specProblems({ claim: "db", every: "10s", keep: 1 }, { ...PRODUCTION_RULES, minIntervalMs: 1000 }),
    ).toEqual([]);
  });
});

describe("group retention (a group schedule's VolumeGroupSnapshots)", () => {
  /** A group with a member per claim; `members` overrides each member's state. */
  function group(name: string, hoursAgo: number, state: State, members: State[] = [state, state]) {
    const g: GroupSnap = {
      metadata: {
        name,
        labels: { [SCHEDULE_LABEL]: "nightly" },
        annotations: { [SLOT_ANNOTATION]: new Date(NOW - hoursAgo * H).toISOString() },
      },
      status:
        state === "ready" ? { readyToUse: true } : state === "failed" ? { error: { message: "no" } } : {},
    };
    const m = members.map((st, i) => snap(`${name}-m${i}`, hoursAgo, st, { labels: {} }, ["db", "logs"][i]));
    return { g, m };
  }
  function run(list: ReturnType<typeof group>[], keep?: number, maxAge?: string) {
    const byName = new Map(list.map((x) => [x.g.metadata.name, x.m]));
    return groupRetention(
      sched(keep, maxAge),
      list.map((x) => x.g),
      (g) => byName.get(g.metadata.name) ?? [],
      NOW,
    );
  }

  it("keep counts ready groups, not members, and deletes older groups whole", () => {
    const list = [
      group("g1", 4, "ready"),
      group("g2", 3, "ready"),
      group("g3", 2, "ready"),
      group("g4", 1, "ready"),
    ];
    expect(run(list, 2)).toEqual({ kept: ["g4", "g3"], delete: ["g1", "g2"] });
  });

  it("a group is ready only when it and every member are; later failures never push out the newest ready group", () => {
    const list = [
      group("g1", 5, "ready"),
      group("g2", 4, "ready"),
      // snapshot-controller marked the group before a member: not ready yet, not counted.
      group("g3", 3, "ready", ["ready", "pending"]),
      group("f4", 2, "failed"),
      group("f5", 1, "failed"),
    ];
    const r = run(list, 1);
    expect(r.kept).toEqual(["g2"]);
    // Not ready: f5 stays as the newest (keep 1), f4 goes (failed, beyond keep), and g3, whose
    // member is still being cut, is left to finish (the oldest in flight).
    expect(r.delete).toEqual(["f4", "g1"]);
    expect(run(list, 1, "1h").kept).toEqual(["g2"]);
  });

  it("leaves alone a group annotated keep, and a group one of whose members is (deleting it would delete the member)", () => {
    const pinned = group("g1", 4, "ready");
    pinned.g.metadata.annotations = { ...pinned.g.metadata.annotations, [KEEP_ANNOTATION]: "true" };
    const member = group("g2", 3, "ready");
    member.m[1]!.metadata.annotations = { ...member.m[1]!.metadata.annotations, [KEEP_ANNOTATION]: "true" };
    const list = [pinned, member, group("g3", 2, "ready"), group("g4", 1, "ready")];
    expect(run(list, 1)).toEqual({ kept: ["g4"], delete: ["g3"] });
  });

  it("the oldest group still being cut is left to finish when cuts are slower than the period", () => {
    // Nothing ready yet, a slot every period, each cut slower than two periods: the pile-up rule
    // deletes the ones in between, never the oldest in flight, so one does become ready.
    const list = [
      group("p1", 4, "pending"),
      group("p2", 3, "pending"),
      group("p3", 2, "pending"),
      group("p4", 1, "pending"),
    ];
    expect(run(list, 1)).toEqual({ kept: [], delete: ["p2", "p3"] });
    // A failed one is no cut in flight: it goes beyond keep as before.
    const failed = [group("f1", 3, "failed"), group("f2", 2, "failed"), group("f3", 1, "failed")];
    expect(run(failed, 1)).toEqual({ kept: [], delete: ["f1", "f2"] });
  });

  it("a claim that left the selector keeps its newest ready copy, whatever keep says", () => {
    const old = group("g1", 3, "ready"); // db and logs
    const later = [group("g2", 2, "ready", ["ready"]), group("g3", 1, "ready", ["ready"])]; // db only
    expect(run([old, ...later], 1)).toEqual({ kept: ["g3", "g1"], delete: ["g2"] });
  });

  it("another schedule's groups and groups being deleted are never touched", () => {
    const other = group("x1", 5, "ready");
    other.g.metadata.labels = { [SCHEDULE_LABEL]: "hourly" };
    const going = group("g0", 6, "ready");
    going.g.metadata.deletionTimestamp = new Date(NOW).toISOString();
    expect(run([other, going, group("g1", 2, "ready"), group("g2", 1, "ready")], 1)).toEqual({
      kept: ["g2"],
      delete: ["g1"],
    });
  });

  it("the group of a slot is named by the schedule and the slot, labelled and annotated as a snapshot is", () => {
    const slot = Date.parse("2026-12-01T03:00:00Z");
    const g = buildScheduledGroupSnapshot({
      schedule: { metadata: { name: "shop", namespace: "prod" } },
      selector: { matchLabels: { app: "shop" } },
      slot,
      className: "vol-group-snapshots",
    });
    expect(g).toEqual({
      apiVersion: "groupsnapshot.storage.k8s.io/v1",
      kind: "VolumeGroupSnapshot",
      metadata: {
        name: snapshotName("shop", undefined, slot),
        namespace: "prod",
        labels: { [SCHEDULE_LABEL]: "shop" },
        annotations: { [SLOT_ANNOTATION]: "2026-12-01T03:00:00.000Z" },
      },
      spec: {
        volumeGroupSnapshotClassName: "vol-group-snapshots",
        source: { selector: { matchLabels: { app: "shop" } } },
      },
    });
    expect(g.metadata.name).toBe("shop-20261201-030000");
  });

  it("spec problems of a group schedule", () => {
    const base = { every: "1h", keep: 3 };
    expect(specProblems({ ...base, selector: {}, group: true, groupSnapshotClassName: "g" })).toEqual([]);
    expect(specProblems({ ...base, claim: "db", group: true })).toEqual([
      "spec.group takes the claims of spec.selector as one group snapshot: give spec.selector",
    ]);
    expect(specProblems({ ...base, selector: {}, groupSnapshotClassName: "g" })).toEqual([
      "spec.groupSnapshotClassName applies with spec.group: true only: remove it or set spec.group",
    ]);
    expect(specProblems({ ...base, selector: {}, group: true, snapshotClassName: "s" })).toEqual([
      "spec.snapshotClassName names a VolumeSnapshotClass, which a group schedule does not use: name the VolumeGroupSnapshotClass in spec.groupSnapshotClassName",
    ]);
  });
});
