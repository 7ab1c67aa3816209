import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { LINEAGE, type Lookup, memoryLookup } from "../../../src/rules/index.ts";
import { mutate, validate } from "../../../src/webhook/handlers.ts";
import { BadRequest, decodeReview, encodeReview } from "../../../src/webhook/review.ts";
import { world } from "../rules/fixtures.ts";
import { apiClaim, review } from "./reviews.ts";

const lookups = { cached: memoryLookup(world()) };
const decode = (r: unknown) => decodeReview(JSON.stringify(r));
const clone = (spec: Record<string, unknown> = {}) =>
  apiClaim("copy", {
    storageClassName: "fast",
    resources: { requests: { storage: "10Gi" } },
    dataSource: { kind: "PersistentVolumeClaim", name: "db" },
    ...spec,
  });

describe("decodeReview", () => {
  it("decodes an AdmissionReview v1 for a claim", () => {
    const r = decode(review(clone(), { dryRun: true }));
    expect(r).toMatchObject({
      uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
      operation: "CREATE",
      dryRun: true,
    });
    expect(r.subject.kind).toBe("PersistentVolumeClaim");
  });

  it.each([
    ["not json", "the body is not JSON"],
    ["[]", "the body must be a JSON object"],
    [
      JSON.stringify({ apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview" }),
      'got kind "AdmissionReview" of apiVersion "admission.k8s.io/v1beta1"',
    ],
    [JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }), "has no request object"],
  ])("refuses %s", (body, reason) => {
    expect(() => decodeReview(body)).toThrow(BadRequest);
    expect(() => decodeReview(body)).toThrow(reason);
  });

  it("refuses an unknown kind, saying what is handled", () => {
    const r = review(
      { metadata: { name: "x" } },
      { kind: { group: "apps", version: "v1", kind: "Deployment" } },
    );
    expect(() => decode(r)).toThrow(
      'request.kind "apps/v1 Deployment" is not handled: this webhook admits PersistentVolumeClaims (v1), VolumeSnapshots and VolumeSnapshotContents (snapshot.storage.k8s.io/v1), VolumeGroupSnapshots and VolumeGroupSnapshotContents (groupsnapshot.storage.k8s.io/v1) and SnapshotSchedules (vol.kubectl.io/v1alpha1); fix the rules of the webhook configuration',
    );
  });

  it("refuses fields of the wrong type, naming the field", () => {
    const bad = clone();
    (bad.spec as Record<string, unknown>).dataSource = "db";
    expect(() => decode(review(bad))).toThrow("request.object.spec.dataSource must be an object");
    const bad2 = clone();
    (bad2.metadata as Record<string, unknown>).annotations = { a: 1 };
    expect(() => decode(review(bad2))).toThrow(
      "request.object.metadata.annotations must be a map of strings",
    );
    expect(() => decode({ ...review(clone()), request: { ...review(clone()).request, uid: 7 } })).toThrow(
      "request.uid must be a non-empty string",
    );
    expect(() => decode(review(null))).toThrow("request.object is required for CREATE");
  });

  it("encodes a response with the uid, a base64 patch and warnings", () => {
    const out = JSON.parse(
      encodeReview("u1", { allowed: true, patch: [{ op: "add", path: "/a", value: 1 }], warnings: ["w"] }),
    );
    expect(out).toEqual({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: {
        uid: "u1",
        allowed: true,
        patchType: "JSONPatch",
        patch: Buffer.from('[{"op":"add","path":"/a","value":1}]').toString("base64"),
        warnings: ["w"],
      },
    });
    expect(JSON.parse(encodeReview("u2", { allowed: true, patch: [] })).response).toEqual({
      uid: "u2",
      allowed: true,
    });
  });
});

describe("validate", () => {
  it("denies with status 403 and every denying message", async () => {
    const out = await validate(
      decode(review(clone({ volumeMode: "Block", resources: { requests: { storage: "1Gi" } } }))),
      lookups,
    );
    expect(out.response.allowed).toBe(false);
    expect(out.response.status?.code).toBe(403);
    expect(out.response.status?.message).toBe(
      'PVC "copy" in namespace "shop" has volumeMode Block but its source PVC "db" in namespace "shop" is Filesystem: set spec.volumeMode: Filesystem; PVC "copy" in namespace "shop" requests 1Gi but its source PVC "db" in namespace "shop" holds 10Gi: request at least 10Gi',
    );
    expect(out.findings.map((f) => f.rule)).toEqual(["clone-volume-mode", "clone-size"]);
  });

  it("checks again with the direct lookup before denying", async () => {
    const stale = memoryLookup(world({ pvcs: [] }));
    const out = await validate(decode(review(clone())), { cached: stale, direct: memoryLookup(world()) });
    expect(out.response).toEqual({ allowed: true, warnings: [] });
    const stillBad = await validate(decode(review(clone())), { cached: stale, direct: stale });
    expect(stillBad.response.allowed).toBe(false);
    const down = { ...stale, pvc: () => Promise.reject(new Error("API down")) };
    const cachedDenial = await validate(decode(review(clone())), { cached: stale, direct: down });
    expect(cachedDenial.response.status?.message).toMatch(/^PVC "db" in namespace "shop" does not exist/);
  });

  it("confirms a denial with the API's answers to the same reads, made at once", async () => {
    const reads: string[] = [];
    const slowly = (l: Lookup): Lookup =>
      Object.fromEntries(
        Object.entries(l).map(([k, f]) => [
          k,
          async (...args: string[]) => {
            reads.push(k);
            await sleep(100);
            return (f as (...a: string[]) => Promise<unknown>)(...args);
          },
        ]),
      ) as unknown as Lookup;
    const c = clone({ volumeMode: "Block", resources: { requests: { storage: "1Gi" } } });
    const started = Date.now();
    const out = await validate(decode(review(c)), { cached: lookups.cached, direct: slowly(lookups.cached) });
    const took = Date.now() - started;
    expect(out.response.allowed).toBe(false);
    expect(reads.length).toBeGreaterThanOrEqual(2);
    // Every read in one round (100 ms), not one after another, and no second run of the rules.
    expect(took).toBeLessThan(200);
  });

  it("answers with what it knows when the deadline comes", async () => {
    const never = () => new Promise<never>(() => undefined);
    const hanging = { ...lookups.cached, pvc: never };
    const started = Date.now();
    const nothing = await validate(decode(review(clone())), { cached: hanging }, AbortSignal.timeout(100));
    expect(Date.now() - started).toBeLessThan(500);
    expect(nothing.late).toBe(true);
    expect(nothing.response.allowed).toBe(true);
    expect(nothing.response.warnings?.[0]).toMatch(
      /^the vol.kubectl.io webhook could not check this PersistentVolumeClaim before the API server's timeout/,
    );
    // A denial from the caches that the API cannot confirm in time stands.
    const bad = clone({ resources: { requests: { storage: "1Gi" } } });
    const denied = await validate(
      decode(review(bad)),
      { cached: lookups.cached, direct: hanging },
      AbortSignal.timeout(100),
    );
    expect(denied.response.allowed).toBe(false);
    expect(denied.response.status?.message).toMatch(/requests 1Gi but its source PVC "db"/);
    const m = await mutate(decode(review(clone())), { cached: hanging }, AbortSignal.timeout(100));
    expect(m.response.allowed).toBe(true);
    expect(m.response.patch).toBeUndefined();
    expect(m.response.warnings?.[0]).toMatch(/could not fill in the defaults of this PersistentVolumeClaim/);
  });

  it("refuses a group snapshot content it cannot label in time, so that its creator retries (admitted, it would be stuck)", async () => {
    const never = () => new Promise<never>(() => undefined);
    const content = {
      apiVersion: "groupsnapshot.storage.k8s.io/v1",
      kind: "VolumeGroupSnapshotContent",
      metadata: { name: "groupsnapcontent-1" },
      spec: {
        driver: "vol.kubectl.io",
        deletionPolicy: "Delete",
        volumeGroupSnapshotClassName: "vol-group-snapshots",
        source: { volumeHandles: ["vol-a", "vol-b"] },
      },
    };
    const kind = { group: "groupsnapshot.storage.k8s.io", version: "v1", kind: "VolumeGroupSnapshotContent" };
    const started = Date.now();
    const m = await mutate(
      decode(review(content, { kind })),
      { cached: { ...lookups.cached, persistentVolumes: never } },
      AbortSignal.timeout(100),
    );
    expect(Date.now() - started).toBeLessThan(500);
    expect(m.late).toBe(true);
    expect(m.response).toEqual({
      allowed: false,
      status: {
        code: 503,
        reason: "ServiceUnavailable",
        message:
          'VolumeGroupSnapshotContent "groupsnapcontent-1": its volumes could not be read in time to label it with its node, so it is refused and will be retried by its creator',
      },
    });
    // Read in time, it is labelled with its volumes' node and pointed at that node's class copy.
    const pv = (handle: string) => ({
      metadata: { name: `pv-${handle}` },
      spec: {
        csi: { driver: "vol.kubectl.io", volumeHandle: handle },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: "topology.vol.kubectl.io/node", operator: "In", values: ["node-a"] },
                ],
              },
            ],
          },
        },
      },
    });
    const ok = await mutate(
      decode(review(content, { kind })),
      { cached: { ...lookups.cached, persistentVolumes: async () => [pv("vol-a"), pv("vol-b")] } },
      AbortSignal.timeout(1000),
    );
    expect(ok.response.allowed).toBe(true);
    expect(ok.response.patch).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: "/spec/volumeGroupSnapshotClassName",
          value: "vol-group-snapshots.node-a",
        }),
      ]),
    );
  });

  it("answers a dry-run request exactly as a real one (no side effects to skip)", async () => {
    const c = clone({ resources: { requests: { storage: "1Gi" } } });
    const real = await validate(decode(review(c)), lookups);
    const dry = await validate(decode(review(c, { dryRun: true })), lookups);
    expect(dry).toEqual(real);
    expect((await mutate(decode(review(c, { dryRun: true })), lookups)).response).toEqual(
      (await mutate(decode(review(c)), lookups)).response,
    );
  });

  it("allows an UPDATE and a DELETE without reading anything", async () => {
    const nothing = {} as Lookup;
    for (const operation of ["UPDATE", "DELETE"]) {
      const r = review(operation === "DELETE" ? null : clone(), { operation, oldObject: clone() });
      expect((await validate(decode(r), { cached: nothing })).response.allowed).toBe(true);
    }
  });

  it("checks VolumeSnapshots, admitting one of a Pending claim with a warning", async () => {
    const snap = (pvc: string) =>
      review(
        { metadata: { name: "s", namespace: "shop" }, spec: { source: { persistentVolumeClaimName: pvc } } },
        { kind: { group: "snapshot.storage.k8s.io", version: "v1", kind: "VolumeSnapshot" } },
      );
    const missing = await validate(decode(snap("nope")), lookups);
    expect(missing.response.allowed).toBe(false);
    expect(missing.response.status?.message).toMatch(
      /^VolumeSnapshot "s" in namespace "shop" takes a snapshot of PVC "nope"/,
    );
    const pending = await validate(decode(snap("pending")), lookups);
    expect(pending.response).toEqual({
      allowed: true,
      warnings: [
        'PVC "pending" in namespace "shop" is Pending, not Bound: a snapshot needs a Bound source, so VolumeSnapshot "s" in namespace "shop" would wait until it is',
      ],
    });
  });

  it("checks VolumeGroupSnapshot CREATE with the group rules, never an update", async () => {
    const kind = { group: "groupsnapshot.storage.k8s.io", version: "v1", kind: "VolumeGroupSnapshot" };
    const group = {
      metadata: { name: "g", namespace: "shop" },
      spec: { source: { selector: { matchLabels: { app: "none" } } } },
    };
    const denied = await validate(decode(review(group, { kind })), lookups);
    expect(denied.response.allowed).toBe(false);
    expect(denied.findings.map((f) => f.rule)).toEqual(["group-selector"]);
    expect(denied.response.status?.message).toMatch(
      /^VolumeGroupSnapshot "g" in namespace "shop" selects no PVC in namespace "shop"/,
    );
    const withStatus = { ...group, status: { readyToUse: true } };
    const update = review(withStatus, { kind, operation: "UPDATE", oldObject: group });
    expect((await validate(decode(update), { cached: {} as Lookup })).response).toEqual({
      allowed: true,
      warnings: [],
    });
  });

  it("admits a clone of a Pending claim with a warning, so a file with both applies whole", async () => {
    const out = await validate(
      decode(review(clone({ dataSource: { kind: "PersistentVolumeClaim", name: "pending" } }))),
      lookups,
    );
    expect(out.response.allowed).toBe(true);
    expect(out.response.warnings).toEqual([
      'PVC "pending" in namespace "shop" is Pending, not Bound: a clone needs a Bound source, so PVC "copy" in namespace "shop" would wait until it is',
    ]);
  });

  it("takes the namespace from the request when the object has none", async () => {
    const c = clone({ resources: { requests: { storage: "1Gi" } } });
    delete c.metadata?.namespace;
    const out = await validate(decode(review(c, { namespace: "shop" })), lookups);
    expect(out.findings.map((f) => f.rule)).toEqual(["clone-size"]);
  });
});

describe("mutate", () => {
  it("answers a JSON Patch that adds the size and the lineage", async () => {
    const c = clone();
    delete c.spec?.resources;
    const out = await mutate(decode(review(c)), lookups);
    expect(out.response.allowed).toBe(true);
    expect(out.response.patch).toEqual(
      expect.arrayContaining([
        { op: "add", path: "/spec/resources", value: { requests: { storage: "10Gi" } } },
        {
          op: "add",
          path: "/metadata/annotations",
          value: {
            [LINEAGE.sourceKind]: "PersistentVolumeClaim",
            [LINEAGE.sourceName]: "db",
            [LINEAGE.sourceNamespace]: "shop",
            [LINEAGE.sourceUid]: "uid-db",
          },
        },
      ]),
    );
    expect(out.response.patch).toHaveLength(2);
  });

  it("escapes annotation keys in patch paths and leaves other annotations alone", async () => {
    const c = clone();
    c.metadata!.annotations = { keep: "me" };
    const out = await mutate(decode(review(c)), lookups);
    expect(out.response.patch).toContainEqual({
      op: "add",
      path: "/metadata/annotations/vol.kubectl.io~1source-kind",
      value: "PersistentVolumeClaim",
    });
    expect(out.response.patch?.some((p) => (p as { path: string }).path.endsWith("/keep"))).toBe(false);
  });

  it("sends no patch when nothing changes (reinvocation), and none for UPDATE or snapshots", async () => {
    const first = await mutate(decode(review(clone())), lookups);
    const { default: jsonpatch } = await import("fast-json-patch");
    const applied = jsonpatch.applyPatch(clone(), first.response.patch as never, false, false).newDocument;
    const second = await mutate(decode(review(applied)), lookups);
    expect(second.response).toEqual({ allowed: true, patch: [], warnings: [] });
    expect(
      (await mutate(decode(review(clone(), { operation: "UPDATE", oldObject: clone() })), lookups)).response,
    ).toEqual({
      allowed: true,
    });
  });

  it("derives again from the API when the caches do not show the source yet", async () => {
    const cross = apiClaim(
      "x",
      {
        storageClassName: "fast",
        dataSourceRef: { kind: "PersistentVolumeClaim", name: "db", namespace: "shop" },
      },
      "dev",
    );
    const grant = {
      metadata: { name: "g", namespace: "shop" },
      spec: {
        from: [{ group: "", kind: "PersistentVolumeClaim", namespace: "dev" }],
        to: [{ group: "", kind: "PersistentVolumeClaim" }],
      },
    };
    const stale = memoryLookup(world());
    expect((await mutate(decode(review(cross)), { cached: stale })).response.patch).toEqual([]);
    const out = await mutate(decode(review(cross)), {
      cached: stale,
      direct: memoryLookup(world({ referenceGrants: [grant] })),
    });
    expect(out.response.patch).toContainEqual({
      op: "add",
      path: "/spec/resources",
      value: { requests: { storage: "10Gi" } },
    });
  });

  it("denies a spec.dataSource the API server would drop (only /mutate sees it)", async () => {
    const cm = apiClaim("cm", {
      resources: { requests: { storage: "1Gi" } },
      dataSource: { kind: "ConfigMap", name: "x" },
    });
    const out = await mutate(decode(review(cm)), lookups);
    expect(out.response.allowed).toBe(false);
    expect(out.response.status).toMatchObject({ code: 403, reason: "Forbidden" });
    expect(out.response.status?.message).toMatch(
      /^PVC "cm" in namespace "shop" has spec.dataSource of kind "ConfigMap" of the core group, which Kubernetes drops/,
    );
  });

  it("leaves a smaller request as it is, for /validate to deny with the size to ask for", async () => {
    // Raising it would make the claim differ from its manifest, and applying that manifest again
    // would then fail (a bound claim cannot ask for less than its capacity).
    const small = clone({ resources: { requests: { storage: "2Gi" } } });
    const out = await mutate(decode(review(small)), lookups);
    expect(out.response.patch?.some((p) => (p as { path: string }).path.startsWith("/spec"))).toBe(false);
    expect(out.response.warnings).toEqual([]);
    const v = await validate(decode(review(small)), lookups);
    expect(v.response.status?.message).toBe(
      'PVC "copy" in namespace "shop" requests 2Gi but its source PVC "db" in namespace "shop" holds 10Gi: request at least 10Gi',
    );
  });
});
