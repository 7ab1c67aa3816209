// The webhook process: flags, the caches, the HTTPS server, and a clean stop on SIGTERM/SIGINT.
import { parseArgs } from "node:util";
import { type Connection, connect } from "../kube/connection.ts";
import { createLogger, errorMessage, isLevel } from "../kube/log.ts";
import { KubeCache } from "./cache.ts";
import { startWebhookServer } from "./server.ts";

const USAGE = `Usage: vol-webhook --tls-cert-file FILE --tls-private-key-file FILE [options]

Serves the kubectl-vol admission webhook: POST /mutate and /validate (AdmissionReview v1),
GET /healthz, /readyz and /metrics, over HTTPS (TLS 1.2+). The certificate files are reloaded
when they change.

Options:
  --tls-cert-file FILE          serving certificate (PEM)
  --tls-private-key-file FILE   its private key (PEM)
  --bind-address ADDR           default 0.0.0.0
  --port N                      default 8443
  --kubeconfig FILE             default: $KUBECONFIG, ~/.kube/config, else in-cluster
  --context NAME                kubeconfig context
  --log-level LEVEL             debug | info | warn | error (default info)
  -h, --help                    this text
`;

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "tls-cert-file": { type: "string" },
        "tls-private-key-file": { type: "string" },
        "bind-address": { type: "string", default: "0.0.0.0" },
        port: { type: "string", default: "8443" },
        kubeconfig: { type: "string" },
        context: { type: "string" },
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
    process.stderr.write(`error: ${msg}\nSee 'vol-webhook --help'.\n`);
    return 2;
  };
  const cert = values["tls-cert-file"] as string | undefined;
  const key = values["tls-private-key-file"] as string | undefined;
  if (!cert || !key) return usage("--tls-cert-file and --tls-private-key-file are required");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return usage(`--port ${values.port} is not a port number`);
  const level = String(values["log-level"]);
  if (!isLevel(level)) return usage(`--log-level ${level} is not one of debug, info, warn, error`);

  const log = createLogger({ level, base: { component: "vol-webhook" } });
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
  const cache = new KubeCache(conn, { log });
  let server: Awaited<ReturnType<typeof startWebhookServer>>;
  try {
    server = await startWebhookServer({
      certFile: cert,
      keyFile: key,
      host: values["bind-address"] as string,
      port,
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
