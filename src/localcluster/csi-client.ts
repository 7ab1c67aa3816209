// Clients of the driver's sockets, as a sidecar or the kubelet calls them, with promises and gRPC
// codes: the CSI services (Identity, Controller, Node) and the kubelet plugin registration
// service. The protos are loaded by the driver's own loader (src/driver/proto.ts).
import * as grpc from "@grpc/grpc-js";
import { type CsiService, loadCsi, loadRegistration } from "../driver/proto.ts";

export type { CsiService };
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

type UnaryFn = (r: Msg, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, res: Msg) => void) => void;

function unary(c: grpc.Client, method: string, req: Msg, timeoutMs: number): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const fn = (c as unknown as Record<string, UnaryFn>)[method];
    if (!fn) return reject(new Error(`no method ${method}`));
    fn.call(c, req, { deadline: Date.now() + timeoutMs }, (err, res) =>
      err ? reject(new CsiCallError(method, err.code, err.details)) : resolve(res),
    );
  });
}

export function connectCsi(socketPath: string, protoPath: string): CsiClient {
  const ctors = loadCsi(protoPath);
  const clients = new Map<CsiService, grpc.Client>();
  const client = (s: CsiService): grpc.Client => {
    let c = clients.get(s);
    if (!c) {
      c = new ctors[s](`unix://${socketPath}`, grpc.credentials.createInsecure());
      clients.set(s, c);
    }
    return c;
  };
  const call = (service: CsiService, method: string, req: Msg = {}, timeoutMs = 120_000): Promise<Msg> =>
    unary(client(service), method, req, timeoutMs);
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

/** The kubelet's side of plugin registration: what its plugin watcher asks a registration socket. */
export interface RegistrationClient {
  getInfo(): Promise<Msg>;
  notify(status: { plugin_registered: boolean; error?: string }): Promise<Msg>;
  close(): void;
}

export function connectRegistration(socketPath: string, protoPath: string): RegistrationClient {
  const Ctor = loadRegistration(protoPath);
  const c = new Ctor(`unix://${socketPath}`, grpc.credentials.createInsecure());
  return {
    getInfo: () => unary(c, "GetInfo", {}, 10_000),
    notify: (status) => unary(c, "NotifyRegistrationStatus", status, 10_000),
    close: () => c.close(),
  };
}

export const MOUNT_CAP = {
  access_mode: { mode: "SINGLE_NODE_WRITER" },
  mount: { fs_type: "", mount_flags: [] },
};
export const BLOCK_CAP = { access_mode: { mode: "SINGLE_NODE_WRITER" }, block: {} };
