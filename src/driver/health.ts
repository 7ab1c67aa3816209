// The driver's HTTP endpoints (what the livenessprobe sidecar would otherwise serve): /healthz
// answers 200 only when the driver's own CSI Probe logic says it is ready, /readyz also needs the
// kubelet not to have refused the registration, /metrics is Prometheus text. Plain HTTP on the
// address given (":9808", "127.0.0.2:9808", "[::1]:9808"; port 0 picks a free one).
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../kube/log.ts";
import { METRICS_CONTENT_TYPE } from "../kube/metrics.ts";

export interface Check {
  ok: boolean;
  /** Why not (or "ok"). */
  reason: string;
}

export interface HealthDeps {
  /** The CSI Probe's verdict, with its reason. */
  live: () => Promise<Check>;
  ready: () => Promise<Check>;
  metrics: () => string;
  log: Logger;
  /** How long a check may take before it counts as failed (default 5 s). */
  checkTimeoutMs?: number;
}

export interface HealthServer {
  /** The bound address, e.g. 127.0.0.1:9808. */
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Splits `host:port` (host may be empty for every interface, or a bracketed IPv6 address). */
export function parseListenAddress(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new Error(
      `health address ${JSON.stringify(addr)} is not host:port (e.g. :9808, 127.0.0.2:9808, [::1]:9808)`,
    );
  }
  const host = m[1] ?? m[2];
  return { host: host === "" ? undefined : host, port };
}

async function within(ms: number, what: () => Promise<Check>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Check>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `the check did not answer within ${ms} ms` }), ms);
  });
  try {
    return await Promise.race([
      what().catch((err: unknown) => ({ ok: false, reason: (err as Error).message ?? String(err) })),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function startHealthServer(address: string, d: HealthDeps): Promise<HealthServer> {
  const { host, port } = parseListenAddress(address);
  const timeout = d.checkTimeoutMs ?? 5000;
  const send = (res: http.ServerResponse, code: number, body: string, type = "text/plain; charset=utf-8") => {
    res.writeHead(code, { "content-type": type, "cache-control": "no-store" });
    res.end(res.req.method === "HEAD" ? undefined : body);
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return send(res, 405, "only GET and HEAD are served\n");
    }
    if (path === "/metrics") return send(res, 200, d.metrics(), METRICS_CONTENT_TYPE);
    const check = path === "/healthz" ? d.live : path === "/readyz" ? d.ready : undefined;
    if (!check) return send(res, 404, "not found: the driver serves /healthz, /readyz and /metrics\n");
    within(timeout, check).then((c) => {
      if (!c.ok) d.log.warn("health check failed", { path, reason: c.reason });
      send(res, c.ok ? 200 : 500, `${c.ok ? "ok" : c.reason}\n`);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  d.log.info("health endpoints listening", { address: `${bound.address}:${bound.port}` });
  let stopping: Promise<void> | undefined;
  return {
    host: bound.address,
    port: bound.port,
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
