// Prometheus metrics of the webhook, in the text exposition format: requests by path and HTTP
// code, a latency histogram by path, admission answers by path and outcome, and findings by
// rule and severity.

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

class Histogram {
  readonly counts = new Array<number>(BUCKETS.length).fill(0);
  sum = 0;
  count = 0;
  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= (BUCKETS[i] as number)) this.counts[i]!++;
  }
}

const esc = (v: string) => v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
const labels = (l: Record<string, string>) =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${esc(v)}"`)
    .join(",")}}`;

export class Metrics {
  private readonly requests = new Map<string, { l: Record<string, string>; n: number }>();
  private readonly latency = new Map<string, Histogram>();
  private readonly admissions = new Map<string, { l: Record<string, string>; n: number }>();
  private readonly findings = new Map<string, { l: Record<string, string>; n: number }>();

  private static inc(m: Map<string, { l: Record<string, string>; n: number }>, l: Record<string, string>) {
    const key = Object.values(l).join("\u0000");
    const e = m.get(key);
    if (e) e.n++;
    else m.set(key, { l, n: 1 });
  }

  /** Paths outside the known set are counted as "other", so hostile paths cannot grow the map. */
  request(path: string, code: number, seconds: number): void {
    const p = KNOWN_PATHS.has(path) ? path : "other";
    Metrics.inc(this.requests, { path: p, code: String(code) });
    let h = this.latency.get(p);
    if (!h) {
      h = new Histogram();
      this.latency.set(p, h);
    }
    h.observe(seconds);
  }

  admission(path: string, allowed: boolean, patched: boolean): void {
    Metrics.inc(this.admissions, { path, allowed: String(allowed), patched: String(patched) });
  }

  finding(webhook: string, rule: string, severity: string): void {
    Metrics.inc(this.findings, { webhook, rule, severity });
  }

  render(): string {
    const out: string[] = [];
    const counter = (
      name: string,
      help: string,
      m: Map<string, { l: Record<string, string>; n: number }>,
    ) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const { l, n } of m.values()) out.push(`${name}${labels(l)} ${n}`);
    };
    counter("vol_webhook_requests_total", "HTTP requests by path and status code.", this.requests);
    out.push(
      "# HELP vol_webhook_request_duration_seconds Time to answer an HTTP request.",
      "# TYPE vol_webhook_request_duration_seconds histogram",
    );
    for (const [path, h] of this.latency) {
      for (let i = 0; i < BUCKETS.length; i++) {
        const le = String(BUCKETS[i]);
        out.push(`vol_webhook_request_duration_seconds_bucket${labels({ path, le })} ${h.counts[i]}`);
      }
      out.push(`vol_webhook_request_duration_seconds_bucket${labels({ path, le: "+Inf" })} ${h.count}`);
      out.push(`vol_webhook_request_duration_seconds_sum${labels({ path })} ${h.sum}`);
      out.push(`vol_webhook_request_duration_seconds_count${labels({ path })} ${h.count}`);
    }
    counter(
      "vol_webhook_admissions_total",
      "Admission answers by path, outcome and whether a patch was sent.",
      this.admissions,
    );
    counter(
      "vol_webhook_decisions_total",
      "Rule findings (decisions by rule) by webhook, rule and severity.",
      this.findings,
    );
    return `${out.join("\n")}\n`;
  }
}

export const KNOWN_PATHS = new Set(["/mutate", "/validate", "/healthz", "/readyz", "/metrics"]);
