import { describe, expect, it } from "vitest";
import { checkClaim, defaultClaim, LINEAGE, memoryLookup } from "../../../src/rules/index.ts";
import { claim, DRIVER, fromSource, OTHER, snapshot, storageClass, world } from "./fixtures.ts";

const noRequest = (kind: string, name: string) => {
  const c = fromSource(kind, name);
  delete c.spec!.resources;
  return c;
};

describe("defaultClaim", () => {
  const lookup = memoryLookup(world());

  it("fills the size of a clone from the source's capacity, and lineage", async () => {
    const input = noRequest("PersistentVolumeClaim", "db");
    const before = structuredClone(input);
    const { claim: out, warnings } = await defaultClaim(input, lookup);
    expect(input).toEqual(before);
    expect(out.spec?.resources?.requests?.storage).toBe("10Gi");
    expect(out.metadata?.annotations).toEqual({
      [LINEAGE.sourceKind]: "PersistentVolumeClaim",
      [LINEAGE.sourceName]: "db",
      [LINEAGE.sourceNamespace]: "shop",
      [LINEAGE.sourceUid]: "uid-db",
    });
    expect(warnings).toEqual([]);
    expect((await checkClaim(out, lookup)).allowed).toBe(true);
  });

  it("never modifies its input, in any part it defaults (a deep-frozen claim throws on a write)", async () => {
    const deepFreeze = <T>(o: T): T => {
      if (o && typeof o === "object") {
        for (const v of Object.values(o)) deepFreeze(v);
        Object.freeze(o);
      }
      return o;
    };
    for (const kind of ["PersistentVolumeClaim", "VolumeSnapshot"]) {
      const c = noRequest(kind, kind === "VolumeSnapshot" ? "db-snap" : "db");
      c.spec!.resources = { limits: { storage: "50Gi" } };
      delete c.spec!.volumeMode;
      c.metadata!.annotations = { team: "shop" };
      const before = structuredClone(c);
      const { claim: out } = await defaultClaim(deepFreeze(c), lookup);
      expect(c).toEqual(before);
      expect(out.spec?.resources).toEqual({ limits: { storage: "50Gi" }, requests: { storage: "10Gi" } });
      expect(out.metadata?.annotations?.team).toBe("shop");
      expect(out.metadata?.annotations?.[LINEAGE.sourceName]).toBeDefined();
    }
  });

  it("raises a smaller request with a warning", async () => {
    const input = fromSource("VolumeSnapshot", "db-snap", { resources: { requests: { storage: "1Gi" } } });
    const { claim: out, warnings } = await defaultClaim(input, lookup);
    expect(out.spec?.resources?.requests?.storage).toBe("10Gi");
    expect(warnings).toEqual([
      {
        rule: "restore-size",
        severity: "warn",
        message:
          'PVC "new" in namespace "shop" requested 1Gi, less than the 10Gi its source VolumeSnapshot "db-snap" in namespace "shop" holds: raised the request to 10Gi',
      },
    ]);
    expect(out.metadata?.annotations?.[LINEAGE.snapshotOf]).toBe("db");
  });

  it("leaves a smaller request as it is with raise: false (the webhook: /validate denies it)", async () => {
    const input = fromSource("VolumeSnapshot", "db-snap", { resources: { requests: { storage: "1Gi" } } });
    const { claim: out, warnings } = await defaultClaim(input, lookup, { raise: false });
    expect(out.spec?.resources?.requests?.storage).toBe("1Gi");
    expect(warnings).toEqual([]);
    expect(out.metadata?.annotations?.[LINEAGE.snapshotOf]).toBe("db");
  });

  it("leaves a larger request alone", async () => {
    const input = fromSource("PersistentVolumeClaim", "db", { resources: { requests: { storage: "20Gi" } } });
    const { claim: out, warnings } = await defaultClaim(input, lookup);
    expect(out.spec?.resources?.requests?.storage).toBe("20Gi");
    expect(warnings).toEqual([]);
  });

  it("sizes a restore as the larger of restoreSize and the snapshotted PVC's request", async () => {
    const w = world({ volumeSnapshots: [snapshot("small", { restoreSize: "3Gi" })] });
    const { claim: out } = await defaultClaim(noRequest("VolumeSnapshot", "small"), memoryLookup(w));
    expect(out.spec?.resources?.requests?.storage).toBe("10Gi");
    // ...but a request of restoreSize is enough and is not raised.
    const enough = fromSource("VolumeSnapshot", "small", { resources: { requests: { storage: "3Gi" } } });
    const r = await defaultClaim(enough, memoryLookup(w));
    expect(r.claim.spec?.resources?.requests?.storage).toBe("3Gi");
    expect(r.warnings).toEqual([]);
  });

  it("sizes a restore from a snapshot that is not ready yet from the snapshotted PVC", async () => {
    const w = world({ volumeSnapshots: [snapshot("fresh", { ready: false })] });
    const { claim: out } = await defaultClaim(noRequest("VolumeSnapshot", "fresh"), memoryLookup(w));
    expect(out.spec?.resources?.requests?.storage).toBe("10Gi");
  });

  it("fills volumeMode and storageClassName only when absent", async () => {
    const c = noRequest("PersistentVolumeClaim", "raw");
    delete c.spec!.storageClassName;
    const { claim: out } = await defaultClaim(c, lookup);
    expect(out.spec?.volumeMode).toBe("Block");
    expect(out.spec?.storageClassName).toBe("fast");
    const set = fromSource("PersistentVolumeClaim", "raw", {
      volumeMode: "Filesystem",
      storageClassName: "",
    });
    const r = await defaultClaim(set, lookup);
    expect(r.claim.spec?.volumeMode).toBe("Filesystem");
    expect(r.claim.spec?.storageClassName).toBe("");
  });

  it("is idempotent: a second run changes nothing and warns about nothing", async () => {
    for (const input of [
      noRequest("PersistentVolumeClaim", "db"),
      fromSource("VolumeSnapshot", "db-snap", { resources: { requests: { storage: "1Gi" } } }),
    ]) {
      const once = await defaultClaim(input, lookup);
      const twice = await defaultClaim(once.claim, lookup);
      expect(twice.claim).toEqual(once.claim);
      expect(twice.warnings).toEqual([]);
    }
  });

  it("keeps other annotations and overwrites stale lineage", async () => {
    const c = fromSource("PersistentVolumeClaim", "db");
    c.metadata!.annotations = { keep: "me", [LINEAGE.sourceName]: "wrong" };
    const { claim: out } = await defaultClaim(c, lookup);
    expect(out.metadata?.annotations?.keep).toBe("me");
    expect(out.metadata?.annotations?.[LINEAGE.sourceName]).toBe("db");
  });

  it("changes nothing for a claim without a source, a missing source, a bad kind or an ungranted namespace", async () => {
    const inputs = [
      claim("plain", { resources: { requests: { storage: "1Gi" } } }),
      noRequest("PersistentVolumeClaim", "nope"),
      fromSource("ConfigMap", "cm"),
      claim(
        "x",
        { dataSourceRef: { kind: "PersistentVolumeClaim", name: "db", namespace: "shop" } },
        { namespace: "dev" },
      ),
    ];
    for (const input of inputs) {
      const { claim: out, warnings } = await defaultClaim(input, lookup);
      expect(out).toEqual(input);
      expect(warnings).toEqual([]);
    }
  });

  describe("the class of a restore whose snapshotted claim is gone", () => {
    const gone = (classes: ReturnType<typeof storageClass>[]) =>
      memoryLookup(world({ pvcs: [], storageClasses: classes }));
    const restore = () => {
      const c = fromSource("VolumeSnapshot", "db-snap");
      delete c.spec!.storageClassName;
      return c;
    };

    it("is the snapshot driver's default class", async () => {
      const l = gone([
        storageClass("slow", OTHER),
        storageClass("fast", DRIVER, true),
        storageClass("x", DRIVER),
      ]);
      expect((await defaultClaim(restore(), l)).claim.spec?.storageClassName).toBe("fast");
    });

    it("else the driver's only class, even when the cluster's default is another driver's", async () => {
      const l = gone([storageClass("slow", OTHER, true), storageClass("local", DRIVER)]);
      const { claim: out } = await defaultClaim(restore(), l);
      expect(out.spec?.storageClassName).toBe("local");
      expect((await checkClaim(out, l)).allowed).toBe(true);
    });

    it("is left to the API server when the driver has several classes and none is default", async () => {
      const l = gone([storageClass("a", DRIVER), storageClass("b", DRIVER)]);
      expect((await defaultClaim(restore(), l)).claim.spec?.storageClassName).toBeUndefined();
    });

    it("is not looked for while the claim exists: its class is used", async () => {
      const l = memoryLookup(
        world({ storageClasses: [storageClass("fast", DRIVER), storageClass("z", DRIVER, true)] }),
      );
      expect((await defaultClaim(restore(), l)).claim.spec?.storageClassName).toBe("fast");
    });
  });
});
