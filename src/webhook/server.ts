// The transport: an HTTPS server (TLS 1.2+) for /mutate and /validate plus /healthz, /readyz
// and /metrics. It limits the body size, checks the content type, answers a body that is not
// an AdmissionReview we handle with HTTP 400 and a reason, echoes the uid, and turns a throw
// in a handler into an error answer (allowed: false, code 500) — it never crashes the process.
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { errorMessage, type Logger, silentLogger } from "../kube/log.ts";
import type { Finding } from "../rules/index.ts";
import { requestDeadline, requestTimeoutMs } from "./deadline.ts";
import { type Handler, type Lookups, mutate, validate } from "./handlers.ts";
import { Metrics } from "./metrics.ts";
import { type AdmissionRequest, BadRequest, decodeReview, encodeReview } from "./review.ts";
import { type CertReloader, MIN_TLS_VERSION, readKeyPair, reloadCertificates } from "./tls.ts";

/** The Kubernetes API server sends at most 3 MiB objects; a review holds two and some envelope. */
export const MAX_BODY_BYTES = 7 * 1024 * 1024;

export interface ServerOptions {
  certFile: string;
  keyFile: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  /** The lookups, or a function making them for one request's deadline (their reads stop at it). */
  lookups: Lookups | ((deadline: AbortSignal) => Lookups);
  /** /readyz answers 200 only when this returns true (default: always). */
  ready?: () => boolean;
  log?: Logger;
  metrics?: Metrics;
  maxBodyBytes?: number;
  /** How often the certificate files are checked for a change (ms). */
  certPollMs?: number;
}

export interface WebhookServer {
  port: number;
  metrics: Metrics;
  server: https.Server;
  certificates: CertReloader;
  /** Stops accepting, lets requests in flight finish, then closes idle connections. */
  close(): Promise<void>;
}

const ROUTES: Record<string, Handler> = { "/mutate": mutate, "/validate": validate };

function send(res: ServerResponse, code: number, body: string, type = "application/json"): void {
  res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function problem(res: ServerResponse, code: number, message: string): void {
  send(res, code, JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, message }));
}

/**
 * Reads the body up to `limit` bytes. Every way it can fail is answered here, and resolves
 * undefined: 413 when the body is larger, 400 when reading it fails (the answer is lost only when
 * the connection is gone too).
 */
export function readBody(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    let done = false;
    const fail = (code: number, message: string) => {
      done = true;
      if (!res.headersSent) {
        res.setHeader("connection", "close");
        problem(res, code, message);
      }
      req.resume();
      resolve(undefined);
    };
    if (declared > limit) return fail(413, `the body is larger than ${limit} bytes`);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) return fail(413, `the body is larger than ${limit} bytes`);
      chunks.push(c);
    });
    req.on("end", () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks, size));
      }
    });
    req.on("error", (err) => {
      if (!done) fail(400, `the request body could not be read: ${errorMessage(err)}`);
    });
  });
}

function describeRequest(r: AdmissionRequest): Record<string, unknown> {
  return {
    uid: r.uid,
    kind: r.gvk.kind,
    operation: r.operation,
    namespace: r.namespace,
    name: r.name ?? (r.subject.object as { metadata?: { generateName?: string } })?.metadata?.generateName,
    dryRun: r.dryRun,
  };
}

export async function startWebhookServer(opts: ServerOptions): Promise<WebhookServer> {
  const log = opts.log ?? silentLogger;
  const metrics = opts.metrics ?? new Metrics();
  const limit = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const ready = opts.ready ?? (() => true);
  const pair = readKeyPair(opts.certFile, opts.keyFile);

  const admit = async (path: string, handler: Handler, req: IncomingMessage, res: ServerResponse) => {
    // The API server's clock runs from when it sent the request: so does ours.
    const timeoutMs = requestTimeoutMs(req.url);
    const deadline = requestDeadline(timeoutMs);
    try {
      await admitWithin(path, handler, req, res, timeoutMs, deadline.signal);
    } finally {
      deadline.release();
    }
  };

  const admitWithin = async (
    path: string,
    handler: Handler,
    req: IncomingMessage,
    res: ServerResponse,
    timeoutMs: number,
    deadline: AbortSignal,
  ) => {
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      return problem(res, 405, `${path} takes POST with an AdmissionReview`);
    }
    const type = String(req.headers["content-type"] ?? "")
      .split(";")[0]
      ?.trim()
      .toLowerCase();
    if (type !== "application/json") {
      req.resume();
      return problem(
        res,
        400,
        `content type must be application/json, not ${JSON.stringify(type || "(none)")}`,
      );
    }
    const body = await readBody(req, res, limit);
    if (!body) return;
    let review: AdmissionRequest;
    try {
      review = decodeReview(body);
    } catch (err) {
      if (!(err instanceof BadRequest))
        log.error("decoding a review failed unexpectedly", { error: errorMessage(err) });
      log.info("bad request", { path, reason: errorMessage(err) });
      return problem(res, 400, errorMessage(err));
    }
    let findings: Finding[] = [];
    let answer: string;
    try {
      const lookups = typeof opts.lookups === "function" ? opts.lookups(deadline) : opts.lookups;
      const out = await handler(review, lookups, deadline);
      findings = out.findings;
      answer = encodeReview(review.uid, out.response);
      metrics.admission(path, out.response.allowed, (out.response.patch?.length ?? 0) > 0);
      const level = out.late ? "warn" : !out.response.allowed || findings.length > 0 ? "info" : "debug";
      if (log.enabled(level)) {
        log[level]("admission", {
          path,
          ...describeRequest(review),
          allowed: out.response.allowed,
          patched: (out.response.patch?.length ?? 0) > 0,
          findings: findings.map((f) => `${f.severity}:${f.rule}`),
          message: out.response.status?.message,
          timeoutMs,
          ...(out.late ? { late: true } : {}),
        });
      }
    } catch (err) {
      log.error("handler failed", { path, ...describeRequest(review), error: errorMessage(err) });
      metrics.admission(path, false, false);
      answer = encodeReview(review.uid, {
        allowed: false,
        status: {
          code: 500,
          reason: "InternalError",
          message: `the vol.kubectl.io webhook could not check this ${review.gvk.kind}: ${errorMessage(err)}; retry, and see the webhook's log if it persists`,
        },
      });
    }
    for (const f of findings) metrics.finding(path.slice(1), f.rule, f.severity);
    send(res, 200, answer);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    res.once("finish", () =>
      metrics.request(path, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9),
    );
    const handler = ROUTES[path];
    const work = handler
      ? admit(path, handler, req, res)
      : Promise.resolve().then(() => {
          req.resume();
          if (path === "/healthz") return send(res, 200, "ok\n", "text/plain");
          if (path === "/readyz") {
            return ready()
              ? send(res, 200, "ok\n", "text/plain")
              : send(res, 503, "caches not synced\n", "text/plain");
          }
          if (path === "/metrics") return send(res, 200, metrics.render(), "text/plain; version=0.0.4");
          return problem(
            res,
            404,
            `no such path ${JSON.stringify(path.slice(0, 100))}: use /mutate or /validate`,
          );
        });
    work.catch((err: unknown) => {
      log.error("request failed", { path, error: errorMessage(err) });
      if (!res.headersSent) problem(res, 400, `the request could not be read: ${errorMessage(err)}`);
      else res.destroy();
    });
  };

  const server = https.createServer({ ...pair, minVersion: MIN_TLS_VERSION }, onRequest);
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;
  server.requestTimeout = 30_000;
  server.on("clientError", (err, socket) => {
    log.debug("client error", { error: errorMessage(err) });
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n");
    else socket.destroy();
  });
  server.on("tlsClientError", (err) => log.debug("TLS handshake failed", { error: errorMessage(err) }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const certificates = reloadCertificates(server, opts.certFile, opts.keyFile, log, opts.certPollMs);
  const port = (server.address() as AddressInfo).port;
  log.info("listening", { host: opts.host ?? "127.0.0.1", port });
  return {
    port,
    metrics,
    server,
    certificates,
    close: () =>
      new Promise<void>((resolve) => {
        certificates.close();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
