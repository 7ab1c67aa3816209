// Prometheus metrics of the webhook, on the servers' one implementation (src/kube/metrics.ts):
// requests by path and HTTP code, a latency histogram by path, admission answers by path and
// outcome, and findings by rule and severity.
import { Counter, Histogram, Registry } from "../kube/metrics.ts";

/** The webhook's latency buckets (seconds): its answers stay well under the API server's 5 s. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const KNOWN_PATHS = new Set(["/mutate", "/validate", "/healthz", "/readyz", "/metrics"]);

export class Metrics {
  private readonly registry = new Registry();
  private readonly requests = this.registry.add(
    new Counter("vol_webhook_requests_total", "HTTP requests by path and status code."),
  );
  private readonly latency = this.registry.add(
    new Histogram("vol_webhook_request_duration_seconds", "Time to answer an HTTP request.", BUCKETS),
  );
  private readonly admissions = this.registry.add(
    new Counter(
      "vol_webhook_admissions_total",
      "Admission answers by path, outcome and whether a patch was sent.",
    ),
  );
  private readonly findings = this.registry.add(
    new Counter(
      "vol_webhook_decisions_total",
      "Rule findings (decisions by rule) by webhook, rule and severity.",
    ),
  );

  /** Paths outside the known set are counted as "other", so hostile paths cannot grow the map. */
  request(path: string, code: number, seconds: number): void {
    const p = KNOWN_PATHS.has(path) ? path : "other";
    this.requests.inc({ path: p, code: String(code) });
    this.latency.observe({ path: p }, seconds);
  }

  admission(path: string, allowed: boolean, patched: boolean): void {
    this.admissions.inc({ path, allowed: String(allowed), patched: String(patched) });
  }

  finding(webhook: string, rule: string, severity: string): void {
    this.findings.inc({ webhook, rule, severity });
  }

  render(): string {
    return this.registry.render();
  }
}
