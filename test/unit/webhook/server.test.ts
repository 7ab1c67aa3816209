// The transport, over real HTTPS on loopback (no API server: lookups are plain lists).
import { copyFile, readFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { PassThrough } from "node:stream";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CA, type CertFiles, createCA } from "../../../src/localcluster/certs.ts";
import { Session, waitUntil } from "../../../src/localcluster/session.ts";
import { memoryLookup } from "../../../src/rules/index.ts";
import { readBody, startWebhookServer, type WebhookServer } from "../../../src/webhook/server.ts";
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

/** A TLS 1.1 handshake (with ciphers that allow it): the protocol agreed, or the error. */
function tls11(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      ca: caPem,
      minVersion: "TLSv1",
      maxVersion: "TLSv1.1",
      ciphers: "DEFAULT@SECLEVEL=0",
    });
    s.on("secureConnect", () => {
      resolve(String(s.getProtocol()));
      s.destroy();
    });
    s.on("error", (err) => resolve(err.message));
  });
}

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
    const sizeless = claim();
    delete sizeless.spec?.resources;
    const a = await post(agent, `${url}/mutate`, JSON.stringify(review(sizeless)));
    const r = JSON.parse(a.body).response;
    expect(r.patchType).toBe("JSONPatch");
    const patch = JSON.parse(Buffer.from(r.patch, "base64").toString());
    expect(patch).toContainEqual({
      op: "add",
      path: "/spec/resources",
      value: { requests: { storage: "10Gi" } },
    });
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

  it("refuses TLS below 1.2 even where Node's own defaults allow it, also after a reload", async () => {
    // As `node --tls-min-v1.0 --tls-cipher-list=DEFAULT@SECLEVEL=0` (say in NODE_OPTIONS) would:
    // then only the server's own minVersion stands between a client and TLS 1.1.
    const saved = [tls.DEFAULT_MIN_VERSION, tls.DEFAULT_CIPHERS] as const;
    tls.DEFAULT_MIN_VERSION = "TLSv1";
    tls.DEFAULT_CIPHERS = "DEFAULT@SECLEVEL=0";
    const pair = await ca.issue("tls11", { cn: "tls11", sans: ["IP:127.0.0.1"] });
    const plain = https.createServer({ cert: await readFile(pair.cert), key: await readFile(pair.key) });
    const strict = await startWebhookServer({
      certFile: pair.cert,
      keyFile: pair.key,
      lookups: { cached: memoryLookup(world()) },
    });
    try {
      await new Promise<void>((r) => plain.listen(0, "127.0.0.1", r));
      // The probe can connect with TLS 1.1: a server without minVersion takes it.
      expect(await tls11((plain.address() as AddressInfo).port)).toBe("TLSv1.1");
      expect(await tls11(strict.port)).toMatch(/alert protocol version/);
      const next = await ca.issue("tls11-next", { cn: "tls11-next", sans: ["IP:127.0.0.1"] });
      await copyFile(next.key, pair.key);
      await copyFile(next.cert, pair.cert);
      expect(strict.certificates.reload()).toBe(true);
      expect(await tls11(strict.port)).toMatch(/alert protocol version/);
    } finally {
      [tls.DEFAULT_MIN_VERSION, tls.DEFAULT_CIPHERS] = saved;
      plain.close();
      await strict.close();
    }
  });

  it("answers within the API server's timeout (?timeout=) when the API does not answer", async () => {
    const hanging = new Promise<never>(() => undefined);
    const slow = await startWebhookServer({
      certFile: files.cert,
      keyFile: files.key,
      lookups: { cached: { ...memoryLookup(world()), pvc: () => hanging } },
    });
    try {
      const started = Date.now();
      const a = await post(
        agent,
        `https://127.0.0.1:${slow.port}/validate?timeout=1s`,
        JSON.stringify(review(claim())),
      );
      const took = Date.now() - started;
      expect(took).toBeLessThan(1000);
      expect(took).toBeGreaterThanOrEqual(700);
      expect(JSON.parse(a.body).response).toMatchObject({
        allowed: true,
        warnings: [
          expect.stringMatching(/could not check this PersistentVolumeClaim before the API server's timeout/),
        ],
      });
    } finally {
      await slow.close();
    }
  });

  it("answers 400 when the request body cannot be read", async () => {
    const socket = new PassThrough();
    const req = new http.IncomingMessage(socket as unknown as Socket);
    req.headers = { "content-type": "application/json" };
    const res = new http.ServerResponse(req);
    res.assignSocket(socket as unknown as Socket);
    const written: Buffer[] = [];
    socket.on("data", (c: Buffer) => written.push(c));
    const body = readBody(req, res, 1024);
    req.push("{");
    req.emit("error", new Error("the stream broke"));
    expect(await body).toBeUndefined();
    await new Promise((r) => setImmediate(r));
    const text = Buffer.concat(written).toString();
    expect(text).toMatch(/^HTTP\/1.1 400 /);
    expect(text).toContain('"message":"the request body could not be read: the stream broke"');
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
