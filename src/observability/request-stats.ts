// A request counter and a latency histogram over the same labels, kept per label tuple and rendered only when
// Prometheus scrapes. prom-client's Counter/Histogram hash the label object on every call, which on the hot API
// paths cost more than some of the calls they measure.
import type { Registry } from "prom-client";

interface Series {
  labels: Record<string, string>;
  count: number;
  sum: number;
  /** Per bucket, not cumulative; the last one is +Inf. */
  buckets: Float64Array;
}

export interface RequestStatsNames {
  counter: string;
  counterHelp: string;
  histogram: string;
  histogramHelp: string;
}

export class RequestStats {
  private readonly series = new Map<string, Series>();

  constructor(
    registry: Registry,
    names: RequestStatsNames,
    private readonly labelNames: string[],
    private readonly bounds: number[],
  ) {
    registry.registerMetric(this.metric(names.counter, names.counterHelp, "counter", () => this.counterValues()) as never);
    registry.registerMetric(this.metric(names.histogram, names.histogramHelp, "histogram", () => this.histogramValues(names.histogram)) as never);
  }

  /** `values` in labelNames order. */
  observe(values: string[], ms: number): void {
    const key = values.join("\u0000");
    let s = this.series.get(key);
    if (!s) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i] ?? ""));
      s = { labels, count: 0, sum: 0, buckets: new Float64Array(this.bounds.length + 1) };
      this.series.set(key, s);
    }
    s.count++;
    s.sum += ms;
    let b = 0;
    while (b < this.bounds.length && ms > this.bounds[b]!) b++;
    s.buckets[b]!++;
  }

  private metric(name: string, help: string, type: "counter" | "histogram", values: () => unknown[]) {
    const get = async () => ({ name, help, type, aggregator: "sum", values: values() });
    return { name, help, type, aggregator: "sum", get, reset: () => this.series.clear() };
  }

  private counterValues() {
    return [...this.series.values()].map((s) => ({ labels: s.labels, value: s.count }));
  }

  private histogramValues(name: string) {
    const out: { metricName: string; labels: Record<string, string | number>; value: number }[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.buckets[i]!;
        out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le }, value: cumulative });
      });
      out.push({ metricName: `${name}_bucket`, labels: { ...s.labels, le: "+Inf" }, value: s.count });
      out.push({ metricName: `${name}_sum`, labels: s.labels, value: s.sum });
      out.push({ metricName: `${name}_count`, labels: s.labels, value: s.count });
    }
    return out;
  }
}
