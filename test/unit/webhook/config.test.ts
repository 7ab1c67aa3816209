// The webhook configurations have one definition, the manifest that ships; tests and the local
// cluster take it from there and only point it elsewhere.
import { describe, expect, it } from "vitest";
import { pointedAt, shippedConfigurations } from "../../../src/webhook/config.ts";

describe("the shipped webhook configurations", () => {
  it("are read from manifests/base as they ship", async () => {
    const { mutating, validating } = await shippedConfigurations();
    const all = [...(mutating.webhooks ?? []), ...(validating.webhooks ?? [])];
    expect(all.map((w) => w.name)).toEqual([
      "pvc-defaults.vol.kubectl.io",
      "content-managed-by.vol.kubectl.io",
      "pvc-data-source.vol.kubectl.io",
      "volumesnapshot.vol.kubectl.io",
      "snapshotschedule.vol.kubectl.io",
      "volumegroupsnapshot.vol.kubectl.io",
    ]);
    for (const w of all) {
      // Fail only where admitting unchanged would leave the object stuck (an unlabelled content).
      expect(w.failurePolicy).toBe(w.name === "content-managed-by.vol.kubectl.io" ? "Fail" : "Ignore");
      // Schedules are checked on a spec change too; claims and snapshots only when created.
      expect(new Set(w.rules?.flatMap((r) => r.operations))).toEqual(
        new Set(w.name.startsWith("snapshotschedule.") ? ["CREATE", "UPDATE"] : ["CREATE"]),
      );
      // Never a subresource: status writes are not the webhook's business.
      expect(w.rules?.flatMap((r) => r.resources ?? []).some((r) => r.includes("/"))).toBe(false);
      // Cluster-scoped snapshot contents have no namespace to select by.
      if (w.rules?.every((r) => r.scope === "Cluster")) continue;
      expect(w.namespaceSelector?.matchExpressions?.map((e) => e.key)).toEqual([
        "kubernetes.io/metadata.name",
        "vol.kubectl.io/webhook",
      ]);
    }
  });

  it("are pointed at a URL with only the client config changed", async () => {
    const shipped = await shippedConfigurations();
    const pointed = pointedAt(shipped, { url: "https://127.0.0.1:9443/", caBundle: "PEM" });
    const hooks = [...(pointed.mutating.webhooks ?? []), ...(pointed.validating.webhooks ?? [])];
    expect(hooks.map((w) => w.clientConfig)).toEqual([
      { url: "https://127.0.0.1:9443/mutate", caBundle: Buffer.from("PEM").toString("base64") },
      { url: "https://127.0.0.1:9443/mutate", caBundle: Buffer.from("PEM").toString("base64") },
      { url: "https://127.0.0.1:9443/validate", caBundle: Buffer.from("PEM").toString("base64") },
      { url: "https://127.0.0.1:9443/validate", caBundle: Buffer.from("PEM").toString("base64") },
      { url: "https://127.0.0.1:9443/validate", caBundle: Buffer.from("PEM").toString("base64") },
      { url: "https://127.0.0.1:9443/validate", caBundle: Buffer.from("PEM").toString("base64") },
    ]);
    const strip = (c: typeof shipped) =>
      [...(c.mutating.webhooks ?? []), ...(c.validating.webhooks ?? [])].map(
        ({ clientConfig: _, ...w }) => w,
      );
    expect(strip(pointed)).toEqual(strip(shipped));
    // The shipped objects are left as they were.
    expect(shipped.mutating.webhooks?.[0]?.clientConfig.service?.path).toBe("/mutate");
  });
});
