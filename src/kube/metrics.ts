// Prometheus metrics in the text exposition format (version 0.0.4), for the servers: counters
// and histograms with labels, gauges read when scraped, and a registry that renders them all.
// Label values are escaped; a caller keeps label sets bounded (map unknown values to "other").

export type Labels = Record<string, string>;

/** Default latency buckets in seconds, from half a millisecond to a minute. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60,
];

const esc = (v: string) => v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");

export function formatLabels(l: Labels): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

const keyOf = (l: Labels) => JSON.stringify(Object.entries(l));

interface Metric {
  render(out: string[]): void;
}

abstract class Family<T> implements Metric {
  protected readonly series = new Map<string, { labels: Labels; value: T }>();
  readonly name: string;
  readonly help: string;
  private readonly type: string;
  constructor(name: string, help: string, type: string) {
    this.name = name;
    this.help = help;
    this.type = type;
  }
  protected entry(labels: Labels, fresh: () => T): T {
    const k = keyOf(labels);
    let e = this.series.get(k);
    if (!e) {
      e = { labels, value: fresh() };
      this.series.set(k, e);
    }
    return e.value;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`);
    for (const { labels, value } of this.series.values()) this.lines(out, labels, value);
  }
  protected abstract lines(out: string[], labels: Labels, value: T): void;
}

export class Counter extends Family<{ n: number }> {
  constructor(name: string, help: string) {
    super(name, help, "counter");
  }
  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels, () => ({ n: 0 })).n += by;
  }
  get(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.value.n ?? 0;
  }
  protected lines(out: string[], labels: Labels, v: { n: number }): void {
    out.push(`${this.name}${formatLabels(labels)} ${v.n}`);
  }
}

interface Buckets {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Family<Buckets> {
  private readonly buckets: readonly number[];
  constructor(name: string, help: string, buckets: readonly number[] = LATENCY_BUCKETS) {
    super(name, help, "histogram");
    this.buckets = buckets;
  }
  observe(labels: Labels, value: number): void {
    const b = this.entry(labels, () => ({ counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    b.sum += value;
    b.count++;
    this.buckets.forEach((le, i) => {
      if (value <= le) b.counts[i] = (b.counts[i] ?? 0) + 1;
    });
  }
  protected lines(out: string[], labels: Labels, b: Buckets): void {
    this.buckets.forEach((le, i) => {
      out.push(`${this.name}_bucket${formatLabels({ ...labels, le: String(le) })} ${b.counts[i]}`);
    });
    out.push(`${this.name}_bucket${formatLabels({ ...labels, le: "+Inf" })} ${b.count}`);
    out.push(`${this.name}_sum${formatLabels(labels)} ${b.sum}`);
    out.push(`${this.name}_count${formatLabels(labels)} ${b.count}`);
  }
}

/** A gauge whose series are read from the process when scraped. */
export class Gauge implements Metric {
  readonly name: string;
  readonly help: string;
  private readonly read: () => [Labels, number][];
  constructor(name: string, help: string, read: () => [Labels, number][]) {
    this.name = name;
    this.help = help;
    this.read = read;
  }
  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`);
    for (const [labels, v] of this.read()) out.push(`${this.name}${formatLabels(labels)} ${v}`);
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  add<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    const out: string[] = [];
    for (const m of this.metrics) m.render(out);
    return `${out.join("\n")}\n`;
  }
}

export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
