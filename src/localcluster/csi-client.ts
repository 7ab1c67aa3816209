// A CSI client for tests: calls the driver's Identity, Controller and Node services over its
// unix socket, as a sidecar or the kubelet would, with promises and gRPC codes.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export type CsiService = "Identity" | "Controller" | "Node";
// biome-ignore lint/suspicious/noExplicitAny: CSI messages are plain decoded objects
export type Msg = Record<string, any>;

export class CsiCallError extends Error {
  readonly code: grpc.status;
  readonly details: string;
  constructor(method: string, code: grpc.status, details: string) {
    super(`${method}: ${grpc.status[code]}: ${details}`);
    this.name = "CsiCallError";
    this.code = code;
    this.details = details;
  }
}

export interface CsiClient {
  call(service: CsiService, method: string, req?: Msg, timeoutMs?: number): Promise<Msg>;
  /** The gRPC code of a call (0 for OK). */
  code(service: CsiService, method: string, req?: Msg): Promise<grpc.status>;
  close(): void;
}

export function connectCsi(socketPath: string, protoPath: string): CsiClient {
  const def = protoLoader.loadSync(protoPath, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    csi: { v1: Record<string, grpc.ServiceClientConstructor> };
  };
  const clients = new Map<CsiService, grpc.Client>();
  const client = (s: CsiService): grpc.Client => {
    let c = clients.get(s);
    if (!c) {
      const Ctor = pkg.csi.v1[s];
      if (!Ctor) throw new Error(`no service ${s} in ${protoPath}`);
      c = new Ctor(`unix://${socketPath}`, grpc.credentials.createInsecure());
      clients.set(s, c);
    }
    return c;
  };
  const call = (service: CsiService, method: string, req: Msg = {}, timeoutMs = 120_000): Promise<Msg> =>
    new Promise((resolve, reject) => {
      const c = client(service) as unknown as Record<
        string,
        (r: Msg, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: Msg) => void) => void
      >;
      const fn = c[method];
      if (!fn) return reject(new Error(`no method ${service}.${method}`));
      fn.call(c, req, { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(new CsiCallError(method, err.code, err.details)) : resolve(res),
      );
    });
  return {
    call,
    code: (service, method, req) =>
      call(service, method, req).then(
        () => grpc.status.OK,
        (e: unknown) => (e instanceof CsiCallError ? e.code : grpc.status.UNKNOWN),
      ),
    close: () => {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}

export const MOUNT_CAP = {
  access_mode: { mode: "SINGLE_NODE_WRITER" },
  mount: { fs_type: "", mount_flags: [] },
};
export const BLOCK_CAP = { access_mode: { mode: "SINGLE_NODE_WRITER" }, block: {} };
