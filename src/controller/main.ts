// The vol-controller process: flags, the API connection, leader election, the leader's loop,
// the HTTP endpoints, and a clean stop on SIGTERM/SIGINT (the loop ends, then the Lease is
// released so another replica takes over at once).
import { randomBytes } from "node:crypto";
import os from "node:os";
import { type Connection, connect } from "../kube/connection.ts";
import type { Output } from "../kube/flags.ts";
import { createLogger, errorMessage } from "../kube/log.ts";
import { getJson } from "../kube/rest.ts";
import { restApi } from "./api.ts";
import { runLoop } from "./controller.ts";
import { controllerOptions } from "./flags.ts";
import { LeaderElector } from "./lease.ts";
import { ControllerMetrics } from "./metrics.ts";
import { runNodeClassLoop } from "./node-classes.ts";
import { startHttpServer } from "./server.ts";

export async function main(argv: string[], io?: Output): Promise<number> {
  const parsed = controllerOptions(argv, io);
  if (!parsed.ok) return parsed.exitCode;
  const o = parsed.options;
  const identity = o.identity ?? `${os.hostname()}_${randomBytes(4).toString("hex")}`;

  const log = createLogger({ level: o.level, base: { component: "vol-controller", identity } });
  let conn: Connection;
  try {
    conn = await connect({ kubeconfig: o.kubeconfig, context: o.context });
  } catch (err) {
    log.error("cannot load the kubeconfig", { error: errorMessage(err) });
    return 1;
  }

  const metrics = new ControllerMetrics();
  const resyncMs = o.resyncMs;
  let lastPass = Date.now();
  let reachable = false;
  const elector = o.leaderElect
    ? new LeaderElector(conn, {
        namespace: o.leaseNamespace,
        name: o.leaseName,
        identity,
        leaseDurationMs: o.leaseMs,
        renewDeadlineMs: o.renewMs,
        retryPeriodMs: o.retryMs,
        log,
      })
    : undefined;
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    server = await startHttpServer(o.bindAddress, o.port, {
      // A leader whose loop has not made a pass for a long while is stuck; a standby is fine.
      healthy: () => !metrics.leader || Date.now() - lastPass < 3 * resyncMs + 60_000,
      ready: () => reachable,
      metrics: () => metrics.render(),
    });
  } catch (err) {
    log.error("cannot start the HTTP server", { error: errorMessage(err) });
    return 1;
  }
  log.info("started", {
    port: server.port,
    leaderElection: o.leaderElect,
    minIntervalMs: o.minIntervalMs,
  });

  const stopping = new AbortController();
  const onSignal = (sig: string) => {
    if (stopping.signal.aborted) return;
    log.info("stopping", { signal: sig });
    stopping.abort();
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));

  // Ready once the API server answers.
  void (async () => {
    while (!reachable && !stopping.signal.aborted) {
      try {
        await getJson(conn, "/version", 5000);
        reachable = true;
      } catch (err) {
        log.warn("the API server does not answer yet", { error: errorMessage(err) });
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  })();

  const lead = async (signal: AbortSignal) => {
    metrics.leader = true;
    try {
      const classes = runNodeClassLoop({ conn, log, resyncMs }, signal);
      await runLoop(
        {
          api: restApi(conn),
          conn,
          rules: { minIntervalMs: o.minIntervalMs },
          log,
          metrics,
          resyncMs,
          onPass: (at) => {
            lastPass = at;
          },
        },
        signal,
      );
      await classes;
    } finally {
      metrics.leader = false;
    }
  };
  if (elector) {
    await elector.run(stopping.signal, lead);
    await elector.release();
  } else {
    await lead(stopping.signal);
  }
  await server.close();
  log.info("stopped");
  return 0;
}
