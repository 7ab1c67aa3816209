// vol-controller's flags (src/kube/flags.ts: one parser, one usage text, one usage error format
// with exit code 2) and the options they make. Pure but for the environment's POD_NAMESPACE.
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
import { parseScheduleDuration } from "../rules/schedule/spec.ts";

const duration = (help: string) => ({ type: "string", arg: "D", help }) as const;

export const VOL_CONTROLLER = {
  name: "vol-controller",
  synopsis: "[flags]",
  description: `Runs SnapshotSchedules (vol.kubectl.io/v1alpha1): takes a VolumeSnapshot of each claim at every
slot and prunes them by keep and maxAge, never the newest ready one. Serves /healthz, /readyz
and /metrics over HTTP.

Durations are numbers with units s, m, h, d (e.g. 500ms is not accepted; 1s is).`,
  flags: {
    ...KUBE_FLAGS,
    "bind-address": { type: "string", arg: "ADDR", default: "0.0.0.0", help: "default 0.0.0.0" },
    port: { type: "string", arg: "N", default: "8080", help: "default 8080 (0: any free port)" },
    "leader-elect": { type: "string", arg: "true|false", default: "true", help: "default true" },
    "leader-election-namespace": {
      type: "string",
      arg: "NS",
      help: "the Lease's namespace (default $POD_NAMESPACE, else vol-system)",
    },
    "leader-election-name": {
      type: "string",
      arg: "NAME",
      default: "vol-controller",
      help: "the Lease's name (default vol-controller)",
    },
    "leader-election-id": {
      type: "string",
      arg: "ID",
      help: "this replica's identity (default <hostname>_<random>)",
    },
    "lease-duration": { ...duration("default 15s"), default: "15s" },
    "renew-deadline": { ...duration("default 10s"), default: "10s" },
    "retry-period": { ...duration("default 2s"), default: "2s" },
    "resync-period": {
      ...duration("a pass over every schedule at least this often (default 30s)"),
      default: "30s",
    },
    "min-interval": { ...duration("the shortest spec.every accepted (default 1m)"), default: "1m" },
    "log-level": LOG_LEVEL_FLAG,
  },
} as const satisfies CommandSpec;

export interface ControllerOptions {
  kubeconfig?: string;
  context?: string;
  bindAddress: string;
  port: number;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  /** Unset: the caller makes one (<hostname>_<random>). */
  identity?: string;
  leaseMs: number;
  renewMs: number;
  retryMs: number;
  resyncMs: number;
  minIntervalMs: number;
  level: Level;
}

/** The options of `argv`, or the exit code after help (0) or a usage error (2) was printed. */
export function controllerOptions(argv: string[], io?: Output): Options<ControllerOptions> {
  return parseOptions(
    VOL_CONTROLLER,
    argv,
    (v) => {
      const ms = (
        k: "lease-duration" | "renew-deadline" | "retry-period" | "resync-period" | "min-interval",
      ) => {
        const n = parseScheduleDuration(v[k]);
        if (!n) throw new UsageError(`--${k} ${v[k]} is not a duration such as 10s or 1m`);
        return n;
      };
      const [leaseMs, renewMs, retryMs, resyncMs, minIntervalMs] = [
        ms("lease-duration"),
        ms("renew-deadline"),
        ms("retry-period"),
        ms("resync-period"),
        ms("min-interval"),
      ];
      if (!(retryMs < renewMs && renewMs < leaseMs))
        throw new UsageError("need --retry-period < --renew-deadline < --lease-duration");
      const port = portValue(v.port);
      const elect = v["leader-elect"];
      if (elect !== "true" && elect !== "false")
        throw new UsageError(`--leader-elect ${elect} must be true or false`);
      const level = logLevelValue(v["log-level"]);
      return {
        kubeconfig: v.kubeconfig,
        context: v.context,
        bindAddress: v["bind-address"],
        port,
        leaderElect: elect === "true",
        leaseNamespace: v["leader-election-namespace"] || process.env.POD_NAMESPACE || "vol-system",
        leaseName: v["leader-election-name"],
        identity: v["leader-election-id"] || undefined,
        leaseMs,
        renewMs,
        retryMs,
        resyncMs,
        minIntervalMs,
        level,
      };
    },
    io,
  );
}
