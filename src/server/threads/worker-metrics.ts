// What an HTTP worker thread counts: its HTTP requests (the same families as the main thread's) and
// the per-model latency histogram of the requests it served. The main thread asks for a snapshot at
// every scrape and sums it into its own exposition.
import type { ServedVersion } from '../../repository/index.js';
import { BucketLayout, HistogramCell, httpRequestFamilies, type RequestFamilies, type ThreadMetricsSnapshot } from '../../metrics/index.js';
import type { InferenceObserver } from '../../inference/index.js';
import type { HttpMetrics } from '../server.js';

export class WorkerMetrics implements HttpMetrics, InferenceObserver {
  readonly #thread: number;
  readonly #http: RequestFamilies = httpRequestFamilies();
  readonly #layout: BucketLayout;
  /** By served version key (name\0version). */
  readonly #latency = new Map<string, HistogramCell>();

  constructor(thread: number, latencyBuckets: readonly number[]) {
    this.#thread = thread;
    this.#layout = new BucketLayout(Float64Array.from(latencyBuckets));
  }

  observeHttp(route: string, method: string, status: number, seconds: number): void {
    this.#http.observe(route, method, status, seconds);
  }

  succeeded(target: ServedVersion, seconds: number): void {
    let cell = this.#latency.get(target.key);
    if (!cell) this.#latency.set(target.key, (cell = new HistogramCell(this.#layout, { model: target.name, version: target.versionLabel })));
    if (seconds >= 0 && seconds !== Infinity) cell.observe(seconds);
  }

  snapshot(): ThreadMetricsSnapshot {
    return {
      thread: this.#thread,
      http: this.#http.snapshot(),
      latency: [...this.#latency.values()].map((c) => [c.labels.model!, c.labels.version!, Array.from(c.counts), c.sum]),
    };
  }
}
