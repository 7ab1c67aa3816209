// The webhook's checks of SnapshotSchedules, from AdmissionReview bodies: the same checkSchedule
// as the plugin's pre-flight, on CREATE and on an UPDATE that changes the spec; a write that
// leaves the spec alone (labels, status) is never stopped.
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { memoryLookup } from "../../../src/rules/index.ts";
import type { ScheduleSpec, SnapshotSchedule } from "../../../src/rules/schedule/spec.ts";
import { validate } from "../../../src/webhook/handlers.ts";
import { BadRequest, decodeReview } from "../../../src/webhook/review.ts";
import { review } from "./reviews.ts";

const KIND = { group: "vol.kubectl.io", version: "v1alpha1", kind: "SnapshotSchedule" };
const pvc = (name: string, labels: Record<string, string> = {}): V1PersistentVolumeClaim => ({
  metadata: { name, namespace: "shop", labels, resourceVersion: "1" },
  spec: { storageClassName: "local" },
  status: { phase: "Bound" },
});
const world = () =>
  memoryLookup({
    pvcs: [pvc("db", { backup: "yes" }), pvc("cache")],
    storageClasses: [{ metadata: { name: "local" }, provisioner: "vol.kubectl.io" }],
    volumeSnapshotClasses: [
      { metadata: { name: "vol-snapshots" }, driver: "vol.kubectl.io", deletionPolicy: "Delete" },
      { metadata: { name: "elsewhere" }, driver: "other.csi.example", deletionPolicy: "Delete" },
    ],
  });
const schedule = (spec: ScheduleSpec, extra: Partial<SnapshotSchedule> = {}): SnapshotSchedule => ({
  apiVersion: "vol.kubectl.io/v1alpha1",
  kind: "SnapshotSchedule",
  metadata: { name: "nightly", namespace: "shop" },
  spec,
  ...extra,
});
const admit = async (obj: unknown, opts: { operation?: string; oldObject?: unknown } = {}) =>
  (await validate(decodeReview(JSON.stringify(review(obj, { kind: KIND, ...opts }))), { cached: world() }))
    .response;

describe("the webhook on SnapshotSchedules", () => {
  it("admits a good schedule without a word", async () => {
    expect(await admit(schedule({ claim: "db", every: "1h", keep: 3 }))).toEqual({
      allowed: true,
      warnings: [],
    });
  });

  it("warns about a selector that matches no claim, naming it, and about a missing claim", async () => {
    const empty = await admit(
      schedule({ selector: { matchLabels: { team: "none" } }, every: "1h", keep: 3 }),
    );
    expect(empty).toEqual({
      allowed: true,
      warnings: [
        'the selector "team=none" matches no PVC in namespace "shop" yet: runs fail until a claim carries those labels',
      ],
    });
    // The selector is matched against the namespace's claims (the cache's claims of "shop").
    expect(
      await admit(schedule({ selector: { matchLabels: { backup: "yes" } }, every: "1h", keep: 3 })),
    ).toEqual({ allowed: true, warnings: [] });
    expect(await admit(schedule({ claim: "gone", every: "1h", keep: 3 }))).toEqual({
      allowed: true,
      warnings: [
        'PVC "gone" not found in namespace "shop" yet: runs fail until it exists, so create it or name another claim',
      ],
    });
  });

  it("denies a class of another driver, or one that does not exist, naming the class and the fix", async () => {
    const other = await admit(
      schedule({ claim: "db", every: "1h", keep: 3, snapshotClassName: "elsewhere" }),
    );
    expect(other.allowed).toBe(false);
    expect(other.status).toEqual({
      code: 403,
      reason: "Forbidden",
      message:
        'VolumeSnapshotClass "elsewhere" is for driver "other.csi.example", not "vol.kubectl.io": use "vol-snapshots"',
    });
    const missing = await admit(schedule({ claim: "db", every: "1h", keep: 3, snapshotClassName: "nope" }));
    expect(missing.status?.message).toBe(
      'VolumeSnapshotClass "nope" does not exist: use "vol-snapshots" (driver "vol.kubectl.io")',
    );
  });

  it("checks an UPDATE only when it changes the spec", async () => {
    const bad = schedule({ claim: "db", every: "1h", keep: 3, snapshotClassName: "elsewhere" });
    // A bad schedule made before the webhook ran: its status and labels can still be written.
    const relabelled = {
      ...bad,
      metadata: { ...bad.metadata, labels: { team: "a" } },
      status: { result: "Failed" },
    };
    expect(await admit(relabelled, { operation: "UPDATE", oldObject: bad })).toEqual({
      allowed: true,
      warnings: [],
    });
    // Keys in another order are the same spec.
    const reordered = schedule({ snapshotClassName: "elsewhere", keep: 3, every: "1h", claim: "db" });
    expect((await admit(reordered, { operation: "UPDATE", oldObject: bad })).allowed).toBe(true);
    // A change to the spec is checked like a CREATE.
    const changed = schedule({ claim: "db", every: "2h", keep: 3, snapshotClassName: "elsewhere" });
    expect((await admit(changed, { operation: "UPDATE", oldObject: bad })).allowed).toBe(false);
    const fixed = schedule({ claim: "db", every: "1h", keep: 3, snapshotClassName: "vol-snapshots" });
    expect((await admit(fixed, { operation: "UPDATE", oldObject: bad })).allowed).toBe(true);
    expect((await admit(null, { operation: "DELETE", oldObject: bad })).allowed).toBe(true);
  });

  it("refuses a malformed schedule as a bad request, and a spec-less one as invalid", async () => {
    const body = (obj: unknown) => JSON.stringify(review(obj, { kind: KIND }));
    expect(() => decodeReview(body(schedule({ claim: "db", every: "1h", keep: "3" as never })))).toThrow(
      new BadRequest("request.object.spec.keep must be a number"),
    );
    expect(() =>
      decodeReview(body(schedule({ selector: { matchExpressions: "x" as never }, every: "1h", keep: 3 }))),
    ).toThrow("request.object.spec.selector.matchExpressions must be a list of objects");
    const specless = await admit({ apiVersion: KIND.version, kind: KIND.kind, metadata: { name: "x" } });
    expect(specless.allowed).toBe(false);
    expect(specless.status?.message).toMatch(/give exactly one of spec.claim and spec.selector/);
  });

  it("answers hostile schedules with a decision or a bad request, never a throw", async () => {
    const hostile: unknown[] = [
      null,
      0,
      -1,
      1.5,
      true,
      "",
      "\u0000",
      "../x",
      "x".repeat(5000),
      [],
      [{}],
      {},
      { a: 1 },
    ];
    const fields = [
      "claim",
      "selector",
      "every",
      "cron",
      "timeZone",
      "keep",
      "maxAge",
      "snapshotClassName",
      "suspend",
    ];
    let answered = 0;
    for (const field of fields)
      for (const value of hostile) {
        const obj = schedule({ claim: "db", every: "1h", keep: 3 });
        (obj.spec as Record<string, unknown>)[field] = value;
        if (field === "selector") delete obj.spec.claim;
        let req: ReturnType<typeof decodeReview>;
        try {
          req = decodeReview(JSON.stringify(review(obj, { kind: KIND })));
        } catch (err) {
          expect(err, `${field}=${JSON.stringify(value)}`).toBeInstanceOf(BadRequest);
          continue;
        }
        const out = await validate(req, { cached: world() });
        expect(typeof out.response.allowed, `${field}=${JSON.stringify(value)}`).toBe("boolean");
        answered++;
      }
    // Hostile selector expressions: denied with the fix, never a throw.
    for (const e of [
      null,
      { key: 1, operator: "In", values: ["a"] },
      { key: "a", operator: "Near" },
      { key: "a", operator: "In", values: "a" },
      { key: "a", operator: "In", values: [1] },
    ]) {
      const obj = schedule({ selector: { matchExpressions: [e as never] }, every: "1h", keep: 3 });
      const body = JSON.stringify(review(obj, { kind: KIND }));
      let req: ReturnType<typeof decodeReview>;
      try {
        req = decodeReview(body);
      } catch (err) {
        expect(err).toBeInstanceOf(BadRequest);
        continue;
      }
      const out = await validate(req, { cached: world() });
      expect(out.response.status?.message, JSON.stringify(e)).toMatch(
        /spec.selector.matchExpressions\[0\] needs a key/,
      );
      answered++;
    }
    expect(answered).toBeGreaterThan(20);
  });
});
