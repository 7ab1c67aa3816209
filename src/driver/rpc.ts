// The request wrapper every RPC goes through: one JSON log line per call (secrets redacted),
// errors turned into gRPC statuses (CsiError keeps its code; anything else is INTERNAL with a
// one-line message, the stack only in the log), in-flight calls counted for a clean shutdown,
// and every call's outcome and duration handed to an observer (the driver's /metrics).
import type { ServerUnaryCall, sendUnaryData, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "../kube/log.ts";
import { Code, CsiError, toStatus } from "./errors.ts";
import { redact } from "./redact.ts";

// biome-ignore lint/suspicious/noExplicitAny: requests and responses are plain objects decoded by proto-loader
export type Message = Record<string, any>;
export type Handler = (req: Message) => Promise<Message>;
export type Service = Record<string, Handler>;

/** Calls logged at debug level only (polled by sidecars and kubelet). */
const QUIET = new Set([
  "Probe",
  "GetPluginInfo",
  "GetPluginCapabilities",
  "ControllerGetCapabilities",
  "NodeGetCapabilities",
  "NodeGetInfo",
  "GetCapacity",
  "NodeGetVolumeStats",
  "ListVolumes",
  "ListSnapshots",
]);

export class InFlight {
  private n = 0;
  private waiters: (() => void)[] = [];
  enter(): void {
    this.n++;
  }
  leave(): void {
    if (--this.n === 0) for (const w of this.waiters.splice(0)) w();
  }
  get count(): number {
    return this.n;
  }
  idle(): Promise<void> {
    return this.n === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

/** Told of every finished call: its method, gRPC code name and duration. */
export type RpcObserver = (service: string, method: string, code: string, seconds: number) => void;

let nextId = 1;

/** Wraps a service for grpc-js: every method of `methods` is served, by `impl` or as UNIMPLEMENTED. */
export function wrapService(
  serviceName: string,
  methods: string[],
  impl: Service,
  log: Logger,
  inFlight: InFlight,
  observe: RpcObserver = () => {},
): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = {};
  for (const method of methods) {
    const handler = impl[method];
    out[method] = (call: ServerUnaryCall<Message, Message>, callback: sendUnaryData<Message>) => {
      const id = nextId++;
      const t0 = performance.now();
      inFlight.enter();
      const run: Promise<Message> = handler
        ? Promise.resolve().then(() => handler(call.request ?? {}))
        : Promise.reject(
            new CsiError(Code.UNIMPLEMENTED, `${serviceName}.${method} is not implemented by this driver`),
          );
      run.then(
        (res) => {
          const sec = (performance.now() - t0) / 1000;
          const ms = Math.round(sec * 1000);
          // Answered first, logged after.
          callback(null, res);
          inFlight.leave();
          observe(serviceName, method, "OK", sec);
          const lvl = QUIET.has(method) ? "debug" : "info";
          if (log.enabled(lvl))
            log[lvl]("rpc", { id, method, code: "OK", ms, request: redact(call.request) });
        },
        (err: unknown) => {
          const sec = (performance.now() - t0) / 1000;
          const ms = Math.round(sec * 1000);
          const s = toStatus(err);
          observe(serviceName, method, Code[s.code] ?? String(s.code), sec);
          const fields: Record<string, unknown> = {
            id,
            method,
            code: Code[s.code],
            ms,
            error: s.details,
            request: redact(call.request),
          };
          if (s.internal) {
            fields.stack = err instanceof Error ? err.stack : undefined;
            log.error("rpc", fields);
          } else {
            log.info("rpc", fields);
          }
          callback({ code: s.code, details: s.details }, null);
          inFlight.leave();
        },
      );
    };
  }
  return out;
}
