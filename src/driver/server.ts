// The CSI driver process: loads csi.proto, opens the data directory (backend detection, store,
// reconciliation), serves Identity, Controller and Node over gRPC on a unix socket, and shuts
// down cleanly: stop accepting, finish in-flight calls, remove the socket.
import { existsSync } from "node:fs";
import { mkdir, readFile, realpath, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { Logger } from "../kube/log.ts";
import type { Backend, Exec } from "./backends/backend.ts";
import { detectBackend } from "./backends/index.ts";
import { controllerService } from "./controller.ts";
import { Engine } from "./engine.ts";
import { exec as defaultExec } from "./exec.ts";
import { DRIVER_NAME, identityService } from "./identity.ts";
import { KeyedLocks } from "./locks.ts";
import { lstatIfExists, Mounter } from "./mounts.ts";
import { nodeService } from "./node.ts";
import { InFlight, wrapService } from "./rpc.ts";

export const CSI_SPEC_VERSION = "v1.12.0";
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
  /** Stops accepting calls, waits for in-flight ones (up to the grace), removes the socket. */
  stop(): Promise<void>;
}

/** The csi.proto to load: flag, VOL_CSI_PROTO, next to the running bundle, then the cache of scripts/bins.sh. */
export function findCsiProto(
  flag?: string,
  env: NodeJS.ProcessEnv = process.env,
  bundleDir = import.meta.dirname,
): string {
  const cache =
    env.KUBECTL_VOL_CACHE ??
    path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "kubectl-vol");
  const candidates = [
    flag,
    env.VOL_CSI_PROTO,
    path.join(bundleDir, "csi.proto"),
    path.join(cache, "files", `csi-spec-${CSI_SPEC_VERSION}`, "csi.proto"),
  ].filter((c): c is string => Boolean(c));
  // An explicit choice must exist; the fallbacks are tried in order.
  if (flag || env.VOL_CSI_PROTO) {
    const explicit = (flag || env.VOL_CSI_PROTO) as string;
    if (!existsSync(explicit))
      throw new Error(`csi.proto not found at ${explicit} (from ${flag ? "--csi-proto" : "VOL_CSI_PROTO"})`);
    return explicit;
  }
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new Error(
      `csi.proto (CSI spec ${CSI_SPEC_VERSION}) not found; looked at ${candidates.join(", ")}. ` +
        "Run `bash scripts/bins.sh csi-proto`, or pass --csi-proto / set VOL_CSI_PROTO.",
    );
  }
  return found;
}

type ServiceDef = grpc.ServiceDefinition;

export function loadCsi(protoPath: string): {
  Identity: ServiceDef;
  Controller: ServiceDef;
  Node: ServiceDef;
} {
  const def = protoLoader.loadSync(protoPath, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    csi: { v1: Record<string, { service: ServiceDef }> };
  };
  const get = (n: string): ServiceDef => {
    const s = pkg.csi?.v1?.[n]?.service;
    if (!s) throw new Error(`${protoPath} has no service csi.v1.${n}`);
    return s;
  };
  return { Identity: get("Identity"), Controller: get("Controller"), Node: get("Node") };
}

export function socketPathOf(endpoint: string): string {
  const m = /^unix:\/\/(\/.+)$/.exec(endpoint);
  if (!m?.[1]) throw new Error(`endpoint ${JSON.stringify(endpoint)} is not unix:///absolute/path`);
  return m[1];
}

async function packageVersion(log: Logger): Promise<string> {
  for (const p of [
    path.join(import.meta.dirname, "../../package.json"),
    path.join(import.meta.dirname, "package.json"),
  ]) {
    try {
      const v = (JSON.parse(await readFile(p, "utf8")) as { version?: string }).version;
      if (v) return v;
    } catch (err) {
      // Absent here: try the next place; anything else is worth a line.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        log.warn("could not read the package version", { file: p, error: (err as Error).message });
    }
  }
  return "0.0.0";
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
  const services = loadCsi(findCsiProto(cfg.csiProto));

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
  const common = { engine, locks, mounter, nodeId: cfg.nodeId, topologyKey: TOPOLOGY_KEY };
  const inFlight = new InFlight();
  const server = new grpc.Server();
  const impls = {
    Identity: identityService({
      driverName: cfg.driverName,
      version: await packageVersion(log),
      dataDir: root,
      ready: () => ready,
    }),
    Controller: controllerService(common),
    Node: nodeService({ ...common, maxVolumes: cfg.maxVolumes }),
  };
  for (const name of ["Identity", "Controller", "Node"] as const) {
    const def = services[name];
    server.addService(def, wrapService(name, Object.keys(def), impls[name], log, inFlight));
  }

  await mkdir(path.dirname(socketPath), { recursive: true });
  const st = await lstatIfExists(socketPath);
  if (st?.isSocket()) await unlink(socketPath);
  else if (st) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  ready = true;
  log.info("serving", {
    endpoint: cfg.endpoint,
    driver: cfg.driverName,
    nodeId: cfg.nodeId,
    backend: backend.kind,
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      ready = false;
      log.info("shutting down", { inFlight: inFlight.count });
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
      await unlink(socketPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT")
          log.warn("could not remove the socket", { socketPath, error: err.message });
      });
      log.info("stopped", {});
    })();
    return stopping;
  };
  return { socketPath, backend, stop };
}
