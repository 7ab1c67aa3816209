// A CSI client over a unix socket, for tests, benchmarks and the end-to-end "kubelet": the same
// gRPC calls csi-sanity, the sidecars and a kubelet make. Methods take and return plain objects
// (proto field names, snake_case).
import * as grpc from "@grpc/grpc-js";
import { loadCsi } from "../../src/driver/server.ts";

type Call = (request: Record<string, unknown>) => Promise<Record<string, unknown>>;
export type CsiService = Record<string, Call>;

export interface CsiClient {
  identity: CsiService;
  controller: CsiService;
  node: CsiService;
  close(): void;
}

export function connectCsi(socket: string, protoPath: string, deadlineMs = 60_000): CsiClient {
  const defs = loadCsi(protoPath);
  const clients: grpc.Client[] = [];
  const wrap = (def: grpc.ServiceDefinition): CsiService => {
    const Ctor = grpc.makeGenericClientConstructor(def, "csi");
    const client = new Ctor(`unix://${socket}`, grpc.credentials.createInsecure());
    clients.push(client);
    const out: CsiService = {};
    for (const name of Object.keys(def)) {
      const method = (client as unknown as Record<string, grpc.requestCallback<unknown> & ((...a: unknown[]) => unknown)>)[
        name
      ];
      if (typeof method !== "function") continue;
      out[name] = (request) =>
        new Promise((resolve, reject) => {
          method.call(client, request, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: unknown) =>
            err ? reject(err) : resolve(res as Record<string, unknown>),
          );
        });
    }
    return out;
  };
  return {
    identity: wrap(defs.Identity),
    controller: wrap(defs.Controller),
    node: wrap(defs.Node),
    close: () => {
      for (const c of clients) c.close();
    },
  };
}
