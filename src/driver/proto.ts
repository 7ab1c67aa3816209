// The .proto files the driver speaks, taken from pinned upstream modules at build or run time
// (never committed): the CSI spec and the kubelet's plugin registration API. One way to find
// each (flag, environment variable, next to the running bundle, the cache of scripts/bins.sh)
// and one loader, used by the driver's servers and by the clients that call them.
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const CSI_SPEC_VERSION = "v1.12.0";
/** k8s.io/kubelet, the module that holds pkg/apis/pluginregistration/v1/api.proto. */
export const KUBELET_MODULE_VERSION = "v0.36.3";

export interface ProtoSource {
  /** File name, next to the bundle and in the cache. */
  file: string;
  /** What it is, for messages. */
  what: string;
  flag: string;
  env: string;
  /** Directory under <cache>/files/. */
  cacheDir: string;
  /** The scripts/bins.sh part that fetches it. */
  part: string;
}

export const CSI_PROTO: ProtoSource = {
  file: "csi.proto",
  what: `csi.proto (CSI spec ${CSI_SPEC_VERSION})`,
  flag: "--csi-proto",
  env: "VOL_CSI_PROTO",
  cacheDir: `csi-spec-${CSI_SPEC_VERSION}`,
  part: "csi-proto",
};

export const REGISTRATION_PROTO: ProtoSource = {
  file: "pluginregistration.proto",
  what: `pluginregistration.proto (k8s.io/kubelet ${KUBELET_MODULE_VERSION})`,
  flag: "--registration-proto",
  env: "VOL_REGISTRATION_PROTO",
  cacheDir: `kubelet-${KUBELET_MODULE_VERSION}`,
  part: "kubelet-proto",
};

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.KUBECTL_VOL_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "kubectl-vol")
  );
}

/** The file to load: the flag, the environment variable, next to the running bundle, then the cache. */
export function findProto(
  src: ProtoSource,
  flag?: string,
  env: NodeJS.ProcessEnv = process.env,
  bundleDir = import.meta.dirname,
): string {
  const explicit = flag || env[src.env];
  if (explicit) {
    if (!existsSync(explicit))
      throw new Error(`${src.file} not found at ${explicit} (from ${flag ? src.flag : src.env})`);
    return explicit;
  }
  const candidates = [
    path.join(bundleDir, src.file),
    path.join(cacheDir(env), "files", src.cacheDir, src.file),
  ];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new Error(
      `${src.what} not found; looked at ${candidates.join(", ")}. ` +
        `Run \`bash scripts/bins.sh ${src.part}\`, or pass ${src.flag} / set ${src.env}.`,
    );
  }
  return found;
}

/**
 * Loads the services `names` of package `pkg` (dotted, e.g. "csi.v1") from `protoPath`. Each is a
 * client constructor; its `.service` is the definition a server adds. Messages decode with the
 * proto's own field names, 64-bit integers as strings, enums as their names, defaults filled in.
 */
export function loadServices<N extends string>(
  protoPath: string,
  pkg: string,
  names: readonly N[],
): Record<N, grpc.ServiceClientConstructor> {
  const def = protoLoader.loadSync(protoPath, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  let node: grpc.GrpcObject | undefined = grpc.loadPackageDefinition(def);
  for (const part of pkg.split(".")) node = node?.[part] as grpc.GrpcObject | undefined;
  const out = {} as Record<N, grpc.ServiceClientConstructor>;
  for (const n of names) {
    const ctor = node?.[n] as grpc.ServiceClientConstructor | undefined;
    if (typeof ctor !== "function" || !ctor.service)
      throw new Error(`${protoPath} has no service ${pkg}.${n}`);
    out[n] = ctor;
  }
  return out;
}

export const CSI_SERVICES = ["Identity", "Controller", "Node", "GroupController"] as const;
export type CsiService = (typeof CSI_SERVICES)[number];

export function loadCsi(protoPath: string): Record<CsiService, grpc.ServiceClientConstructor> {
  return loadServices(protoPath, "csi.v1", CSI_SERVICES);
}

/** The kubelet's plugin registration API: package `pluginregistration`, service `Registration`. */
export function loadRegistration(protoPath: string): grpc.ServiceClientConstructor {
  return loadServices(protoPath, "pluginregistration", ["Registration"]).Registration;
}
