import { describe, expect, it } from "vitest";
import {
  COPY_OF,
  chooseGroupSnapshotClass,
  contentClassFor,
  desiredNodeClasses,
  nodeClassName,
  planNodeClasses,
  SNAPSHOT_MANAGED_BY,
  type VolumeGroupSnapshotClass,
} from "../../../src/rules/index.ts";

const cls = (name: string, extra: Partial<VolumeGroupSnapshotClass> = {}): VolumeGroupSnapshotClass => ({
  metadata: { name },
  driver: "vol.kubectl.io",
  deletionPolicy: "Delete",
  ...extra,
});

describe("per-node VolumeGroupSnapshotClass copies", () => {
  it("are one per class and node of its driver, labelled for the node, never a default", () => {
    const original = cls("groups", {
      metadata: {
        name: "groups",
        annotations: { "groupsnapshot.storage.kubernetes.io/is-default-class": "true" },
      },
      parameters: { a: "b" },
    });
    const other = cls("theirs", { driver: "other.example.com" });
    const nodes = new Map([["vol.kubectl.io", ["127.0.0.2", "127.0.0.3"]]]);
    const want = desiredNodeClasses([original, other], nodes);
    expect(want.map((c) => c.metadata.name)).toEqual(["groups.127.0.0.2", "groups.127.0.0.3"]);
    expect(want[0]?.metadata.labels?.[SNAPSHOT_MANAGED_BY]).toBe("127.0.0.2");
    expect(want[0]?.metadata.labels?.[COPY_OF]).toBe("groups");
    expect(want[0]?.metadata.annotations).toBeUndefined();
    expect(want[0]?.parameters).toEqual({ a: "b" });
    // Copies and classes a user labelled for a node are not copied again.
    expect(
      desiredNodeClasses(
        [...want, cls("mine", { metadata: { name: "mine", labels: { [SNAPSHOT_MANAGED_BY]: "n" } } })],
        nodes,
      ),
    ).toEqual([]);
  });

  it("are planned: made when missing, made again when their class changed, removed when class or node is gone", () => {
    const nodes = new Map([["vol.kubectl.io", ["n1"]]]);
    const first = desiredNodeClasses([cls("g")], nodes);
    expect(planNodeClasses([cls("g")], first)).toEqual({ create: first, remove: [] });
    expect(planNodeClasses([cls("g"), ...first], first)).toEqual({ create: [], remove: [] });
    const changed = desiredNodeClasses([cls("g", { deletionPolicy: "Retain" })], nodes);
    expect(planNodeClasses([cls("g"), ...first], changed)).toEqual({ create: changed, remove: ["g.n1"] });
    expect(planNodeClasses([cls("g"), ...first], [])).toEqual({ create: [], remove: ["g.n1"] });
  });

  it("have names that stay DNS subdomains of at most 253 characters", () => {
    const long = "a".repeat(200);
    const n1 = nodeClassName(long, `node-${"x".repeat(80)}-1`);
    const n2 = nodeClassName(long, `node-${"x".repeat(80)}-2`);
    expect(n1.length).toBeLessThanOrEqual(253);
    expect(n1).not.toBe(n2);
    expect(n1).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
  });

  it("point a group's content at its node's copy, unless its class is already labelled for a node", () => {
    expect(contentClassFor("groups", "n1", [cls("groups")])).toBe("groups.n1");
    const labelled = cls("mine", { metadata: { name: "mine", labels: { [SNAPSHOT_MANAGED_BY]: "n1" } } });
    expect(contentClassFor("mine", "n1", [labelled])).toBeUndefined();
    expect(contentClassFor(undefined, "n1", [])).toBeUndefined();
  });

  it("are never chosen for a user: the driver's only class is still its only one", () => {
    const copies = desiredNodeClasses([cls("groups")], new Map([["vol.kubectl.io", ["n1", "n2"]]]));
    const choice = chooseGroupSnapshotClass("vol.kubectl.io", [cls("groups"), ...copies]);
    expect(choice).toMatchObject({ ok: true });
    expect(choice.ok && choice.class.metadata.name).toBe("groups");
  });
});
