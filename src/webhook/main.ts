// The webhook process: flags, the caches, the HTTPS server, and a clean stop on SIGTERM/SIGINT.
import { type Connection, connect } from "../kube/connection.ts";
import type { Output } from "../kube/flags.ts";
import { createLogger, errorMessage } from "../kube/log.ts";
import { KubeCache } from "./cache.ts";
import { webhookOptions } from "./flags.ts";
import { startWebhookServer } from "./server.ts";

export async function main(argv: string[], io?: Output): Promise<number> {
  const parsed = webhookOptions(argv, io);
  if (!parsed.ok) return parsed.exitCode;
  const o = parsed.options;

  const log = createLogger({ level: o.level, base: { component: "vol-webhook" } });
  let conn: Connection;
  try {
    conn = await connect({ kubeconfig: o.kubeconfig, context: o.context });
  } catch (err) {
    log.error("cannot load the kubeconfig", { error: errorMessage(err) });
    return 1;
  }
  const cache = new KubeCache(conn, { log });
  let server: Awaited<ReturnType<typeof startWebhookServer>>;
  try {
    server = await startWebhookServer({
      certFile: o.certFile,
      keyFile: o.keyFile,
      host: o.bindAddress,
      port: o.port,
      lookups: (deadline) => ({ cached: cache.cached(deadline), direct: cache.direct(deadline) }),
      ready: () => cache.ready(),
      log,
    });
  } catch (err) {
    log.error("cannot start the server", { error: errorMessage(err) });
    return 1;
  }
  // Serve at once (/readyz says when the caches are in); lookups read the API until then.
  cache.start().then(
    () => log.info("caches started", { states: cache.states() }),
    (err: unknown) => log.error("caches did not start", { error: errorMessage(err) }),
  );

  const stop = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const signal = await stop;
  log.info("stopping", { signal });
  cache.stop();
  await server.close();
  log.info("stopped");
  return 0;
}
