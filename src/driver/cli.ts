// Flags of vol-csi, and the process around the server: JSON logs, SIGTERM/SIGINT → clean stop.
import os from "node:os";
import { type CommandSpec, type Output, parseFlags, usageError } from "../kube/flags.ts";
import { createLogger, isLevel } from "../kube/log.ts";
import { parseListenAddress } from "./health.ts";
import { DEFAULT_DRIVER_NAME, startDriver } from "./server.ts";

export const VOL_CSI = {
  name: "vol-csi",
  synopsis: "[flags]",
  description: "The CSI driver of kubectl-vol: node-local volumes, snapshots and clones.",
  flags: {
    endpoint: {
      type: "string",
      arg: "unix:///PATH",
      default: "unix:///csi/csi.sock",
      help: "gRPC endpoint (default unix:///csi/csi.sock)",
    },
    "driver-name": {
      type: "string",
      arg: "NAME",
      default: DEFAULT_DRIVER_NAME,
      help: `CSI driver name (default ${DEFAULT_DRIVER_NAME})`,
    },
    "node-id": {
      type: "string",
      arg: "ID",
      default: os.hostname(),
      help: "this node's id, the Kubernetes node name (default: host name)",
    },
    "data-dir": {
      type: "string",
      arg: "DIR",
      default: "/var/lib/vol-csi",
      help: "where volumes and snapshots live (default /var/lib/vol-csi)",
    },
    "log-level": {
      type: "string",
      arg: "LEVEL",
      default: "info",
      help: "debug, info, warn or error (default info)",
    },
    "max-volumes": {
      type: "string",
      arg: "N",
      default: "0",
      help: "volumes per node the scheduler may place (default 0: no limit)",
    },
    "csi-proto": {
      type: "string",
      arg: "FILE",
      help: "csi.proto to load (else VOL_CSI_PROTO, next to the bundle, the cache)",
    },
    "registration-dir": {
      type: "string",
      arg: "DIR",
      help: "the kubelet's plugin registry directory: register there as <driver-name>-reg.sock (default: do not register)",
    },
    "kubelet-registration-path": {
      type: "string",
      arg: "PATH",
      help: "the CSI socket's path on the host, told to the kubelet (needed with --registration-dir)",
    },
    "registration-proto": {
      type: "string",
      arg: "FILE",
      help: "pluginregistration.proto to load (else VOL_REGISTRATION_PROTO, next to the bundle, the cache)",
    },
    "health-address": {
      type: "string",
      arg: "HOST:PORT",
      help: "serve /healthz, /readyz and /metrics there, e.g. :9808 or 127.0.0.2:9808 (default: off)",
    },
  },
} as const satisfies CommandSpec;

export async function runDriverCli(argv: string[], io?: Output): Promise<number> {
  const p = parseFlags(VOL_CSI, argv, io);
  if (!p.ok) return p.exitCode;
  const v = p.values;
  const bad = (msg: string) => usageError(VOL_CSI, msg, io);
  if (!isLevel(v["log-level"]))
    return bad(`--log-level ${v["log-level"]} is not one of debug, info, warn, error`);
  const maxVolumes = Number(v["max-volumes"]);
  if (!/^\d+$/.test(v["max-volumes"]) || !Number.isSafeInteger(maxVolumes))
    return bad(`--max-volumes ${v["max-volumes"]} is not a whole number ≥ 0`);
  if (v["health-address"] !== undefined) {
    try {
      parseListenAddress(v["health-address"]);
    } catch (err) {
      return bad(`--health-address: ${(err as Error).message}`);
    }
  }
  if (v["registration-dir"] !== undefined && !v["kubelet-registration-path"])
    return bad("--registration-dir needs --kubelet-registration-path (the CSI socket's path on the host)");
  if (v["kubelet-registration-path"] !== undefined && !v["registration-dir"])
    return bad("--kubelet-registration-path has no effect without --registration-dir");
  if (v["kubelet-registration-path"] !== undefined && !v["kubelet-registration-path"].startsWith("/"))
    return bad(`--kubelet-registration-path ${v["kubelet-registration-path"]} is not an absolute path`);

  const log = createLogger({ level: v["log-level"], base: { component: "vol-csi" } });
  let driver: Awaited<ReturnType<typeof startDriver>>;
  try {
    driver = await startDriver(
      {
        endpoint: v.endpoint,
        driverName: v["driver-name"],
        nodeId: v["node-id"],
        dataDir: v["data-dir"],
        maxVolumes,
        csiProto: v["csi-proto"],
        registrationDir: v["registration-dir"],
        kubeletRegistrationPath: v["kubelet-registration-path"],
        registrationProto: v["registration-proto"],
        healthAddress: v["health-address"],
      },
      { log },
    );
  } catch (err) {
    log.error("start failed", { error: (err as Error).message, stack: (err as Error).stack });
    return 1;
  }
  return new Promise<number>((resolve) => {
    const onSignal = (signal: string) => {
      log.info("signal received", { signal });
      driver.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  });
}
