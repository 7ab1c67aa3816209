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
});
