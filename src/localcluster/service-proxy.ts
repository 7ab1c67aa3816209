// What kube-proxy would do for the one Service the apiserver itself must reach: the webhook's.
// The local cluster's pods that serve anything run with hostNetwork on their node's loopback
// address (127.0.0.N), and an EndpointSlice may not hold a loopback address, so the apiserver
// cannot find the webhook pods through the Service's endpoints. Instead the local overlay makes
// the Service an ExternalName of an address the cluster reserves for it (the apiserver's
// default resolver dials an ExternalName as is), and this forwarder listens there and passes
// each connection on, TLS untouched, to one of the Ready pods the Service selects, in turn.
import { readFile } from "node:fs/promises";
import https from "node:https";
import net from "node:net";
import type { ControlPlane } from "./control-plane.ts";

export interface ServiceProxy {
  /** Ready pod addresses the proxy forwards to now. */
  readonly targets: readonly string[];
  close(): Promise<void>;
}

interface PodList {
  items: {
    status?: { podIP?: string; conditions?: { type: string; status: string }[] };
    metadata?: { deletionTimestamp?: string };
  }[];
}

export async function startServiceProxy(
  cp: ControlPlane,
  opts: { listen: string; port: number; namespace: string; selector: string; targetPort: number },
): Promise<ServiceProxy> {
  const [ca, cert, key] = await Promise.all([cp.ca.pem(), readFile(cp.admin.cert), readFile(cp.admin.key)]);
  let targets: string[] = [];
  let next = 0;
  let closed = false;
  const refresh = () =>
    new Promise<void>((resolve) => {
      const url = `${cp.server}/api/v1/namespaces/${opts.namespace}/pods?labelSelector=${encodeURIComponent(opts.selector)}`;
      const req = https.get(url, { ca, cert, key, timeout: 3000 }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => {
          try {
            const list = JSON.parse(body) as PodList;
            targets = list.items
              .filter(
                (p) =>
                  !p.metadata?.deletionTimestamp &&
                  p.status?.podIP &&
                  p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
              )
              .map((p) => p.status?.podIP as string)
              .sort();
          } catch {
            // keep the last list
          }
          resolve();
        });
      });
      req.on("error", () => resolve());
      req.on("timeout", () => req.destroy());
    });
  await refresh();
  const timer = setInterval(() => void refresh(), 1000);
  timer.unref();

  const server = net.createServer((client) => {
    client.pause();
    const tryTarget = (left: number): void => {
      if (targets.length === 0 || left === 0) {
        client.destroy();
        return;
      }
      const ip = targets[next++ % targets.length] as string;
      const upstream = net.connect({ host: ip, port: opts.targetPort });
      let connected = false;
      upstream.once("connect", () => {
        connected = true;
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
      upstream.once("error", () => {
        if (!connected) tryTarget(left - 1);
        else client.destroy();
      });
      client.once("error", () => upstream.destroy());
      client.once("close", () => upstream.destroy());
      upstream.once("close", () => client.destroy());
    };
    tryTarget(Math.max(1, targets.length));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.listen, () => resolve());
  });
  return {
    get targets() {
      return targets;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
