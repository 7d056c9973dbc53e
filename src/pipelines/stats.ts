// Statistics of the backends that run in TypeScript (JavaScript models, ensembles), kept in the
// engine's form (ModelStats: Triton's counters and durations, per batch size, and the native
// log-spaced latency histograms), so /v2/models/{m}/stats and /metrics read them like an ONNX model's.
import type { DurationStat, NativeBatchStat, NativeModelStats } from '../engine/binding.js';
import { errorKind } from '../protocol/errors.js';

/** Buckets of the native latency histograms (LatencyHistogram::kBuckets in native/engine/stats.h). */
export const HISTOGRAM_BUCKETS = 128;

/** The native bucket of a duration: < 1 µs in bucket 0, then four buckets per doubling. */
export function bucketOf(ns: number): number {
  if (!(ns >= 1000)) return 0;
  const b = 1 + Math.floor(Math.log2(ns / 1000) * 4);
  return b < HISTOGRAM_BUCKETS ? b : HISTOGRAM_BUCKETS - 1;
}

export class Duration implements DurationStat {
  count = 0;
  ns = 0;
  /** Durations are kept in whole ns (Triton's uint64; the gRPC statistics carry them as such). */
  add(ns: number, n = 1): void {
    this.count += n;
    this.ns += Math.round(ns);
  }
  snapshot(): DurationStat {
    return { count: this.count, ns: this.ns };
  }
}

export class Histogram {
  readonly counts = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  add(ns: number): void {
    this.counts[bucketOf(ns)]!++;
  }
}

type FailureKey = keyof NativeModelStats['failures'];

/** Which failure counter an error goes to (the reason label of nv_inference_request_failure). */
export function failureReason(err: unknown): FailureKey {
  switch (errorKind(err)) {
    case 'QUEUE_FULL':
      return 'queueFull';
    case 'TIMEOUT':
      return 'timeout';
    case 'CANCELLED':
      return 'cancelled';
    case 'UNAVAILABLE':
      return 'unavailable';
    case 'INVALID_ARGUMENT':
    case 'NOT_FOUND':
      return 'invalid';
    default:
      return 'backend';
  }
}

class BatchCounters {
  executions = 0;
  readonly computeInput = new Duration();
  readonly computeInfer = new Duration();
  readonly computeOutput = new Duration();
}

/** Per-request and per-execution counters; snapshot() returns them as the engine's ModelStats. */
export class StatsRecorder {
  pending = 0;
  inferenceCount = 0;
  executionCount = 0;
  lastInferenceMs = 0;
  readonly success = new Duration();
  readonly fail = new Duration();
  readonly failures: Record<FailureKey, number> = { queueFull: 0, timeout: 0, cancelled: 0, unavailable: 0, invalid: 0, backend: 0 };
  readonly queue = new Duration();
  readonly computeInput = new Duration();
  readonly computeInfer = new Duration();
  readonly computeOutput = new Duration();
  readonly requestHistogram = new Histogram();
  readonly queueHistogram = new Histogram();
  readonly computeHistogram = new Histogram();
  readonly #batches: BatchCounters[];

  readonly #queuedNow: () => number;

  /**
   * `maxBatchSize` rows at most per execution (0: one request per execution); `queuedNow` tells how
   * many accepted requests wait for their execution to start (Triton's pending count).
   */
  constructor(maxBatchSize: number, queuedNow: () => number = () => 0) {
    this.#batches = Array.from({ length: Math.max(maxBatchSize, 1) + 1 }, () => new BatchCounters());
    this.#queuedNow = queuedNow;
  }

  /** A request accepted: pending until it succeeds or fails. */
  accepted(): void {
    this.pending++;
  }

  /** A request refused at submission (full queue, unavailable): counted by reason only, as the engine does. */
  refused(err: unknown): void {
    this.failures[failureReason(err)]++;
  }

  succeeded(requestNs: number): void {
    this.pending--;
    this.success.add(requestNs);
    this.requestHistogram.add(requestNs);
    this.lastInferenceMs = Date.now();
  }

  failed(requestNs: number, err: unknown): void {
    this.pending--;
    this.fail.add(requestNs);
    this.failures[failureReason(err)]++;
  }

  /** A request's time between acceptance and the start of its execution. */
  queued(ns: number): void {
    this.queue.add(ns);
    this.queueHistogram.add(ns);
  }

  /** One execution of `requests` requests holding `rows` rows, and where its time went. */
  executed(requests: number, rows: number, inputNs: number, inferNs: number, outputNs: number): void {
    this.executionCount++;
    this.inferenceCount += rows;
    this.computeInput.add(inputNs * requests, requests);
    this.computeInfer.add(inferNs * requests, requests);
    this.computeOutput.add(outputNs * requests, requests);
    this.computeHistogram.add(inputNs + inferNs + outputNs);
    const b = this.#batches[Math.min(rows, this.#batches.length - 1)]!;
    b.executions++;
    b.computeInput.add(inputNs);
    b.computeInfer.add(inferNs);
    b.computeOutput.add(outputNs);
  }

  snapshot(): NativeModelStats {
    const batches: NativeBatchStat[] = [];
    this.#batches.forEach((b, size) => {
      if (b.executions > 0) {
        batches.push({
          batchSize: size,
          executions: b.executions,
          computeInput: b.computeInput.snapshot(),
          computeInfer: b.computeInfer.snapshot(),
          computeOutput: b.computeOutput.snapshot(),
        });
      }
    });
    return {
      pending: this.pending,
      queued: this.#queuedNow(),
      inferenceCount: this.inferenceCount,
      executionCount: this.executionCount,
      lastInferenceMs: this.lastInferenceMs,
      success: this.success.snapshot(),
      fail: this.fail.snapshot(),
      failures: { ...this.failures },
      queue: this.queue.snapshot(),
      computeInput: this.computeInput.snapshot(),
      computeInfer: this.computeInfer.snapshot(),
      computeOutput: this.computeOutput.snapshot(),
      batches,
      histograms: { request: [...this.requestHistogram.counts], queue: [...this.queueHistogram.counts], compute: [...this.computeHistogram.counts] },
    };
  }
}
