// Fuzz: thousands of malformed and random AdmissionReview bodies against the real HTTPS
// transport. Every one is answered (200 with the uid echoed, or a 4xx with a reason), none
// gets a 5xx, in the HTTP status or in the review's status (a handler that threw), and the
// process keeps serving. Seeded, so a failure reproduces.
import { copyFile } from "node:fs/promises";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCA } from "../../../src/localcluster/certs.ts";
import { Session } from "../../../src/localcluster/session.ts";
import { memoryLookup } from "../../../src/rules/index.ts";
import { startWebhookServer, type WebhookServer } from "../../../src/webhook/server.ts";
import { world } from "../rules/fixtures.ts";
import { type Answer, post } from "./https-client.ts";
import { apiClaim, review } from "./reviews.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const COUNT = Number(process.env.FUZZ_COUNT ?? 4000);

/** mulberry32: a small seeded PRNG. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

const STRINGS = [
  "",
  "db",
  "../../etc/passwd",
  "a\u0000b",
  "x".repeat(300),
  "__proto__",
  "constructor",
  "Gi",
  "-1Gi",
  "1e999",
  "9".repeat(80),
  "snapshot.storage.k8s.io",
  "PersistentVolumeClaim",
  "VolumeSnapshot",
  "Block",
  "\ud800",
  "😀",
];

function randomValue(r: R, depth = 0): unknown {
  const n = r();
  if (depth > 4 || n < 0.25) return pick(r, STRINGS);
  if (n < 0.35) return Math.floor(r() * 2 ** 40) * (r() < 0.5 ? -1 : 1);
  if (n < 0.4) return pick(r, [null, true, false, 0, -0, 1.5, Number.MAX_SAFE_INTEGER]);
  if (n < 0.55) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(r() * 5); i > 0; i--) {
    o[
      pick(r, [
        ...STRINGS,
        "metadata",
        "spec",
        "dataSource",
        "dataSourceRef",
        "kind",
        "name",
        "apiGroup",
        "resources",
        "requests",
        "storage",
        "source",
        "status",
      ])
    ] = randomValue(r, depth + 1);
  }
  return o;
}

const PATHS = [
  ["request"],
  ["request", "uid"],
  ["request", "kind"],
  ["request", "kind", "kind"],
  ["request", "operation"],
  ["request", "object"],
  ["request", "object", "metadata"],
  ["request", "object", "metadata", "annotations"],
  ["request", "object", "spec"],
  ["request", "object", "spec", "dataSource"],
  ["request", "object", "spec", "dataSource", "kind"],
  ["request", "object", "spec", "dataSourceRef"],
  ["request", "object", "spec", "dataSourceRef", "namespace"],
  ["request", "object", "spec", "resources", "requests"],
  ["request", "object", "spec", "resources", "requests", "storage"],
  ["request", "object", "spec", "volumeMode"],
  ["request", "object", "spec", "source"],
  ["request", "oldObject"],
  ["request", "namespace"],
  ["apiVersion"],
  ["kind"],
] as const;

function validBase(r: R): Record<string, unknown> {
  const kinds = [
    () =>
      review(
        apiClaim("copy", {
          storageClassName: pick(r, ["fast", "slow", "", "nope"]),
          resources: { requests: { storage: pick(r, ["1Gi", "10Gi", "20Gi"]) } },
          dataSource: { kind: "PersistentVolumeClaim", name: pick(r, ["db", "raw", "pending", "nope"]) },
        }),
      ),
    () =>
      review(
        apiClaim("restored", {
          dataSourceRef: {
            apiGroup: "snapshot.storage.k8s.io",
            kind: "VolumeSnapshot",
            name: pick(r, ["db-snap", "nope"]),
            ...(r() < 0.3 ? { namespace: "other" } : {}),
          },
        }),
      ),
    () =>
      review(
        {
          metadata: { name: "s", namespace: "shop" },
          spec: { source: { persistentVolumeClaimName: pick(r, ["db", "pending"]) } },
        },
        { kind: { group: "snapshot.storage.k8s.io", version: "v1", kind: "VolumeSnapshot" } },
      ),
  ];
  return structuredClone(pick(r, kinds)()) as Record<string, unknown>;
}

function setPath(obj: Record<string, unknown>, path: readonly string[], value: unknown, remove: boolean) {
  let cur: unknown = obj;
  for (const p of path.slice(0, -1)) {
    if (typeof cur !== "object" || cur === null) return;
    cur = (cur as Record<string, unknown>)[p];
  }
  if (typeof cur !== "object" || cur === null) return;
  const last = path[path.length - 1] as string;
  if (remove) delete (cur as Record<string, unknown>)[last];
  else (cur as Record<string, unknown>)[last] = value;
}

/** One fuzz case: [path, body, content type]. */
function fuzzCase(r: R, i: number): [string, string | Buffer, string] {
  const path = pick(r, ["/validate", "/mutate"]);
  const kind = r();
  if (kind < 0.05)
    return [
      path,
      Buffer.from(Array.from({ length: Math.floor(r() * 512) }, () => Math.floor(r() * 256))),
      "application/json",
    ];
  if (kind < 0.1) return [path, JSON.stringify(randomValue(r)), "application/json"];
  if (kind < 0.13) return [path, "[".repeat(20_000) + "]".repeat(20_000), "application/json"];
  if (kind < 0.15)
    return [
      path,
      JSON.stringify(review(apiClaim("x", {}))),
      pick(r, ["text/plain", "", "application/yaml", "application/json; charset=utf-8"]),
    ];
  const body = validBase(r);
  (body.request as Record<string, unknown>).uid = `fuzz-${i}`;
  for (let m = 1 + Math.floor(r() * 3); m > 0; m--) {
    setPath(body, pick(r, PATHS), randomValue(r), r() < 0.3);
  }
  // A deeply nested value where the rules and the patch diff walk (built as text: too deep to stringify).
  const deep = r() < 0.03;
  if (deep) setPath(body, ["request", "object", "spec", "extra"], "__DEEP__", false);
  let text = JSON.stringify(body);
  if (deep) text = text.replace('"__DEEP__"', `${'{"d":'.repeat(5000)}"bottom"${"}".repeat(5000)}`);
  if (r() < 0.05) text = text.slice(0, Math.floor(r() * text.length));
  return [path, text, "application/json"];
}

let session: Session;
let srv: WebhookServer;
let agent: https.Agent;

beforeAll(async () => {
  session = await Session.create("kubectl-vol-webhook-fuzz");
  const ca = await createCA(session.dir);
  const pair = await ca.issue("serving", { cn: "fuzz", sans: ["IP:127.0.0.1"] });
  await copyFile(pair.cert, session.path("tls.crt"));
  srv = await startWebhookServer({
    certFile: pair.cert,
    keyFile: pair.key,
    lookups: { cached: memoryLookup(world()) },
  });
  agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: await ca.pem() });
});

afterAll(async () => {
  agent?.destroy();
  await srv?.close();
  await session?.stop();
});

describe("fuzzing /validate and /mutate", () => {
  it(`answers ${COUNT} malformed and random reviews without a 5xx (seed ${SEED})`, async () => {
    const r = rng(SEED);
    const url = `https://127.0.0.1:${srv.port}`;
    const counts = new Map<number, number>();
    const failures: string[] = [];
    const cases = Array.from({ length: COUNT }, (_, i) => fuzzCase(r, i));
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        const [path, body, type] = cases[i] as [string, string | Buffer, string];
        let a: Answer;
        try {
          a = await post(agent, `${url}${path}`, body, type);
        } catch (err) {
          failures.push(`case ${i}: no answer (${(err as Error).message})`);
          continue;
        }
        counts.set(a.code, (counts.get(a.code) ?? 0) + 1);
        if (a.code >= 500 || (a.code !== 200 && (a.code < 400 || a.code >= 500))) {
          failures.push(`case ${i}: HTTP ${a.code}: ${a.body.slice(0, 200)}`);
        } else if (a.code === 200) {
          const res = JSON.parse(a.body) as {
            response?: { uid?: string; allowed?: boolean; status?: { code?: number; message?: string } };
          };
          const sent = JSON.parse(typeof body === "string" ? body : body.toString()) as {
            request?: { uid?: string };
          };
          if (res.response?.uid !== sent.request?.uid || typeof res.response?.allowed !== "boolean") {
            failures.push(`case ${i}: 200 without the uid echoed: ${a.body.slice(0, 200)}`);
          }
          // A handler that throws is answered 200 with status.code 500: a bug the fuzz must see.
          const code = res.response?.status?.code;
          if (code !== undefined && code !== 403) {
            failures.push(`case ${i}: answered with status ${code}: ${res.response?.status?.message}`);
          }
          if (res.response?.allowed === false && !res.response.status?.message) {
            failures.push(`case ${i}: denied without a message`);
          }
        } else if (!(JSON.parse(a.body) as { message?: string }).message) {
          failures.push(`case ${i}: HTTP ${a.code} without a reason`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(failures.slice(0, 10)).toEqual([]);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(COUNT);
    // Both kinds of answer occurred: the fuzz reached the handlers, not just the decoder.
    expect(counts.get(200) ?? 0).toBeGreaterThan(COUNT / 10);
    expect(counts.get(400) ?? 0).toBeGreaterThan(COUNT / 10);
    const h = await post(agent, `${url}/healthz`, "", "text/plain", "GET");
    expect(h.code).toBe(200);
  });
});
