// Building blocks of the exposition: a metric family whose samples are produced at scrape time (the
// object a prom-client Registry formats), and a histogram cell cheap enough to observe per request.
import type { Metric, Registry } from 'prom-client';

export type Labels = Record<string, string>;

/** One exposition line: `metricName{labels} value` (metricName defaults to the family's name). */
export interface Sample {
  metricName?: string;
  labels: Labels;
  value: number;
}

export type FamilyType = 'counter' | 'gauge' | 'histogram';

/** The shape prom-client's Registry reads from a metric's get(). */
export interface FamilySnapshot {
  name: string;
  help: string;
  type: FamilyType;
  aggregator: 'sum';
  values: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

export function assertMetricName(name: string): void {
  if (!METRIC_NAME.test(name)) throw new TypeError(`invalid metric name '${name}'`);
}

/**
 * A metric family registered in a prom-client Registry whose samples come from `produce`, called at
 * scrape time: nothing is stored per sample between scrapes. The Registry writes HELP and TYPE once,
 * then the samples in the order produced (a histogram's produce writes `_bucket`, `_sum`, `_count`).
 */
export class ScrapeFamily {
  readonly aggregator = 'sum' as const;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: FamilyType,
    private readonly produce: (out: Sample[]) => void,
    private readonly onReset?: () => void,
  ) {
    assertMetricName(name);
  }

  /** Called by Registry.metrics() and getMetricsAsJSON(); runs synchronously up to the returned promise. */
  get(): Promise<FamilySnapshot> {
    const values: Sample[] = [];
    this.produce(values);
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  /** Registry.resetMetrics(): clears in-process counts; values read from native statistics are not ours to reset. */
  reset(): void {
    this.onReset?.();
  }

  registerIn(registry: Registry): this {
    // The Registry only uses name, get(), reset() and aggregator: a ScrapeFamily is a Metric in all it reads.
    registry.registerMetric(this as unknown as Metric<string>);
    return this;
  }
}

/** A histogram `le` label value: 6 significant digits (the bounds are at least 19% apart). */
export function formatLe(bound: number): string {
  return String(Number(bound.toPrecision(6)));
}

/**
 * Log-spaced bounds: start·2^(k/perDoubling) for k = 0, 1, … up to and including the first bound ≥ end,
 * each rounded to 6 significant digits so that the `le` label is exactly the bound compared against.
 */
export function logBuckets(start: number, perDoubling: number, end: number): Float64Array {
  const bounds: number[] = [];
  for (let k = 0; ; k++) {
    const b = Number((start * 2 ** (k / perDoubling)).toPrecision(6));
    bounds.push(b);
    if (b >= end) break;
  }
  return Float64Array.from(bounds);
}

/** Bucket bounds shared by many histogram cells, with their `le` strings. */
export class BucketLayout {
  readonly le: readonly string[];
  constructor(readonly bounds: Float64Array) {
    for (let i = 1; i < bounds.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!)) throw new RangeError('histogram bounds must increase');
    }
    this.le = [...bounds].map((b) => String(b));
  }
}

/**
 * One histogram series updated per event: observe() is a binary search over the bounds and three
 * additions, no allocation and no label hashing. Counts are per bucket (not cumulative); the last
 * slot is the overflow above the last bound. Scrape writes them cumulatively.
 */
export class HistogramCell {
  readonly counts: Float64Array;
  sum = 0;
  #bucketLabels: Labels[] | undefined;

  constructor(
    readonly layout: BucketLayout,
    readonly labels: Labels,
  ) {
    this.counts = new Float64Array(layout.bounds.length + 1);
  }

  /** Observes `value` (seconds); the caller filters out NaN, negative and infinite values. */
  observe(value: number): void {
    const bounds = this.layout.bounds;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (value <= bounds[mid]!) hi = mid;
      else lo = mid + 1;
    }
    this.counts[lo] = this.counts[lo]! + 1;
    this.sum += value;
  }

  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
  }

  push(out: Sample[], name: string): void {
    const labels = (this.#bucketLabels ??= bucketLabels(this.labels, this.layout.le));
    const counts = this.counts;
    const bucket = `${name}_bucket`;
    let running = 0;
    for (let i = 0; i < counts.length; i++) {
      running += counts[i]!;
      out.push({ metricName: bucket, labels: labels[i]!, value: running });
    }
    out.push({ metricName: `${name}_sum`, labels: this.labels, value: this.sum });
    out.push({ metricName: `${name}_count`, labels: this.labels, value: running });
  }
}

/** The label sets of a histogram's buckets: `base` plus each `le`, then `le="+Inf"`. Built once per series. */
export function bucketLabels(base: Labels, le: readonly string[]): Labels[] {
  return [...le, '+Inf'].map((v) => ({ ...base, le: v }));
}
