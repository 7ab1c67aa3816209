// Flags of vol-csi, and the process around the server: JSON logs, SIGTERM/SIGINT → clean stop.
import os from "node:os";
import { parseArgs } from "node:util";
import { createLogger, isLevel } from "../kube/log.ts";
import { DEFAULT_DRIVER_NAME, startDriver } from "./server.ts";

const USAGE = `Usage: vol-csi [flags]

  --endpoint unix:///PATH   gRPC endpoint (default unix:///csi/csi.sock)
  --driver-name NAME        CSI driver name (default ${DEFAULT_DRIVER_NAME})
  --node-id ID              this node's id, the Kubernetes node name (default: host name)
  --data-dir DIR            where volumes and snapshots live (default /var/lib/vol-csi)
  --log-level LEVEL         debug, info, warn or error (default info)
  --max-volumes N           volumes per node the scheduler may place (default 0: no limit)
  --csi-proto FILE          csi.proto to load (else VOL_CSI_PROTO, next to the bundle, the cache)
`;

export async function runDriverCli(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        endpoint: { type: "string", default: "unix:///csi/csi.sock" },
        "driver-name": { type: "string", default: DEFAULT_DRIVER_NAME },
        "node-id": { type: "string", default: os.hostname() },
        "data-dir": { type: "string", default: "/var/lib/vol-csi" },
        "log-level": { type: "string", default: "info" },
        "max-volumes": { type: "string", default: "0" },
        "csi-proto": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    process.stderr.write(`vol-csi: ${(err as Error).message}\nSee 'vol-csi --help'.\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const level = String(values["log-level"]);
  const maxVolumes = Number(values["max-volumes"]);
  if (!isLevel(level) || !Number.isInteger(maxVolumes) || maxVolumes < 0) {
    process.stderr.write(
      `vol-csi: ${!isLevel(level) ? `--log-level ${level} is not one of debug, info, warn, error` : `--max-volumes ${values["max-volumes"]} is not a whole number ≥ 0`}\nSee 'vol-csi --help'.\n`,
    );
    return 2;
  }
  const log = createLogger({ level, base: { component: "vol-csi" } });
  let driver: Awaited<ReturnType<typeof startDriver>>;
  try {
    driver = await startDriver(
      {
        endpoint: String(values.endpoint),
        driverName: String(values["driver-name"]),
        nodeId: String(values["node-id"]),
        dataDir: String(values["data-dir"]),
        maxVolumes,
        csiProto: values["csi-proto"] as string | undefined,
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
