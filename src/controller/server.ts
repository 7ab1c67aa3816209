// The controller's HTTP endpoints: /healthz (the process works: the leader's loop has made a
// pass recently), /readyz (it has reached the API server) and Prometheus /metrics. Plain HTTP:
// nothing secret is served, and probes and scrapers reach it on the pod's port.
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Probes {
  healthy(): boolean;
  ready(): boolean;
  metrics(): string;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

export async function startHttpServer(host: string, port: number, probes: Probes): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const answer = (code: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(body) });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return answer(405, "method not allowed\n");
    if (path === "/healthz")
      return probes.healthy() ? answer(200, "ok\n") : answer(500, "the loop is stuck\n");
    if (path === "/readyz") return probes.ready() ? answer(200, "ok\n") : answer(503, "not ready\n");
    if (path === "/metrics") return answer(200, probes.metrics(), "text/plain; version=0.0.4; charset=utf-8");
    answer(404, "not found\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
