// Plain JSON GETs and watches against the API server by path, over a Connection: the same
// object shapes for any group (core, built-in or CRD), without a typed client.
import https from "node:https";
import type { Connection } from "./connection.ts";

export class ApiError extends Error {
  override name = "ApiError";
  /** HTTP status; 0 when there was no answer. */
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

const agent = new https.Agent({ keepAlive: true, maxSockets: 16 });

function statusMessage(text: string): string {
  try {
    return (JSON.parse(text) as { message?: string }).message ?? text.trim().slice(0, 500);
  } catch {
    return text.trim().slice(0, 500);
  }
}

async function request(conn: Connection, path: string, timeoutMs: number, signal?: AbortSignal) {
  const opts: https.RequestOptions = {
    method: "GET",
    headers: { accept: "application/json" },
    timeout: timeoutMs,
    agent,
    signal,
  };
  await conn.apply(opts);
  return https.request(new URL(path, conn.server), opts);
}

/**
 * GET `path` as JSON; `undefined` on 404. A 429 or 503 (a CRD's storage still initialising,
 * priority and fairness pushing back) is tried again a few times within about a second. Other
 * failures throw ApiError. When `signal` aborts (a caller's deadline), the read and any retry stop
 * at once with an ApiError.
 */
export async function getJson<T>(
  conn: Connection,
  path: string,
  timeoutMs = 10_000,
  signal?: AbortSignal,
): Promise<T | undefined> {
  for (const delay of [100, 300, 600]) {
    try {
      return await getJsonOnce<T>(conn, path, timeoutMs, signal);
    } catch (err) {
      if (!(err instanceof ApiError) || (err.code !== 429 && err.code !== 503) || signal?.aborted) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  return getJsonOnce<T>(conn, path, timeoutMs, signal);
}

async function getJsonOnce<T>(
  conn: Connection,
  path: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<T | undefined> {
  if (signal?.aborted) throw new ApiError(0, `GET ${path}: the deadline has passed`);
  const req = await request(conn, path, timeoutMs, signal);
  return new Promise((resolve, reject) => {
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", (err) => reject(new ApiError(0, `GET ${path}: ${err.message}`)));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode === 404) return resolve(undefined);
        if (res.statusCode !== 200) {
          return reject(
            new ApiError(res.statusCode ?? 0, `GET ${path}: ${res.statusCode} ${statusMessage(text)}`),
          );
        }
        try {
          resolve(JSON.parse(text) as T);
        } catch (err) {
          reject(new ApiError(0, `GET ${path}: the answer is not JSON (${(err as Error).message})`));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => reject(new ApiError(0, `GET ${path}: ${err.message}`)));
    req.end();
  });
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
  const req = await request(conn, path, idleTimeoutMs, signal);
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
    req.on("timeout", () => req.destroy(new Error(`no event within ${idleTimeoutMs} ms`)));
    req.on("error", (err) =>
      signal.aborted ? resolve() : reject(new ApiError(0, `watch ${path}: ${err.message}`)),
    );
    req.end();
  });
}
