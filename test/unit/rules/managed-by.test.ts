// The managed-by node of a snapshot content, derived from its volumes' PersistentVolumes, and
// the mutating handler that sets it on CREATE of our driver's contents.
import type { V1PersistentVolume } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { managedByFor, memoryLookup, NODE_KEYS, SNAPSHOT_MANAGED_BY } from "../../../src/rules/index.ts";
import { mutate } from "../../../src/webhook/handlers.ts";
import type { AdmissionRequest } from "../../../src/webhook/review.ts";

const DRIVER = "vol.kubectl.io";
const pv = (name: string, handle: string, node: string, driver = DRIVER): V1PersistentVolume => ({
  metadata: { name },
  spec: {
    csi: { driver, volumeHandle: handle },
    nodeAffinity: {
      required: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: NODE_KEYS[0], operator: "In", values: [node] }] }],
      },
    },
  },
});
const pvs = [pv("pv-a", "vol-a", "n1"), pv("pv-b", "vol-b", "n1"), pv("pv-c", "vol-c", "n2")];
const group = (handles: string[], labels?: Record<string, string>) => ({
  metadata: { name: "groupsnapcontent-1", ...(labels ? { labels } : {}) },
  spec: { driver: DRIVER, source: { volumeHandles: handles } },
});

describe("managedByFor", () => {
  it("takes the node of a group's volumes, and of a member content's volume", () => {
    expect(managedByFor(group(["vol-a", "vol-b"]), DRIVER, NODE_KEYS, pvs)).toEqual({
      node: "n1",
      findings: [],
    });
    const member = {
      metadata: { name: "snapcontent-1" },
      spec: { driver: DRIVER, source: { volumeHandle: "vol-c" } },
    };
    expect(managedByFor(member, DRIVER, NODE_KEYS, pvs).node).toBe("n2");
  });
  it("leaves a labelled content, another driver's, and a pre-provisioned one alone", () => {
    expect(
      managedByFor(group(["vol-a"], { [SNAPSHOT_MANAGED_BY]: "n9" }), DRIVER, NODE_KEYS, pvs).node,
    ).toBeUndefined();
    expect(
      managedByFor({ ...group(["vol-a"]), spec: { driver: "other", source: {} } }, DRIVER, NODE_KEYS, pvs)
        .node,
    ).toBeUndefined();
    expect(
      managedByFor({ metadata: {}, spec: { driver: DRIVER, source: {} } }, DRIVER, NODE_KEYS, pvs),
    ).toEqual({
      findings: [],
    });
  });
  it("labels members on two nodes with the first one's node and says why the group will fail", () => {
    const r = managedByFor(group(["vol-a", "vol-c"]), DRIVER, NODE_KEYS, pvs);
    expect(r.node).toBe("n1");
    expect(r.findings[0]?.message).toContain("on nodes n1, n2");
  });
  it("says which volume handle has no PersistentVolume naming a node", () => {
    const r = managedByFor(group(["vol-x"]), DRIVER, NODE_KEYS, pvs);
    expect(r.node).toBeUndefined();
    expect(r.findings[0]?.message).toContain("volume handle vol-x");
  });
});

describe("mutate of a VolumeGroupSnapshotContent", () => {
  const req = (object: unknown): AdmissionRequest => ({
    uid: "u",
    operation: "CREATE",
    dryRun: false,
    gvk: { group: "groupsnapshot.storage.k8s.io", version: "v1", kind: "VolumeGroupSnapshotContent" },
    subject: { kind: "VolumeGroupSnapshotContent", object: object as never },
  });
  it("adds the managed-by label as a JSON Patch", async () => {
    const out = await mutate(req(group(["vol-a", "vol-b"])), { cached: memoryLookup({ pvs }) });
    expect(out.response.allowed).toBe(true);
    expect(out.response.patch).toEqual([
      { op: "add", path: "/metadata/labels", value: { [SNAPSHOT_MANAGED_BY]: "n1" } },
    ]);
  });
  it("patches nothing when the label is there", async () => {
    const out = await mutate(req(group(["vol-a"], { [SNAPSHOT_MANAGED_BY]: "n1" })), {
      cached: memoryLookup({ pvs }),
    });
    expect(out.response.patch ?? []).toEqual([]);
  });
});
