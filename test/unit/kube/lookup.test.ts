// The plugin's direct Lookup finds optional CRDs by the table the webhook's caches use
// (src/kube/resources.ts): a ReferenceGrant served only at v1 is found, as the webhook finds it.
import { describe, expect, it } from "vitest";
import { apiLookup, type Get, MissingApiError } from "../../../src/kube/lookup.ts";
import { RESOURCES } from "../../../src/kube/resources.ts";

/** Answers GETs from a map of path → body (discovery documents and lists); the rest is 404. */
function served(paths: Record<string, unknown>): { get: Get; asked: string[] } {
  const asked: string[] = [];
  const get = (async (p: string) => {
    asked.push(p);
    return paths[p];
  }) as Get;
  return { get, asked };
}

const grant = { metadata: { name: "g", namespace: "src" }, spec: { from: [], to: [] } };

describe("apiLookup", () => {
  it("reads ReferenceGrants at the first version the server serves, from the shared table", async () => {
    expect(RESOURCES.referenceGrants.versions).toEqual(["v1", "v1beta1", "v1alpha2"]);
    for (const version of RESOURCES.referenceGrants.versions) {
      const { get, asked } = served({
        [`/apis/gateway.networking.k8s.io/${version}`]: { resources: [{ name: "referencegrants" }] },
        [`/apis/gateway.networking.k8s.io/${version}/namespaces/src/referencegrants`]: { items: [grant] },
      });
      expect(await apiLookup(get).referenceGrants("src")).toEqual([grant]);
      expect(asked.at(-1)).toBe(`/apis/gateway.networking.k8s.io/${version}/namespaces/src/referencegrants`);
    }
    // Not served at any version: undefined (the rule says to install the CRD).
    expect(await apiLookup(served({}).get).referenceGrants("src")).toBeUndefined();
  });

  it("says the snapshot API is missing, and a missing object is undefined", async () => {
    const { get } = served({
      "/api/v1/namespaces/shop/persistentvolumeclaims/db": { metadata: { name: "db" } },
    });
    const lookup = apiLookup(get);
    expect(await lookup.pvc("shop", "db")).toEqual({ metadata: { name: "db" } });
    expect(await lookup.pvc("shop", "nope")).toBeUndefined();
    await expect(lookup.volumeSnapshot("shop", "s")).rejects.toBeInstanceOf(MissingApiError);
  });

  it("reads at the version expected without asking discovery first; only a 404 asks it, once per group version", async () => {
    const snaps = "/apis/snapshot.storage.k8s.io/v1";
    const { get, asked } = served({
      [`${snaps}/namespaces/shop/volumesnapshots/s`]: { metadata: { name: "s" } },
      [`${snaps}/volumesnapshotclasses`]: { items: [{ metadata: { name: "c" } }] },
      [snaps]: {
        resources: ["volumesnapshots", "volumesnapshotclasses", "volumesnapshotcontents"].map((name) => ({
          name,
        })),
      },
    });
    const lookup = apiLookup(get);
    expect(await lookup.volumeSnapshot("shop", "s")).toEqual({ metadata: { name: "s" } });
    expect(await lookup.volumeSnapshotClasses()).toEqual([{ metadata: { name: "c" } }]);
    expect(asked).toEqual([`${snaps}/namespaces/shop/volumesnapshots/s`, `${snaps}/volumesnapshotclasses`]);
    // A missing object of an API seen served at that version is missing: no discovery. Of one
    // not seen yet, discovery says whether the API is served there (the group's document, once).
    asked.length = 0;
    expect(await lookup.volumeSnapshot("shop", "gone")).toBeUndefined();
    expect(await lookup.volumeSnapshotContent("content-1")).toBeUndefined();
    expect(await lookup.volumeSnapshotContent("content-2")).toBeUndefined();
    expect(asked).toEqual([
      `${snaps}/namespaces/shop/volumesnapshots/gone`,
      `${snaps}/volumesnapshotcontents/content-1`,
      snaps,
      `${snaps}/volumesnapshotcontents/content-2`,
    ]);
  });
});
