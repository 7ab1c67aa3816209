// The vol-controller process: flags, the API connection, leader election, the leader's loop,
// the HTTP endpoints, and a clean stop on SIGTERM/SIGINT (the loop ends, then the Lease is
// released so another replica takes over at once).
import { randomBytes } from "node:crypto";
import os from "node:os";
import { parseArgs } from "node:util";
import { type Connection, connect } from "../kube/connection.ts";
import { createLogger, errorMessage, isLevel } from "../kube/log.ts";
import { getJson } from "../kube/rest.ts";
import { parseScheduleDuration } from "../rules/schedule/spec.ts";
import { restApi } from "./api.ts";
import { runLoop } from "./controller.ts";
import { LeaderElector } from "./lease.ts";
import { ControllerMetrics } from "./metrics.ts";
import { startHttpServer } from "./server.ts";

const USAGE = `Usage: vol-controller [options]

Runs SnapshotSchedules (vol.kubectl.io/v1alpha1): takes a VolumeSnapshot of each claim at every
slot and prunes them by keep and maxAge, never the newest ready one. Serves /healthz, /readyz
and /metrics over HTTP.

Options:
  --kubeconfig FILE                   default: $KUBECONFIG, ~/.kube/config, else in-cluster
  --context NAME                      kubeconfig context
  --bind-address ADDR                 default 0.0.0.0
  --port N                            default 8080 (0: any free port)
  --leader-elect true|false           default true
  --leader-election-namespace NS      the Lease's namespace (default $POD_NAMESPACE, else vol-system)
  --leader-election-name NAME         the Lease's name (default vol-controller)
  --leader-election-id ID             this replica's identity (default <hostname>_<random>)
  --lease-duration D                  default 15s
  --renew-deadline D                  default 10s
  --retry-period D                    default 2s
  --resync-period D                   a pass over every schedule at least this often (default 30s)
  --min-interval D                    the shortest spec.every accepted (default 1m)
  --log-level LEVEL                   debug | info | warn | error (default info)
  -h, --help                          this text

Durations are numbers with units s, m, h, d (e.g. 500ms is not accepted; 1s is).
`;

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: "string" },
        context: { type: "string" },
        "bind-address": { type: "string", default: "0.0.0.0" },
        port: { type: "string", default: "8080" },
        "leader-elect": { type: "string", default: "true" },
        "leader-election-namespace": { type: "string", default: process.env.POD_NAMESPACE || "vol-system" },
        "leader-election-name": { type: "string", default: "vol-controller" },
        "leader-election-id": { type: "string" },
        "lease-duration": { type: "string", default: "15s" },
        "renew-deadline": { type: "string", default: "10s" },
        "retry-period": { type: "string", default: "2s" },
        "resync-period": { type: "string", default: "30s" },
        "min-interval": { type: "string", default: "1m" },
        "log-level": { type: "string", default: "info" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`error: ${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const usage = (msg: string) => {
    process.stderr.write(`error: ${msg}\nSee 'vol-controller --help'.\n`);
    return 2;
  };
  const durations: Record<string, number> = {};
  for (const k of ["lease-duration", "renew-deadline", "retry-period", "resync-period", "min-interval"]) {
    const ms = parseScheduleDuration(String(values[k]));
    if (!ms) return usage(`--${k} ${values[k]} is not a duration such as 10s or 1m`);
    durations[k] = ms;
  }
  const leaseMs = durations["lease-duration"]!;
  const renewMs = durations["renew-deadline"]!;
  const retryMs = durations["retry-period"]!;
  if (!(retryMs < renewMs && renewMs < leaseMs))
    return usage("need --retry-period < --renew-deadline < --lease-duration");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return usage(`--port ${values.port} is not a port number`);
  const elect = String(values["leader-elect"]);
  if (elect !== "true" && elect !== "false") return usage(`--leader-elect ${elect} must be true or false`);
  const level = String(values["log-level"]);
  if (!isLevel(level)) return usage(`--log-level ${level} is not one of debug, info, warn, error`);
  const identity =
    (values["leader-election-id"] as string | undefined) ||
    `${os.hostname()}_${randomBytes(4).toString("hex")}`;

  const log = createLogger({ level, base: { component: "vol-controller", identity } });
  let conn: Connection;
  try {
    conn = await connect({
      kubeconfig: values.kubeconfig as string | undefined,
      context: values.context as string | undefined,
    });
  } catch (err) {
    log.error("cannot load the kubeconfig", { error: errorMessage(err) });
    return 1;
  }

  const metrics = new ControllerMetrics();
  const resyncMs = durations["resync-period"]!;
  let lastPass = Date.now();
  let reachable = false;
  const elector =
    elect === "true"
      ? new LeaderElector(conn, {
          namespace: String(values["leader-election-namespace"]),
          name: String(values["leader-election-name"]),
          identity,
          leaseDurationMs: leaseMs,
          renewDeadlineMs: renewMs,
          retryPeriodMs: retryMs,
          log,
        })
      : undefined;
  let server: Awaited<ReturnType<typeof startHttpServer>>;
  try {
    server = await startHttpServer(String(values["bind-address"]), port, {
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
    leaderElection: elect === "true",
    minIntervalMs: durations["min-interval"],
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
      await runLoop(
        {
          api: restApi(conn),
          conn,
          rules: { minIntervalMs: durations["min-interval"]! },
          log,
          metrics,
          resyncMs,
          onPass: (at) => {
            lastPass = at;
          },
        },
        signal,
      );
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
