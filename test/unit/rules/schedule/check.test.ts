// The admission checks of a SnapshotSchedule (plugin pre-flight and webhook), over plain objects.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { memoryLookup } from "../../../../src/rules/index.ts";
import { checkSchedule } from "../../../../src/rules/schedule/check.ts";
import type { ScheduleSpec } from "../../../../src/rules/schedule/spec.ts";

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
  it("denies a missing claim and a malformed spec", async () => {
    expect(await rules({ claim: "gone", every: "1h", keep: 3 })).toEqual(["deny schedule-claim-exists"]);
    expect(await rules({ claim: "db", every: "1h" })).toEqual(["deny schedule-spec"]);
  });
});
