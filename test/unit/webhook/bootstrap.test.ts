// The self-signed bootstrap's certificates: the CA's key is kept, and the serving certificate is
// renewed from it in the last third of its life (a new CA only when there is no key or the CA
// itself nears its end, with the old CA kept in the bundle while it is valid).
import { createPrivateKey, X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { nearsExpiry, newTlsMaterial, renewed } from "../../../src/webhook/bootstrap.ts";

const YEAR = 365 * 24 * 3600 * 1000;
const start = new Date("2026-12-01T00:00:00Z");
const o = {
  namespace: "vol-system",
  secret: "vol-webhook-tls",
  service: "vol-webhook",
  webhookConfiguration: "vol-webhook",
  outDir: "/unused",
};
const later = (years: number) => new Date(start.getTime() + years * YEAR);
const certs = (bundle: string) =>
  bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
const signedBy = (cert: string, ca: string) =>
  new X509Certificate(cert).verify(new X509Certificate(ca).publicKey);

describe("bootstrap certificates", () => {
  const first = newTlsMaterial(o, start);

  it("keeps the CA's key with its certificate", () => {
    expect(new X509Certificate(first["ca.crt"]).checkPrivateKey(createPrivateKey(first["ca.key"]))).toBe(
      true,
    );
    expect(signedBy(first["tls.crt"], first["ca.crt"])).toBe(true);
    expect(new X509Certificate(first["tls.crt"]).checkHost("vol-webhook.vol-system.svc")).toBe(
      "vol-webhook.vol-system.svc",
    );
  });

  it("renews nothing while the serving certificate has more than a third of its life", () => {
    expect(nearsExpiry(first["tls.crt"], later(3.3))).toBe(false);
    expect(renewed(first, o, later(3.3))).toBeUndefined();
  });

  it("renews the serving certificate from the kept CA in its last third of life", () => {
    const at = later(3.5);
    expect(nearsExpiry(first["tls.crt"], at)).toBe(true);
    const next = renewed(first, o, at);
    expect(next).toBeDefined();
    expect(next?.["ca.crt"]).toBe(first["ca.crt"]);
    expect(next?.["ca.key"]).toBe(first["ca.key"]);
    expect(next?.["tls.crt"]).not.toBe(first["tls.crt"]);
    expect(signedBy(next?.["tls.crt"] ?? "", first["ca.crt"])).toBe(true);
    const c = new X509Certificate(next?.["tls.crt"] ?? "");
    expect(Date.parse(c.validTo)).toBeGreaterThan(at.getTime() + 4 * YEAR);
    expect(c.checkHost("vol-webhook.vol-system.svc")).toBe("vol-webhook.vol-system.svc");
    expect(renewed(next!, o, at)).toBeUndefined();
  });

  it("makes a new CA when the key is missing (an older Secret), trusting the old CA as well", () => {
    const legacy = { ...first, "ca.key": "" };
    const next = renewed(legacy, o, later(3.5));
    const bundle = certs(next?.["ca.crt"] ?? "");
    expect(bundle).toHaveLength(2);
    expect(bundle[1]).toBe(first["ca.crt"]);
    expect(signedBy(next?.["tls.crt"] ?? "", bundle[0] ?? "")).toBe(true);
    expect(
      new X509Certificate(bundle[0] ?? "").checkPrivateKey(createPrivateKey(next?.["ca.key"] ?? "")),
    ).toBe(true);
  });

  it("makes a new CA when the CA itself nears its end", () => {
    const atSeven = renewed(renewed(first, o, later(3.5))!, o, later(7));
    expect(atSeven?.["ca.crt"]).not.toBe(first["ca.crt"]);
    expect(certs(atSeven?.["ca.crt"] ?? "")[1]).toBe(first["ca.crt"]);
  });
});
