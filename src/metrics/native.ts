// Metric families read from the engine's native cumulative statistics at scrape time: Triton's
// nv_inference_* counters and tensorgate's latency and batch-size histograms. Nothing here runs per
// request; each scrape reads every tracked model's stats() once, shared by all families.
import type { NativeModelStats } from '../engine/binding.js';
import { bucketLabels, formatLe, ScrapeFamily, type Labels, type Sample } from './family.js';

/** Anything with the engine's statistics: a Model satisfies it. */
export interface StatsSource {
  stats(): NativeModelStats;
}

/** The native latency histograms' bucket count (LatencyHistogram::kBuckets). */
export const NATIVE_HISTOGRAM_BUCKETS = 128;

/**
 * Upper bound, in seconds, of native latency bucket `i` (LatencyHistogram::UpperBoundSeconds): bucket 0
 * holds values below 1 µs, bucket i ≥ 1 values in [1e-6·2^((i-1)/4), 1e-6·2^(i/4)); the last bucket
 * also takes everything beyond. Same as the addon's histogramBounds().
 */
export function nativeBucketBound(i: number): number {
  return 1e-6 * 2 ** (i / 4);
}

/** The native buckets exported as `le` buckets: those whose bound lies in [10 µs, 10 s]. */
export const EXPORTED_NATIVE_BUCKETS: { readonly first: number; readonly last: number } = (() => {
  let first = 0;
  while (nativeBucketBound(first) < 1e-5) first++;
  let last = first;
  while (nativeBucketBound(last + 1) <= 10) last++;
  return { first, last };
})();

const NATIVE_LE: readonly string[] = Array.from(
  { length: EXPORTED_NATIVE_BUCKETS.last - EXPORTED_NATIVE_BUCKETS.first + 1 },
  (_, k) => formatLe(nativeBucketBound(EXPORTED_NATIVE_BUCKETS.first + k)),
);

/** `le` bounds of tensorgate_batch_size. */
export const BATCH_SIZE_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256];
const BATCH_LE = BATCH_SIZE_BUCKETS.map(String);

/** Failure reasons, as the `reason` label of nv_inference_request_failure, by native counter. */
export const FAILURE_REASONS = {
  queueFull: 'queue_full',
  timeout: 'timeout',
  cancelled: 'cancelled',
  unavailable: 'unavailable',
  invalid: 'invalid',
  backend: 'backend',
} as const satisfies Record<keyof NativeModelStats['failures'], string>;

const FAILURE_KEYS = Object.keys(FAILURE_REASONS) as Array<keyof typeof FAILURE_REASONS>;

/** A tracked model version with its label sets, built once. */
class TrackedModel {
  readonly labels: Labels;
  readonly failureLabels: Labels[];
  readonly latencyBuckets: Labels[];
  readonly batchBuckets: Labels[];

  constructor(
    model: string,
    version: string,
    readonly source: StatsSource,
  ) {
    this.labels = { model, version };
    this.failureLabels = FAILURE_KEYS.map((k) => ({ model, version, reason: FAILURE_REASONS[k] }));
    this.latencyBuckets = bucketLabels(this.labels, NATIVE_LE);
    this.batchBuckets = bucketLabels(this.labels, BATCH_LE);
  }
}

interface Reading {
  model: TrackedModel;
  stats: NativeModelStats;
}

const modelKey = (model: string, version: string): string => JSON.stringify([model, version]);

/** Tracked models, and the families that read them. */
export class NativeModelMetrics {
  readonly families: ScrapeFamily[];
  readonly #models = new Map<string, TrackedModel>();
  #reading: Reading[] | undefined;

  constructor(prefix: string) {
    const counter = (name: string, help: string, value: (s: NativeModelStats) => number): ScrapeFamily =>
      this.#perModel(name, help, 'counter', value);
    const us = (d: { ns: number }): number => d.ns / 1e3;
    this.families = [
      counter('nv_inference_request_success', 'Number of successful inference requests, all batch sizes', (s) => s.success.count),
      new ScrapeFamily(
        'nv_inference_request_failure',
        'Number of failed inference requests, all batch sizes, by reason ' +
          '(queue_full, timeout, cancelled, unavailable, invalid, backend)',
        'counter',
        (out) => {
          for (const { model, stats } of this.#read()) {
            FAILURE_KEYS.forEach((k, i) => out.push({ labels: model.failureLabels[i]!, value: stats.failures[k] }));
          }
        },
      ),
      counter('nv_inference_count', 'Number of inferences performed (a batch of n rows counts n)', (s) => s.inferenceCount),
      counter('nv_inference_exec_count', 'Number of model executions performed (batches run)', (s) => s.executionCount),
      this.#perModel(
        'nv_inference_pending_request_count',
        'Instantaneous number of pending requests awaiting execution per-model: accepted and waiting for their batch to start (executing requests are not counted)',
        'gauge',
        (s) => s.queued,
      ),
      this.#perModel(
        `${prefix}inflight_requests`,
        'Inference requests accepted and not yet completed: waiting in the queue or executing',
        'gauge',
        (s) => s.pending,
      ),
      counter(
        'nv_inference_request_duration_us',
        'Cumulative duration of successful inference requests, enqueue to completion, in microseconds',
        (s) => us(s.success),
      ),
      counter('nv_inference_queue_duration_us', 'Cumulative inference queuing duration in microseconds', (s) => us(s.queue)),
      counter(
        'nv_inference_compute_input_duration_us',
        'Cumulative compute input duration in microseconds',
        (s) => us(s.computeInput),
      ),
      counter(
        'nv_inference_compute_infer_duration_us',
        'Cumulative compute inference duration in microseconds',
        (s) => us(s.computeInfer),
      ),
      counter(
        'nv_inference_compute_output_duration_us',
        'Cumulative compute output duration in microseconds',
        (s) => us(s.computeOutput),
      ),
      this.#perModel(
        `${prefix}last_inference_timestamp_seconds`,
        'Unix time of the model version\'s last completed execution (absent before the first)',
        'gauge',
        (s) => (s.lastInferenceMs > 0 ? s.lastInferenceMs / 1e3 : undefined),
      ),
      this.#latency(
        `${prefix}request_duration_seconds`,
        'Duration of successful inference requests, enqueue to completion',
        (s) => s.histograms.request,
        (s) => s.success.ns / 1e9,
      ),
      this.#latency(
        `${prefix}queue_duration_seconds`,
        'Time requests waited in the batcher queue before their batch started',
        (s) => s.histograms.queue,
        (s) => s.queue.ns / 1e9,
      ),
      this.#latency(
        `${prefix}compute_duration_seconds`,
        'Duration of each successful model execution (input, inference, output), per batch',
        (s) => s.histograms.compute,
        (s) => s.batches.reduce((sum, b) => sum + b.computeInput.ns + b.computeInfer.ns + b.computeOutput.ns, 0) / 1e9,
      ),
      new ScrapeFamily(`${prefix}batch_size`, 'Rows per model execution (executions by batch size)', 'histogram', (out) => {
        const name = `${prefix}batch_size`;
        for (const { model, stats } of this.#read()) pushBatchSizes(out, name, model, stats);
      }),
    ];
  }

  track(model: string, version: string, source: StatsSource): void {
    this.#models.set(modelKey(model, version), new TrackedModel(model, version, source));
    this.#reading = undefined;
  }

  untrack(model: string, version: string): boolean {
    this.#reading = undefined;
    return this.#models.delete(modelKey(model, version));
  }

  get size(): number {
    return this.#models.size;
  }

  /** Requests completed or failed and seconds spent executing, summed over the tracked models. */
  totals(): { requests: number; busySeconds: number } {
    let requests = 0;
    let busyNs = 0;
    for (const { stats } of this.#read()) {
      requests += stats.success.count + stats.fail.count;
      for (const b of stats.batches) busyNs += b.computeInput.ns + b.computeInfer.ns + b.computeOutput.ns;
    }
    return { requests, busySeconds: busyNs / 1e9 };
  }

  /**
   * Every tracked model's stats(), read once per scrape: the Registry calls each family's get() in one
   * synchronous pass, so the reading is kept until the next microtask and all families agree.
   */
  #read(): Reading[] {
    if (this.#reading) return this.#reading;
    const reading: Reading[] = [];
    for (const model of this.#models.values()) {
      let stats: NativeModelStats;
      try {
        stats = model.source.stats();
      } catch {
        continue; // a model torn down under us: its series are absent from this scrape
      }
      reading.push({ model, stats });
    }
    this.#reading = reading;
    queueMicrotask(() => {
      if (this.#reading === reading) this.#reading = undefined;
    });
    return reading;
  }

  #perModel(
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    value: (s: NativeModelStats) => number | undefined,
  ): ScrapeFamily {
    return new ScrapeFamily(name, help, type, (out) => {
      for (const { model, stats } of this.#read()) {
        const v = value(stats);
        if (v !== undefined) out.push({ labels: model.labels, value: v });
      }
    });
  }

  #latency(
    name: string,
    help: string,
    counts: (s: NativeModelStats) => readonly number[],
    sum: (s: NativeModelStats) => number,
  ): ScrapeFamily {
    return new ScrapeFamily(name, help, 'histogram', (out) => {
      for (const { model, stats } of this.#read()) {
        pushNativeHistogram(out, name, model.labels, model.latencyBuckets, counts(stats), sum(stats));
      }
    });
  }
}

/**
 * A native log-spaced histogram as Prometheus buckets: the native buckets from EXPORTED_NATIVE_BUCKETS
 * .first to .last, cumulative (the first also holds everything below it), then +Inf (everything).
 * _count is the +Inf total, so the two agree even when a concurrent update lands mid-read.
 */
export function pushNativeHistogram(
  out: Sample[],
  name: string,
  labels: Labels,
  bucketLabelSets: readonly Labels[],
  counts: readonly number[],
  sum: number,
): void {
  const { first, last } = EXPORTED_NATIVE_BUCKETS;
  const bucket = `${name}_bucket`;
  let running = 0;
  for (let i = 0; i < first && i < counts.length; i++) running += counts[i]!;
  for (let i = first; i <= last; i++) {
    running += counts[i] ?? 0;
    out.push({ metricName: bucket, labels: bucketLabelSets[i - first]!, value: running });
  }
  for (let i = last + 1; i < counts.length; i++) running += counts[i]!;
  out.push({ metricName: bucket, labels: bucketLabelSets[last - first + 1]!, value: running });
  out.push({ metricName: `${name}_sum`, labels, value: sum });
  out.push({ metricName: `${name}_count`, labels, value: running });
}

function pushBatchSizes(out: Sample[], name: string, model: TrackedModel, stats: NativeModelStats): void {
  const perBucket = new Array<number>(BATCH_SIZE_BUCKETS.length + 1).fill(0);
  let sum = 0;
  for (const b of stats.batches) {
    let i = 0;
    while (i < BATCH_SIZE_BUCKETS.length && b.batchSize > BATCH_SIZE_BUCKETS[i]!) i++;
    perBucket[i]! += b.executions;
    sum += b.batchSize * b.executions;
  }
  const bucket = `${name}_bucket`;
  let running = 0;
  perBucket.forEach((n, i) => {
    running += n;
    out.push({ metricName: bucket, labels: model.batchBuckets[i]!, value: running });
  });
  out.push({ metricName: `${name}_sum`, labels: model.labels, value: sum });
  out.push({ metricName: `${name}_count`, labels: model.labels, value: running });
}
