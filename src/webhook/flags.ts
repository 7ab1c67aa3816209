// vol-webhook's flags (src/kube/flags.ts: one parser, one usage text, one usage error format
// with exit code 2) and the options they make. Pure.
import {
  type CommandSpec,
  KUBE_FLAGS,
  LOG_LEVEL_FLAG,
  logLevelValue,
  type Options,
  type Output,
  parseOptions,
  portValue,
  UsageError,
} from "../kube/flags.ts";
import type { Level } from "../kube/log.ts";

export const VOL_WEBHOOK = {
  name: "vol-webhook",
  synopsis: "--tls-cert-file FILE --tls-private-key-file FILE [flags]",
  description: `Serves the kubectl-vol admission webhook: POST /mutate and /validate (AdmissionReview v1),
GET /healthz, /readyz and /metrics, over HTTPS (TLS 1.2+). The certificate files are reloaded
when they change.`,
  flags: {
    "tls-cert-file": { type: "string", arg: "FILE", help: "serving certificate (PEM)" },
    "tls-private-key-file": { type: "string", arg: "FILE", help: "its private key (PEM)" },
    "bind-address": { type: "string", arg: "ADDR", default: "0.0.0.0", help: "default 0.0.0.0" },
    port: { type: "string", arg: "N", default: "8443", help: "default 8443" },
    ...KUBE_FLAGS,
    "log-level": LOG_LEVEL_FLAG,
  },
} as const satisfies CommandSpec;

export interface WebhookOptions {
  certFile: string;
  keyFile: string;
  bindAddress: string;
  port: number;
  kubeconfig?: string;
  context?: string;
  level: Level;
}

/** The options of `argv`, or the exit code after help (0) or a usage error (2) was printed. */
export function webhookOptions(argv: string[], io?: Output): Options<WebhookOptions> {
  return parseOptions(
    VOL_WEBHOOK,
    argv,
    (v) => {
      const certFile = v["tls-cert-file"];
      const keyFile = v["tls-private-key-file"];
      if (!certFile || !keyFile)
        throw new UsageError("--tls-cert-file and --tls-private-key-file are required");
      const port = portValue(v.port);
      const level = logLevelValue(v["log-level"]);
      return {
        certFile,
        keyFile,
        bindAddress: v["bind-address"],
        port,
        kubeconfig: v.kubeconfig,
        context: v.context,
        level,
      };
    },
    io,
  );
}
