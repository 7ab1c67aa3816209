// The pure parts of group snapshots: which mount tables hold a writer of a member volume, the
// fields read from /proc/<pid>/stat, group ids and records.
import { describe, expect, it } from "vitest";
import { parseStat, reachesVolume } from "../../src/driver/freeze.ts";
import { groupIdFor, isGroupId, isGroupRecord, memberIdFor, memberName } from "../../src/driver/group.ts";
import { parseMountinfo } from "../../src/driver/mounts.ts";
import { checkName } from "../../src/driver/names.ts";

const line = (root: string, at: string) =>
  `36 25 0:52 ${root} ${at} rw,relatime shared:1 - btrfs /dev/loop3 rw`;
const vol = { majmin: "0:52", root: "/data/volumes/vol-a" };

describe("reachesVolume", () => {
  it("counts a container's mount of the volume or of a directory in it", () => {
    expect(reachesVolume(parseMountinfo(line("/data/volumes/vol-a", "/data")), [vol])).toBe(true);
    expect(reachesVolume(parseMountinfo(line("/data/volumes/vol-a/sub", "/x")), [vol])).toBe(true);
  });
  it("does not count the kubelet's pod volume directory, the whole filesystem, another volume or another filesystem", () => {
    const kubelet = line(
      "/data/volumes/vol-a",
      "/var/lib/kubelet/pods/1234-5678/volumes/kubernetes.io~csi/pvc-1/mount",
    );
    expect(reachesVolume(parseMountinfo(kubelet), [vol])).toBe(false);
    expect(reachesVolume(parseMountinfo(line("/", "/mnt/data")), [vol])).toBe(false);
    expect(reachesVolume(parseMountinfo(line("/data/volumes/vol-ab", "/data")), [vol])).toBe(false);
    expect(
      reachesVolume(parseMountinfo(line("/data/volumes/vol-a", "/d")), [{ ...vol, majmin: "0:53" }]),
    ).toBe(false);
  });
});

describe("parseStat", () => {
  it("reads the state and the start time after the last parenthesis (a name may hold spaces and parentheses)", () => {
    const rest = Array.from({ length: 50 }, (_, i) => String(i + 4)).join(" ");
    expect(parseStat(`42 (a) b (c) T ${rest}`)).toEqual({ state: "T", start: "22" });
    expect(parseStat("42 (x")).toBeUndefined();
  });
});

describe("group ids", () => {
  it("derives one id per name and member names no CO snapshot name can take", () => {
    const g = groupIdFor("db");
    expect(isGroupId(g)).toBe(true);
    expect(groupIdFor("db")).toBe(g);
    expect(groupIdFor("db2")).not.toBe(g);
    expect(() => checkName("name", memberName(g, "vol-a"))).toThrow(/slash/);
    expect(memberIdFor(g, "vol-a")).not.toBe(memberIdFor(g, "vol-b"));
  });
  it("reads only whole records", () => {
    const r = {
      schemaVersion: 1,
      id: groupIdFor("db"),
      name: "db",
      seq: 1,
      state: "ready",
      sourceVolumeIds: ["vol-a"],
      snapshotIds: ["snap-a"],
      parameters: {},
      createdAt: "2026-12-01T00:00:00Z",
    };
    expect(isGroupRecord(r)).toBe(true);
    expect(isGroupRecord({ ...r, snapshotIds: [] })).toBe(false);
    expect(isGroupRecord({ ...r, id: "../x" })).toBe(false);
    expect(isGroupRecord({ ...r, state: "other" })).toBe(false);
  });
});
