// The transport, over real HTTPS on loopback (no API server: lookups are plain lists).
import { copyFile } from "node:fs/promises";
import https from "node:https";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CA, type CertFiles, createCA } from "../../../src/localcluster/certs.ts";
import { Session, waitUntil } from "../../../src/localcluster/session.ts";
import { memoryLookup } from "../../../src/rules/index.ts";
import { startWebhookServer, type WebhookServer } from "../../../src/webhook/server.ts";
import { world } from "../rules/fixtures.ts";
import { post, servedCommonName } from "./https-client.ts";
import { apiClaim, review } from "./reviews.ts";

let session: Session;
let ca: CA;
let caPem: string;
let files: CertFiles;
let srv: WebhookServer;
let url: string;
let agent: https.Agent;

beforeAll(async () => {
  session = await Session.create("kubectl-vol-webhook-unit");
  ca = await createCA(session.dir);
  caPem = await ca.pem();
  const first = await ca.issue("first", { cn: "first", sans: ["IP:127.0.0.1"] });
  files = { cert: session.path("tls.crt"), key: session.path("tls.key") };
  await copyFile(first.cert, files.cert);
  await copyFile(first.key, files.key);
  srv = await startWebhookServer({
    certFile: files.cert,
    keyFile: files.key,
    lookups: { cached: memoryLookup(world()) },
    maxBodyBytes: 64 * 1024,
    certPollMs: 50,
  });
  url = `https://127.0.0.1:${srv.port}`;
  agent = new https.Agent({ keepAlive: true, ca: caPem });
});

afterAll(async () => {
  agent?.destroy();
  await srv?.close();
  await session?.stop();
});

const claim = () =>
  apiClaim("copy", {
    storageClassName: "fast",
    resources: { requests: { storage: "1Gi" } },
    dataSource: { kind: "PersistentVolumeClaim", name: "db" },
  });

describe("webhook transport", () => {
  it("answers /validate with the uid echoed", async () => {
    const a = await post(agent, `${url}/validate`, JSON.stringify(review(claim(), { uid: "abc-123" })));
    expect(a.code).toBe(200);
    const body = JSON.parse(a.body);
    expect(body.response.uid).toBe("abc-123");
    expect(body.response.allowed).toBe(false);
    expect(body.response.status.message).toMatch(/requests 1Gi but its source PVC "db"/);
  });

  it("answers /mutate with a base64 JSON Patch", async () => {
    const a = await post(agent, `${url}/mutate`, JSON.stringify(review(claim())));
    const r = JSON.parse(a.body).response;
    expect(r.patchType).toBe("JSONPatch");
    const patch = JSON.parse(Buffer.from(r.patch, "base64").toString());
    expect(patch).toContainEqual({ op: "replace", path: "/spec/resources/requests/storage", value: "10Gi" });
    expect(r.warnings[0]).toMatch(/raised the request to 10Gi/);
  });

  it("answers 400 with a reason for a wrong content type, a malformed body, an unknown kind", async () => {
    const ct = await post(agent, `${url}/validate`, "{}", "text/plain");
    expect(ct.code).toBe(400);
    expect(JSON.parse(ct.body).message).toBe('content type must be application/json, not "text/plain"');
    const bad = await post(agent, `${url}/validate`, "{");
    expect(bad.code).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/^the body is not JSON/);
    const kind = await post(
      agent,
      `${url}/validate`,
      JSON.stringify(review({}, { kind: { group: "", version: "v1", kind: "Secret" } })),
    );
    expect(kind.code).toBe(400);
    expect(JSON.parse(kind.body).message).toMatch(/^request.kind "v1 Secret" is not handled/);
  });

  it("refuses a body over the limit with 413, and other methods and paths", async () => {
    const big = await post(agent, `${url}/validate`, JSON.stringify({ pad: "x".repeat(70 * 1024) }));
    expect(big.code).toBe(413);
    expect((await post(agent, `${url}/validate`, "", "application/json", "GET")).code).toBe(405);
    expect((await post(agent, `${url}/nope`, "")).code).toBe(404);
  });

  it("turns a throw in a handler into an error answer, and keeps serving", async () => {
    const broken = await startWebhookServer({
      certFile: files.cert,
      keyFile: files.key,
      lookups: {
        cached: {
          ...memoryLookup(world()),
          pvc: async () => {
            throw new Error("the API server is down");
          },
        },
      },
    });
    try {
      const a = await post(
        agent,
        `https://127.0.0.1:${broken.port}/validate`,
        JSON.stringify(review(claim())),
      );
      expect(a.code).toBe(200);
      expect(JSON.parse(a.body).response).toMatchObject({
        allowed: false,
        status: { code: 500, reason: "InternalError" },
      });
      expect(JSON.parse(a.body).response.status.message).toMatch(/the API server is down/);
      const h = await post(agent, `https://127.0.0.1:${broken.port}/healthz`, "", "text/plain", "GET");
      expect(h).toEqual({ code: 200, body: "ok\n" });
    } finally {
      await broken.close();
    }
  });

  it("counts requests, latency and decisions by rule in /metrics", async () => {
    const m = await post(agent, `${url}/metrics`, "", "text/plain", "GET");
    expect(m.code).toBe(200);
    expect(m.body).toMatch(/vol_webhook_requests_total\{path="\/validate",code="200"\} [1-9]/);
    expect(m.body).toMatch(/vol_webhook_requests_total\{path="\/validate",code="400"\} [1-9]/);
    expect(m.body).toMatch(/vol_webhook_request_duration_seconds_count\{path="\/validate"\} [1-9]/);
    expect(m.body).toMatch(
      /vol_webhook_decisions_total\{webhook="validate",rule="clone-size",severity="deny"\} 1/,
    );
    expect(m.body).toMatch(/vol_webhook_admissions_total\{path="\/mutate",allowed="true",patched="true"\} 1/);
  });

  it("refuses TLS below 1.2", async () => {
    const err = await new Promise<Error | undefined>((resolve) => {
      const s = tls.connect({
        host: "127.0.0.1",
        port: srv.port,
        ca: caPem,
        maxVersion: "TLSv1.1",
        minVersion: "TLSv1",
      });
      s.on("secureConnect", () => {
        s.destroy();
        resolve(undefined);
      });
      s.on("error", resolve);
    });
    expect(err).toBeInstanceOf(Error);
  });

  it("reloads a rotated certificate without a restart, and keeps the old one on a bad pair", async () => {
    expect(await servedCommonName(`${url}/healthz`, caPem)).toBe("first");
    const second = await ca.issue("second", { cn: "second", sans: ["IP:127.0.0.1"] });
    // A half-written rotation (new cert, old key) is refused; the old pair keeps serving.
    await copyFile(second.cert, files.cert);
    await new Promise((r) => setTimeout(r, 300));
    expect(await servedCommonName(`${url}/healthz`, caPem)).toBe("first");
    await copyFile(second.key, files.key);
    await waitUntil(
      "the new certificate to be served",
      async () => (await servedCommonName(`${url}/healthz`, caPem)) === "second",
      10_000,
    );
  });
});
