// Plain JSON GETs and watches against the API server by path, over a Connection: the same
// object shapes for any group (core, built-in or CRD), without a typed client.
import https from "node:https";
import type { Connection } from "./connection.ts";
import { sleep } from "./sleep.ts";

export class ApiError extends Error {
  override name = "ApiError";
  /** HTTP status; 0 when there was no answer. */
  readonly code: number;
  /** The Kubernetes Status the server answered with, if it sent one. */
  readonly status?: ApiStatus;
  /** The server's Retry-After, in seconds. */
  retryAfterS?: number;
  constructor(code: number, message: string, status?: ApiStatus) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** The parts of a metav1.Status the callers read. */
export interface ApiStatus {
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; group?: string };
}

/** No complete answer within the request's deadline (kubectl's --request-timeout). */
export class RequestTimeoutError extends Error {
  override name = "TimeoutError";
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });

/** How long a new connection (TCP and TLS) may take when the request has no deadline (client-go's dial timeout). */
const CONNECT_TIMEOUT_MS = 30_000;

function parseStatus(text: string): ApiStatus | undefined {
  try {
    const s = JSON.parse(text) as ApiStatus & { kind?: string };
    return s && typeof s === "object" ? s : undefined;
  } catch {
    return undefined;
  }
}

function statusMessage(text: string): string {
  return parseStatus(text)?.message ?? text.trim().slice(0, 500);
}

export interface CallOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Sent as JSON. */
  body?: unknown;
  /** The body's content type (default application/json; a PATCH names its patch type here). */
  contentType?: string;
  /** The whole request, connecting included, in ms (0 or undefined: no deadline). */
  deadlineMs?: number;
  /** Socket inactivity limit in ms (a watch's idle limit; undefined: none). */
  idleMs?: number;
  signal?: AbortSignal;
  /**
   * Delays (ms) before trying again after a 429 or 503 (a CRD's storage still initialising,
   * priority and fairness pushing back); a Retry-After the server sends is used when shorter.
   */
  busyRetries?: readonly number[];
}

async function request(conn: Connection, path: string, o: CallOptions) {
  const body = o.body === undefined ? undefined : JSON.stringify(o.body);
  const opts: https.RequestOptions = {
    method: o.method ?? "GET",
    headers: {
      accept: "application/json",
      ...(body !== undefined
        ? { "content-type": o.contentType ?? "application/json", "content-length": Buffer.byteLength(body) }
        : {}),
    },
    ...(o.idleMs ? { timeout: o.idleMs } : {}),
    agent,
    signal: o.signal,
  };
  await conn.apply(opts);
  const req = https.request(new URL(path, conn.server), opts);
  // A deadline for the whole request; without one, a limit on connecting only.
  const limit = o.deadlineMs || CONNECT_TIMEOUT_MS;
  const timer = setTimeout(() => req.destroy(new RequestTimeoutError(limit)), limit);
  const clear = () => clearTimeout(timer);
  req.once("close", clear);
  if (!o.deadlineMs) {
    req.once("socket", (sock) => {
      if (req.reusedSocket || !sock.connecting) clear();
      else sock.once("secureConnect", clear);
    });
  }
  if (o.idleMs) req.on("timeout", () => req.destroy(new Error(`no data within ${o.idleMs} ms`)));
  if (body !== undefined) req.write(body);
  return req;
}

/**
 * One request with a JSON answer. Resolves with the parsed body on 2xx; rejects with ApiError
 * (status code and the server's Status) otherwise, RequestTimeoutError past the deadline, or the
 * network error (its `code`, such as ECONNREFUSED, kept) or AbortError.
 */
export async function callJson<T>(conn: Connection, path: string, o: CallOptions = {}): Promise<T> {
  for (const delay of o.busyRetries ?? []) {
    try {
      return await callOnce<T>(conn, path, o);
    } catch (err) {
      if (!(err instanceof ApiError) || (err.code !== 429 && err.code !== 503)) throw err;
      const after = err.retryAfterS !== undefined ? err.retryAfterS * 1000 : delay;
      await sleep(Math.min(delay, after), o.signal);
    }
  }
  return callOnce<T>(conn, path, o);
}

async function callOnce<T>(conn: Connection, path: string, o: CallOptions): Promise<T> {
  const req = await request(conn, path, o);
  const what = `${o.method ?? "GET"} ${path}`;
  return new Promise((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err) => reject(err));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const code = res.statusCode ?? 0;
        if (code < 200 || code > 299) {
          const err = new ApiError(code, `${what}: ${code} ${statusMessage(text)}`, parseStatus(text));
          const after = Number(res.headers["retry-after"]);
          if (Number.isFinite(after) && after >= 0) err.retryAfterS = after;
          return reject(err);
        }
        try {
          resolve(JSON.parse(text) as T);
        } catch (err) {
          reject(new ApiError(0, `${what}: the answer is not JSON (${(err as Error).message})`));
        }
      });
    });
    req.on("error", (err) => reject(err));
    req.end();
  });
}

/**
 * GET `path` as JSON; `undefined` on 404. A 429 or 503 (a CRD's storage still initialising,
 * priority and fairness pushing back) is tried again a few times within about a second. Other
 * failures throw ApiError. `signal` (the webhook's deadline) stops the read and the retries.
 */
export async function getJson<T>(
  conn: Connection,
  path: string,
  timeoutMs = 10_000,
  signal?: AbortSignal,
): Promise<T | undefined> {
  if (signal?.aborted) throw new ApiError(0, `GET ${path}: the deadline has passed`);
  try {
    return await callJson<T>(conn, path, { idleMs: timeoutMs, busyRetries: [100, 300, 600], signal });
  } catch (err) {
    if (err instanceof ApiError) {
      if (err.code === 404) return undefined;
      throw err;
    }
    if (signal?.aborted) throw new ApiError(0, `GET ${path}: the deadline has passed`);
    throw new ApiError(0, `GET ${path}: ${(err as Error).message}`);
  }
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: Record<string, unknown>;
}

/**
 * Streams a watch (`path` with `?watch=1&...`), calling `onEvent` per event. Resolves when the
 * server ends the stream (its timeout) or `signal` aborts; rejects with ApiError on an HTTP
 * error or a broken stream.
 */
export async function watchStream(
  conn: Connection,
  path: string,
  onEvent: (e: WatchEvent) => void,
  signal: AbortSignal,
  idleTimeoutMs = 330_000,
): Promise<void> {
  const req = await request(conn, path, { idleMs: idleTimeoutMs, signal });
  return new Promise((resolve, reject) => {
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        let text = "";
        res.on("data", (c: Buffer) => {
          text += c.toString();
        });
        res.on("end", () =>
          reject(
            new ApiError(res.statusCode ?? 0, `watch ${path}: ${res.statusCode} ${statusMessage(text)}`),
          ),
        );
        return;
      }
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let nl = buf.indexOf("\n");
        while (nl >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) {
            try {
              onEvent(JSON.parse(line) as WatchEvent);
            } catch (err) {
              req.destroy(new Error(`a watch event is not JSON: ${(err as Error).message}`));
              return;
            }
          }
          nl = buf.indexOf("\n");
        }
      });
      res.on("end", () => resolve());
      res.on("aborted", () => reject(new ApiError(0, `watch ${path}: the stream was cut`)));
      res.on("error", (err) =>
        signal.aborted ? resolve() : reject(new ApiError(0, `watch ${path}: ${err.message}`)),
      );
    });
    req.on("error", (err) =>
      signal.aborted ? resolve() : reject(new ApiError(0, `watch ${path}: ${err.message}`)),
    );
    req.end();
  });
}
