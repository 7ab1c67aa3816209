// Registration with the kubelet (what node-driver-registrar would otherwise do): a unix socket
// `<driver>-reg.sock` in the kubelet's plugin registry directory serving the kubelet's
// pluginregistration.Registration service. The kubelet's plugin watcher sees the socket appear,
// asks GetInfo (type CSIPlugin, the driver name, the CSI socket's path on the host, the
// supported versions), registers the driver and reports the outcome through
// NotifyRegistrationStatus. A restarted driver replaces its socket, so the kubelet registers it
// again; on stop the socket is removed and the kubelet drops the registration.
import { mkdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../kube/log.ts";
import { lstatIfExists } from "./mounts.ts";
import { loadRegistration } from "./proto.ts";

/** The registration API versions this plugin speaks (the kubelet's CSI plugin accepts 1.x). */
export const SUPPORTED_VERSIONS = ["1.0.0"];

export interface RegistrationConfig {
  /** The kubelet's plugin registry directory as this process sees it (e.g. /registration). */
  dir: string;
  driverName: string;
  /** The CSI socket's path as the kubelet sees it on the host. */
  kubeletEndpoint: string;
  protoPath: string;
  log: Logger;
}

export interface RegistrationStatus {
  /** undefined until the kubelet has answered. */
  registered: boolean | undefined;
  error?: string;
}

export interface Registration {
  readonly socketPath: string;
  status(): RegistrationStatus;
  stop(): Promise<void>;
}

export function registrationSocket(dir: string, driverName: string): string {
  return path.join(dir, `${driverName}-reg.sock`);
}

/** Removes a socket left by an earlier run; refuses to touch anything that is not a socket. */
export async function replaceStaleSocket(p: string): Promise<void> {
  const st = await lstatIfExists(p);
  if (st?.isSocket()) await unlink(p);
  else if (st) throw new Error(`${p} exists and is not a socket; refusing to replace it`);
}

/** Removes the socket at `p` if it is still the one with inode `ino` (not a successor's). */
export async function unlinkIfSame(p: string, ino: number | undefined): Promise<void> {
  const st = await lstatIfExists(p);
  if (st && (ino === undefined || st.ino === ino)) {
    // Gone meanwhile is fine; anything else (EACCES, EBUSY) is an error, not "absent".
    await unlink(p).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }
}

export function bindUnix(server: grpc.Server, socketPath: string): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
}

export async function startRegistration(cfg: RegistrationConfig): Promise<Registration> {
  const { log } = cfg;
  if (!path.isAbsolute(cfg.kubeletEndpoint)) {
    throw new Error(
      `--kubelet-registration-path ${JSON.stringify(cfg.kubeletEndpoint)} is not an absolute path (the CSI socket as the kubelet sees it, e.g. /var/lib/kubelet/plugins/${cfg.driverName}/csi.sock)`,
    );
  }
  const service = loadRegistration(cfg.protoPath).service;
  const socketPath = registrationSocket(cfg.dir, cfg.driverName);
  const state: RegistrationStatus = { registered: undefined };
  const server = new grpc.Server();
  server.addService(service, {
    GetInfo: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      log.info("kubelet asked for the plugin info", { endpoint: cfg.kubeletEndpoint });
      cb(null, {
        type: "CSIPlugin",
        name: cfg.driverName,
        endpoint: cfg.kubeletEndpoint,
        supported_versions: SUPPORTED_VERSIONS,
      });
    },
    NotifyRegistrationStatus: (
      call: grpc.ServerUnaryCall<{ plugin_registered?: boolean; error?: string }, unknown>,
      cb: grpc.sendUnaryData<unknown>,
    ) => {
      const ok = Boolean(call.request?.plugin_registered);
      state.registered = ok;
      if (ok) {
        delete state.error;
        log.info("registered with the kubelet", { driver: cfg.driverName, endpoint: cfg.kubeletEndpoint });
      } else {
        state.error = call.request?.error || "(the kubelet gave no reason)";
        log.error(
          "the kubelet refused the plugin registration; pods cannot mount this driver's volumes on this node",
          {
            driver: cfg.driverName,
            endpoint: cfg.kubeletEndpoint,
            error: state.error,
            fix: "check that --kubelet-registration-path is the CSI socket's path on the host and that the driver name matches the CSIDriver object",
          },
        );
      }
      cb(null, {});
    },
  });
  await mkdir(cfg.dir, { recursive: true });
  await replaceStaleSocket(socketPath);
  await bindUnix(server, socketPath);
  const ino = (await stat(socketPath)).ino;
  log.info("registration socket ready for the kubelet", { socket: socketPath });

  let stopping: Promise<void> | undefined;
  return {
    socketPath,
    status: () => ({ ...state }),
    stop: () => {
      // Remove the socket first: the kubelet's watcher then drops the registration at once.
      stopping ??= (async () => {
        await unlinkIfSame(socketPath, ino);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 2000);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      })();
      return stopping;
    },
  };
}
