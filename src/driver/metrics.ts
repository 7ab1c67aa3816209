// The driver's Prometheus metrics: every CSI call by service, method and gRPC code, their
// latency, the calls in flight, the volumes and snapshots by state, the backend, and whether
// the kubelet accepted the plugin registration.
import { Counter, Gauge, Histogram, Registry } from "../kube/metrics.ts";
import type { RpcObserver } from "./rpc.ts";

export interface DriverMetricsSource {
  inFlight: () => number;
  /** Records by kind and state, e.g. volume/ready. */
  records: () => { kind: "volume" | "snapshot"; state: string }[];
  backend: { kind: string; enforcesSize: boolean };
  driverName: string;
  version: string;
  /** true/false once the kubelet answered; undefined when not registering or not yet answered. */
  registered: () => boolean | undefined;
}

export class DriverMetrics {
  readonly registry = new Registry();
  readonly calls: Counter;
  readonly latency: Histogram;

  constructor(src: DriverMetricsSource) {
    const r = this.registry;
    this.calls = r.add(new Counter("vol_csi_rpc_total", "CSI calls by service, method and gRPC code."));
    this.latency = r.add(
      new Histogram("vol_csi_rpc_duration_seconds", "Time to answer a CSI call, by service and method."),
    );
    r.add(new Gauge("vol_csi_rpc_in_flight", "CSI calls being served.", () => [[{}, src.inFlight()]]));
    const byState = (kind: "volume" | "snapshot") => (): [Record<string, string>, number][] => {
      const n = new Map<string, number>([["ready", 0]]);
      for (const rec of src.records()) if (rec.kind === kind) n.set(rec.state, (n.get(rec.state) ?? 0) + 1);
      return [...n].map(([state, v]) => [{ state }, v]);
    };
    r.add(new Gauge("vol_csi_volumes", "Volumes in the data directory, by record state.", byState("volume")));
    r.add(
      new Gauge(
        "vol_csi_snapshots",
        "Snapshots in the data directory, by record state.",
        byState("snapshot"),
      ),
    );
    r.add(
      new Gauge("vol_csi_backend_info", "The storage backend serving the data directory (always 1).", () => [
        [{ backend: src.backend.kind, enforces_size: String(src.backend.enforcesSize) }, 1],
      ]),
    );
    r.add(
      new Gauge("vol_csi_build_info", "The driver's name and version (always 1).", () => [
        [{ driver: src.driverName, version: src.version }, 1],
      ]),
    );
    r.add(
      new Gauge(
        "vol_csi_kubelet_registered",
        "1 when the kubelet accepted the plugin registration, 0 when it refused it (absent before it answers).",
        () => {
          const v = src.registered();
          return v === undefined ? [] : [[{}, v ? 1 : 0]];
        },
      ),
    );
  }

  /** The observer the RPC wrapper reports each call to. */
  readonly observe: RpcObserver = (service, method, code, seconds) => {
    this.calls.inc({ service, method, code });
    this.latency.observe({ service, method }, seconds);
  };

  render(): string {
    return this.registry.render();
  }
}
