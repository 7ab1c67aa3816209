// The CSI driver process: loads csi.proto, opens the data directory (backend detection, store,
// reconciliation), serves Identity, Controller and Node over gRPC on a unix socket, registers
// with the kubelet (when given a registration directory), serves /healthz, /readyz and /metrics
// (when given an address), and shuts down cleanly: deregister, stop accepting, finish in-flight
// calls, remove the sockets.
import { mkdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../kube/log.ts";
import { VERSION } from "../kube/version.ts";
import type { Backend, Exec } from "./backends/backend.ts";
import { detectBackend } from "./backends/index.ts";
import { controllerService } from "./controller.ts";
import { Engine } from "./engine.ts";
import { exec as defaultExec } from "./exec.ts";
import { type HealthServer, startHealthServer } from "./health.ts";
import { DRIVER_NAME, identityService, probeCheck } from "./identity.ts";
import { KeyedLocks } from "./locks.ts";
import { DriverMetrics } from "./metrics.ts";
import { Mounter } from "./mounts.ts";
import { nodeService } from "./node.ts";
import { CSI_PROTO, CSI_SERVICES, findProto, loadCsi, REGISTRATION_PROTO } from "./proto.ts";
import {
  bindUnix,
  type Registration,
  replaceStaleSocket,
  startRegistration,
  unlinkIfSame,
} from "./registration.ts";
import { InFlight, wrapService } from "./rpc.ts";

export const DEFAULT_DRIVER_NAME = "vol.kubectl.io";
export const TOPOLOGY_KEY = "topology.vol.kubectl.io/node";

export interface DriverConfig {
  /** unix:///absolute/path.sock */
  endpoint: string;
  driverName: string;
  nodeId: string;
  dataDir: string;
  maxVolumes: number;
  /** Explicit csi.proto (flag); else VOL_CSI_PROTO, a csi.proto next to the bundle, the cache. */
  csiProto?: string | undefined;
  /** The kubelet's plugin registry directory; registration is off without it. */
  registrationDir?: string | undefined;
  /** The CSI socket's path as the kubelet sees it on the host (needed with registrationDir). */
  kubeletRegistrationPath?: string | undefined;
  /** Explicit pluginregistration.proto; else VOL_REGISTRATION_PROTO, next to the bundle, the cache. */
  registrationProto?: string | undefined;
  /** host:port of /healthz, /readyz and /metrics; off without it. */
  healthAddress?: string | undefined;
  /** Grace for in-flight calls on shutdown (ms). */
  shutdownGraceMs?: number;
}

export interface DriverDeps {
  log: Logger;
  exec?: Exec;
  /** Opens the backend (default: detection on the data directory). */
  openBackend?: (root: string, exec: Exec) => Promise<Backend>;
}

export interface RunningDriver {
  readonly socketPath: string;
  readonly backend: Backend;
  /** The registration socket, when registering with the kubelet. */
  readonly registration: Registration | undefined;
  /** The health endpoints' server, when serving them. */
  readonly health: HealthServer | undefined;
  /** Deregisters, stops accepting calls, waits for in-flight ones (up to the grace), removes the socket. */
  stop(): Promise<void>;
}

export function socketPathOf(endpoint: string): string {
  const m = /^unix:\/\/(\/.+)$/.exec(endpoint);
  if (!m?.[1]) throw new Error(`endpoint ${JSON.stringify(endpoint)} is not unix:///absolute/path`);
  return m[1];
}

export async function startDriver(cfg: DriverConfig, deps: DriverDeps): Promise<RunningDriver> {
  const { log } = deps;
  const exec = deps.exec ?? defaultExec;
  if (!DRIVER_NAME.test(cfg.driverName)) {
    throw new Error(
      `driver name ${JSON.stringify(cfg.driverName)} is not valid (1-63 characters, letters, digits, "-", ".", "_")`,
    );
  }
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/.test(cfg.nodeId)) {
    throw new Error(
      `node id ${JSON.stringify(cfg.nodeId)} is not valid: it is a topology label value (1-63 characters)`,
    );
  }
  if (!Number.isInteger(cfg.maxVolumes) || cfg.maxVolumes < 0)
    throw new Error("max volumes must be a whole number ≥ 0");
  const socketPath = socketPathOf(cfg.endpoint);
  if (cfg.registrationDir && !cfg.kubeletRegistrationPath) {
    throw new Error(
      "--registration-dir needs --kubelet-registration-path (the CSI socket's path on the host, e.g. /var/lib/kubelet/plugins/vol.kubectl.io/csi.sock)",
    );
  }
  const services = loadCsi(findProto(CSI_PROTO, cfg.csiProto));
  // Found before anything starts, so a missing proto stops the driver at once.
  const registrationProto = cfg.registrationDir
    ? findProto(REGISTRATION_PROTO, cfg.registrationProto)
    : undefined;

  await mkdir(cfg.dataDir, { recursive: true });
  const root = await realpath(cfg.dataDir);
  const backend = deps.openBackend
    ? await deps.openBackend(root, exec)
    : await detectBackend(root, exec, { log });
  log.info("backend chosen", { root, backend: backend.kind, enforcesSize: backend.enforcesSize });
  const mounter = new Mounter(exec);
  const engine = await Engine.open({ backend, log, mounter });
  const locks = new KeyedLocks();
  let ready = false;
  const version = VERSION;
  const identity = { driverName: cfg.driverName, version, dataDir: root, ready: () => ready };
  const common = { engine, locks, mounter, nodeId: cfg.nodeId, topologyKey: TOPOLOGY_KEY };
  const inFlight = new InFlight();
  let registration: Registration | undefined;
  const metrics = new DriverMetrics({
    inFlight: () => inFlight.count,
    records: () => [
      ...engine.volumes.all().map((r) => ({ kind: "volume" as const, state: r.state })),
      ...engine.snapshots.all().map((r) => ({ kind: "snapshot" as const, state: r.state })),
    ],
    backend,
    driverName: cfg.driverName,
    version,
    registered: () => registration?.status().registered,
  });
  const server = new grpc.Server();
  const impls = {
    Identity: identityService(identity),
    Controller: controllerService(common),
    Node: nodeService({ ...common, maxVolumes: cfg.maxVolumes }),
  };
  for (const name of CSI_SERVICES) {
    const def = services[name].service;
    server.addService(def, wrapService(name, Object.keys(def), impls[name], log, inFlight, metrics.observe));
  }

  await mkdir(path.dirname(socketPath), { recursive: true });
  await replaceStaleSocket(socketPath);
  await bindUnix(server, socketPath);
  const socketIno = (await stat(socketPath)).ino;
  ready = true;

  let health: HealthServer | undefined;
  const drain = async (): Promise<void> => {
    const grace = cfg.shutdownGraceMs ?? 30_000;
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), grace);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!drained) {
      log.warn("in-flight calls did not finish within the grace period; forcing shutdown", {
        inFlight: inFlight.count,
      });
      server.forceShutdown();
    }
    await unlinkIfSame(socketPath, socketIno);
  };
  try {
    if (cfg.healthAddress) {
      const live = probeCheck(identity);
      health = await startHealthServer(cfg.healthAddress, {
        live,
        ready: async () => {
          const c = await live();
          const reg = registration?.status();
          if (c.ok && reg?.registered === false)
            return { ok: false, reason: `the kubelet refused the plugin registration: ${reg.error}` };
          return c;
        },
        metrics: () => metrics.render(),
        log,
      });
    }
    if (cfg.registrationDir && registrationProto && cfg.kubeletRegistrationPath) {
      registration = await startRegistration({
        dir: cfg.registrationDir,
        driverName: cfg.driverName,
        kubeletEndpoint: cfg.kubeletRegistrationPath,
        protoPath: registrationProto,
        log,
      });
    }
  } catch (err) {
    ready = false;
    await health?.stop();
    await drain();
    throw err;
  }
  log.info("serving", {
    endpoint: cfg.endpoint,
    driver: cfg.driverName,
    nodeId: cfg.nodeId,
    backend: backend.kind,
    registrationSocket: registration?.socketPath,
    health: health ? `${health.host}:${health.port}` : undefined,
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      ready = false;
      log.info("shutting down", { inFlight: inFlight.count });
      // The kubelet drops the plugin when its registration socket goes: no new calls come.
      await registration?.stop();
      await drain();
      await health?.stop();
      log.info("stopped", {});
    })();
    return stopping;
  };
  return { socketPath, backend, registration, health, stop };
}
