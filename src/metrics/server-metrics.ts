// ServerMetrics: one prom-client Registry holding the model statistics (read from the engine at scrape
// time), the per-request HTTP and cache metrics (pre-resolved series, no label hashing per event), the
// repository's model states and load failures, and prom-client's process and event-loop metrics.
import { collectDefaultMetrics, Registry } from 'prom-client';
import { BucketLayout, HistogramCell, logBuckets, ScrapeFamily, type Labels, type Sample } from './family.js';
import { NativeModelMetrics, type StatsSource } from './native.js';
import { PipelineMetrics, type PipelineSource } from './pipelines.js';
import { RequestFamilies, type RequestSnapshot } from './request-families.js';
import { ResourceMetrics, type GpuReader } from './resources.js';

export type ModelState = 'READY' | 'LOADING' | 'UNAVAILABLE' | 'UNLOADING';
export const MODEL_STATES: readonly ModelState[] = ['READY', 'LOADING', 'UNAVAILABLE', 'UNLOADING'];

export type CacheLevel = 'l1' | 'l2';

export interface ServerMetricsOptions {
  /** Prefix of tensorgate's own metric names (default 'tensorgate_'); Triton's nv_* names are never prefixed. */
  prefix?: string;
  /** prom-client's process_* and nodejs_* metrics (event-loop lag monitored at 10 ms); default true. */
  defaultMetrics?: boolean;
  /** Register into this registry instead of a new one (names must not clash). */
  registry?: Registry;
  /** Bucket bounds (seconds) of tensorgate_inference_request_duration_seconds: round SLO values by default. */
  latencyBuckets?: readonly number[];
  /** Reads the GPUs for nv_gpu_* (the native addon's NVML reader); none without it. */
  gpu?: GpuReader;
}

/** What tracing reports (src/tracing/control.ts). */
export interface TracingSource {
  readonly traced: number;
  readonly counts: { readonly exported: number; readonly failed: number };
}

/**
 * Default bounds of the per-model latency histogram: round values an SLO names ("99 % under 100 ms"),
 * OpenTelemetry's advisory HTTP buckets with 1 ms and 2.5 ms added for fast models.
 */
export const LATENCY_SLO_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10];

/** HTTP request duration buckets: 10 µs to 10.5 s, 2 per doubling (41% apart). */
export const HTTP_DURATION_BUCKETS: Float64Array = logBuckets(1e-5, 2, 10);
/** Cache lookup duration buckets: 1 µs (in-process L1 hits) to 11.9 s, 2 per doubling. */
export const CACHE_DURATION_BUCKETS: Float64Array = logBuckets(1e-6, 2, 10);

const CACHE_LAYOUT = new BucketLayout(CACHE_DURATION_BUCKETS);

/** The HTTP front's request counter and duration histogram (also kept by each HTTP worker thread). */
export function httpRequestFamilies(prefix = 'tensorgate_'): RequestFamilies {
  return new RequestFamilies(
    {
      total: `${prefix}http_requests_total`,
      totalHelp: 'HTTP requests by route template, method and status code',
      duration: `${prefix}http_request_duration_seconds`,
      durationHelp: 'HTTP request duration by route template, request received to response written',
      labels: ['route', 'method', 'status'],
    },
    HTTP_DURATION_BUCKETS,
  );
}

/** A duration fit to observe: NaN, negative and infinite ones are not (the event is still counted). */
const observable = (seconds: number): boolean => seconds >= 0 && seconds !== Infinity;


interface CacheModelSeries {
  readonly labels: Labels;
  hits: number;
  misses: number;
  /** Misses that ended the lookup (no lower level tried): the Triton per-model misses. */
  finalMisses: number;
}

interface CacheLevelSeries {
  readonly models: Map<string, CacheModelSeries>;
  readonly errors: Map<string, { readonly labels: Labels; count: number }>;
  readonly hit: HistogramCell;
  readonly miss: HistogramCell;
}

interface StateSeries {
  state: ModelState;
  readonly key: string;
  /** One label set per MODEL_STATES entry. */
  readonly labels: Labels[];
}

const versionKey = (model: string, version: string): string => JSON.stringify([model, version]);

/** What an HTTP worker thread counted (src/server/threads), as plain data, cumulative since it started. */
export interface ThreadMetricsSnapshot {
  /** The HTTP thread's number (the main thread is 0). */
  thread: number;
  http: RequestSnapshot;
  /** [model, version, per-bucket counts (not cumulative; the last is the overflow), sum] of the latency histogram. */
  latency: Array<[string, string, number[], number]>;
}

/** The other HTTP threads' metrics, summed into this registry's at every scrape. */
export interface ThreadMetricsSource {
  /** Brings the snapshots up to date (asks the threads, bounded in time); awaited before every scrape. */
  refresh(): Promise<void>;
  snapshots(): readonly ThreadMetricsSnapshot[];
}

export class ServerMetrics {
  readonly registry: Registry;
  readonly prefix: string;
  readonly #native: NativeModelMetrics;
  readonly #pipelines: PipelineMetrics;
  readonly #httpFamilies: RequestFamilies;
  readonly #grpcFamilies: RequestFamilies;
  readonly #states = new Map<string, StateSeries>();
  /** Tracked versions that can tell they cannot answer now (JavaScript models, ensembles). */
  readonly #health = new Map<string, { unhealthy?(): string | undefined }>();
  readonly #loadFailures = new Map<string, { readonly labels: Labels; count: number }>();
  readonly #cache = new Map<CacheLevel, CacheLevelSeries>();
  readonly #latencyLayout: BucketLayout;
  /** The latency histogram per model version, and by stats source (what requests resolve to): a swap's
   * old and new copies share their version's histogram until the old one is untracked. */
  readonly #latencyCells = new Map<string, HistogramCell>();
  readonly #latency = new Map<StatsSource, HistogramCell>();
  readonly #resources: ResourceMetrics;
  #tracing: TracingSource | undefined;
  #cacheState: (() => string) | undefined;
  #threads: ThreadMetricsSource | undefined;

  constructor(options: ServerMetricsOptions = {}) {
    const prefix = (this.prefix = options.prefix ?? 'tensorgate_');
    const registry = (this.registry = options.registry ?? new Registry());
    this.#native = new NativeModelMetrics(prefix);
    this.#pipelines = new PipelineMetrics(prefix);
    this.#latencyLayout = new BucketLayout(Float64Array.from(options.latencyBuckets ?? LATENCY_SLO_BUCKETS));
    this.#resources = new ResourceMetrics(options.gpu);
    this.#httpFamilies = httpRequestFamilies(prefix);
    this.#grpcFamilies = new RequestFamilies(
      {
        total: `${prefix}grpc_requests_total`,
        totalHelp: 'gRPC calls (each message of a stream counts) by method, kind (unary or stream) and status code name',
        duration: `${prefix}grpc_request_duration_seconds`,
        durationHelp: 'gRPC call duration by method, request received to response written (per message on streams)',
        labels: ['method', 'kind', 'code'],
      },
      HTTP_DURATION_BUCKETS,
    );
    const families: ScrapeFamily[] = [
      ...this.#native.families,
      ...this.#pipelines.families,
      new ScrapeFamily(
        `${prefix}inference_request_duration_seconds`,
        'Duration of successful inference requests through the whole inference path (decode, cache, queue, compute, encode), ' +
          'cache hits included; bucket bounds at round SLO values (--latency-buckets)',
        'histogram',
        (out) => {
          const name = `${prefix}inference_request_duration_seconds`;
          const threads = this.#threads?.snapshots() ?? [];
          if (!threads.some((t) => t.latency.length > 0)) {
            for (const cell of this.#latencyCells.values()) cell.push(out, name);
            return;
          }
          // Other threads' requests to the same version go into the same series.
          const merged = new Map<string, HistogramCell>();
          const add = (model: string, version: string, counts: ArrayLike<number>, sum: number): void => {
            const key = versionKey(model, version);
            let cell = merged.get(key);
            if (!cell) merged.set(key, (cell = new HistogramCell(this.#latencyLayout, { model, version })));
            if (counts.length !== cell.counts.length) return;
            for (let i = 0; i < counts.length; i++) cell.counts[i] = cell.counts[i]! + counts[i]!;
            cell.sum += sum;
          };
          for (const cell of this.#latencyCells.values()) add(cell.labels.model!, cell.labels.version!, cell.counts, cell.sum);
          for (const t of threads) for (const [model, version, counts, sum] of t.latency) add(model, version, counts, sum);
          for (const cell of merged.values()) cell.push(out, name);
        },
      ),
      ...this.#resources.families,
      new ScrapeFamily(`${prefix}traces_total`, 'Inference requests traced (sampled by rate, or continuing a sampled caller)', 'counter', (out) => {
        if (this.#tracing) out.push({ labels: {}, value: this.#tracing.traced });
      }),
      new ScrapeFamily(`${prefix}trace_spans_exported_total`, 'Spans handed to the OTLP exporter, by result (success, failure)', 'counter', (out) => {
        if (!this.#tracing) return;
        out.push({ labels: { result: 'success' }, value: this.#tracing.counts.exported });
        out.push({ labels: { result: 'failure' }, value: this.#tracing.counts.failed });
      }),

      ...this.#httpFamilies.families,
      ...this.#grpcFamilies.families,

      new ScrapeFamily(
        `${prefix}model_state`,
        'Model version state: 1 for the current state (READY, LOADING, UNAVAILABLE, UNLOADING), 0 for the others',
        'gauge',
        (out) => {
          for (const s of this.#states.values()) {
            // READY but unable to answer (its workers cannot start, a step is gone) is UNAVAILABLE, as the index says.
            const current = s.state === 'READY' && this.#health.get(s.key)?.unhealthy?.() !== undefined ? 'UNAVAILABLE' : s.state;
            MODEL_STATES.forEach((state, i) => out.push({ labels: s.labels[i]!, value: state === current ? 1 : 0 }));
          }
        },
      ),
      new ScrapeFamily(
        `${prefix}model_load_failures_total`,
        'Failed loads of a model version',
        'counter',
        (out) => {
          for (const f of this.#loadFailures.values()) out.push({ labels: f.labels, value: f.count });
        },
        () => this.#loadFailures.clear(),
      ),

      this.#cacheCounter(`${prefix}cache_hits_total`, 'Response cache hits by level and model', (s) => s.hits),
      this.#cacheCounter(`${prefix}cache_misses_total`, 'Response cache misses by level and model', (s) => s.misses),
      new ScrapeFamily(
        `${prefix}cache_errors_total`,
        'Response cache errors by level and reason',
        'counter',
        (out) => {
          for (const level of this.#cache.values()) {
            for (const e of level.errors.values()) out.push({ labels: e.labels, value: e.count });
          }
        },
        () => this.#cache.clear(),
      ),
      new ScrapeFamily(
        `${prefix}cache_circuit_open`,
        'Whether the shared (Redis) cache level is skipped because its circuit is open: 1 open, 0 closed (absent without Redis)',
        'gauge',
        (out) => {
          const state = this.#cacheState?.();
          if (state !== undefined && state !== 'disabled') out.push({ labels: { level: 'l2' }, value: state === 'open-circuit' ? 1 : 0 });
        },
      ),
      this.#cacheHistogram(`${prefix}cache_hit_duration_seconds`, 'Duration of response cache lookups that hit, by level', 'hit'),
      this.#cacheHistogram(`${prefix}cache_miss_duration_seconds`, 'Duration of response cache lookups that missed, by level', 'miss'),
      this.#tritonCache('nv_cache_num_hits_per_model', 'Number of response cache hits per model, all levels', (s) => s.hits),
      this.#tritonCache(
        'nv_cache_num_misses_per_model',
        'Number of response cache misses per model: lookups that missed at every level tried',
        (s) => s.finalMisses,
      ),
    ];
    for (const family of families) family.registerIn(registry);
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
    }
  }

  // ---- models (read at scrape time) -------------------------------------------------------------

  /** Reports `source.stats()` under {model, version} from the next scrape on; replaces an earlier source. */
  trackModel(name: string, version: string, source: StatsSource & PipelineSource & { unhealthy?(): string | undefined }): void {
    this.#native.track(name, version, source);
    this.#pipelines.track(name, version, source);
    if (source.unhealthy) this.#health.set(versionKey(name, version), source);
    const key = versionKey(name, version);
    let cell = this.#latencyCells.get(key);
    if (!cell) this.#latencyCells.set(key, (cell = new HistogramCell(this.#latencyLayout, { model: name, version })));
    this.#latency.set(source, cell);
  }

  /**
   * One successful inference request of the version whose stats `source` is, through the whole
   * inference path: a Map lookup and a binary search over the SLO bounds, no allocation.
   */
  observeInference(source: StatsSource, seconds: number): void {
    const cell = this.#latency.get(source);
    if (cell !== undefined && observable(seconds)) cell.observe(seconds);
  }

  /** Reports tracing's counters (tensorgate_traces_total, tensorgate_trace_spans_exported_total). */
  trackTracing(source: TracingSource): void {
    this.#tracing = source;
  }

  /** Reports the Redis level's state ('connected', 'connecting', 'open-circuit', 'disabled') as tensorgate_cache_circuit_open. */
  trackCacheState(state: () => string): void {
    this.#cacheState = state;
  }

  /** The machine's CPU utilization (nv_cpu_utilization's reading). */
  cpuUtilization(): number | undefined {
    return this.#resources.cpuUtilization();
  }

  /** Drops the model version's native series (a later track starts them again; Prometheus sees a reset). */
  untrackModel(name: string, version: string): void {
    this.#native.untrack(name, version);
    this.#pipelines.untrack(name, version);
    this.#health.delete(versionKey(name, version));
    this.#dropLatency(name, version);
  }

  #dropLatency(name: string, version: string): void {
    const cell = this.#latencyCells.get(versionKey(name, version));
    if (!cell) return;
    this.#latencyCells.delete(versionKey(name, version));
    for (const [source, c] of this.#latency) if (c === cell) this.#latency.delete(source);
  }

  /** Untracks the model version and drops its state and load-failure series: it left the repository. */
  forgetModel(name: string, version: string): void {
    this.#native.untrack(name, version);
    this.#pipelines.untrack(name, version);
    this.#health.delete(versionKey(name, version));
    this.#dropLatency(name, version);
    const key = versionKey(name, version);
    this.#states.delete(key);
    this.#loadFailures.delete(key);
  }

  // ---- HTTP (per request) -----------------------------------------------------------------------

  /**
   * Counts one HTTP request and observes its duration. `route` must be a route template (bounded
   * cardinality), not the raw path. The series are created once per (route, method, status).
   */
  observeHttp(route: string, method: string, status: number, seconds: number): void {
    this.#httpFamilies.observe(route, method, status, seconds);
  }

  /** Counts one gRPC call (or stream message) by method, 'unary' | 'stream' and status code name. */
  observeGrpc(method: string, kind: 'unary' | 'stream', code: string, seconds: number): void {
    this.#grpcFamilies.observe(method, kind, code, seconds);
  }

  // ---- repository -------------------------------------------------------------------------------

  modelLoadFailed(name: string, version: string): void {
    const key = versionKey(name, version);
    let f = this.#loadFailures.get(key);
    if (!f) this.#loadFailures.set(key, (f = { labels: { model: name, version }, count: 0 }));
    f.count++;
  }

  setModelState(name: string, version: string, state: ModelState): void {
    const key = versionKey(name, version);
    const s = this.#states.get(key);
    if (s) s.state = state;
    else this.#states.set(key, { state, key, labels: MODEL_STATES.map((st) => ({ model: name, version, state: st })) });
  }

  // ---- response cache (per lookup) --------------------------------------------------------------

  cacheHit(level: CacheLevel, model: string, seconds: number): void {
    const l = this.#cacheLevel(level);
    const s = l.models.get(model) ?? this.#addCacheModel(l, level, model);
    s.hits++;
    if (observable(seconds)) l.hit.observe(seconds);
  }

  /**
   * A lookup that missed at `level`. `final` (default true): the lookup ends here as a miss; pass false
   * for an L1 miss that goes on to L2, so that nv_cache_num_misses_per_model counts each request once.
   */
  cacheMiss(level: CacheLevel, model: string, seconds: number, final = true): void {
    const l = this.#cacheLevel(level);
    const s = l.models.get(model) ?? this.#addCacheModel(l, level, model);
    s.misses++;
    if (final) s.finalMisses++;
    if (observable(seconds)) l.miss.observe(seconds);
  }

  /** A cache operation that failed at `level`; `reason` must have few values (e.g. 'timeout', 'connection'). */
  cacheError(level: CacheLevel, reason: string): void {
    const l = this.#cacheLevel(level);
    let e = l.errors.get(reason);
    if (!e) l.errors.set(reason, (e = { labels: { level, reason }, count: 0 }));
    e.count++;
  }

  #cacheLevel(level: CacheLevel): CacheLevelSeries {
    let l = this.#cache.get(level);
    if (!l) {
      l = {
        models: new Map(),
        errors: new Map(),
        hit: new HistogramCell(CACHE_LAYOUT, { level }),
        miss: new HistogramCell(CACHE_LAYOUT, { level }),
      };
      this.#cache.set(level, l);
    }
    return l;
  }

  #addCacheModel(l: CacheLevelSeries, level: CacheLevel, model: string): CacheModelSeries {
    const s: CacheModelSeries = { labels: { level, model }, hits: 0, misses: 0, finalMisses: 0 };
    l.models.set(model, s);
    return s;
  }

  #cacheCounter(name: string, help: string, value: (s: CacheModelSeries) => number): ScrapeFamily {
    return new ScrapeFamily(
      name,
      help,
      'counter',
      (out) => {
        for (const level of this.#cache.values()) {
          for (const s of level.models.values()) out.push({ labels: s.labels, value: value(s) });
        }
      },
      () => this.#cache.clear(),
    );
  }

  #cacheHistogram(name: string, help: string, which: 'hit' | 'miss'): ScrapeFamily {
    return new ScrapeFamily(
      name,
      help,
      'histogram',
      (out) => {
        for (const level of this.#cache.values()) level[which].push(out, name);
      },
      () => this.#cache.clear(),
    );
  }

  /** Triton's per-model cache counters: the levels summed, labelled {model}. */
  #tritonCache(name: string, help: string, value: (s: CacheModelSeries) => number): ScrapeFamily {
    return new ScrapeFamily(name, help, 'counter', (out: Sample[]) => {
      const perModel = new Map<string, number>();
      for (const level of this.#cache.values()) {
        for (const [model, s] of level.models) perModel.set(model, (perModel.get(model) ?? 0) + value(s));
      }
      for (const [model, v] of perModel) out.push({ labels: { model }, value: v });
    });
  }

  // ---- extensions --------------------------------------------------------------------------------

  /** Inference requests (completed or failed) and execution seconds over every tracked model. */
  inferenceTotals(): { requests: number; busySeconds: number } {
    return this.#native.totals();
  }

  /** Adds families computed elsewhere (e.g. the forecast's) to this registry. */
  register(families: readonly ScrapeFamily[]): void {
    for (const family of families) family.registerIn(this.registry);
  }

  // ---- HTTP worker threads -----------------------------------------------------------------------

  /**
   * Sums the other HTTP threads' request and latency metrics into this registry's (one exposition
   * for the process), and adds tensorgate_http_thread_requests_total, the requests each thread answered.
   */
  addThreads(source: ThreadMetricsSource): void {
    this.#threads = source;
    this.#httpFamilies.mergeFrom(() => source.snapshots().map((t) => t.http));
    new ScrapeFamily(
      `${this.prefix}http_thread_requests_total`,
      'HTTP requests answered by each HTTP thread (--http-threads); thread 0, the main thread, also answers what the others hand it (control plane, routes, cached and traced models)',
      'counter',
      (out) => {
        // A thread that was restarted has its earlier run's counts too: one series per thread number.
        const byThread = new Map<number, number>([[0, this.#httpFamilies.total()]]);
        for (const t of source.snapshots()) byThread.set(t.thread, (byThread.get(t.thread) ?? 0) + t.http.series.reduce((n, s) => n + s[3], 0));
        for (const [thread, value] of byThread) out.push({ labels: { thread: String(thread) }, value });
      },
    ).registerIn(this.registry);
  }

  /** Bucket bounds of the per-model latency histogram (the HTTP worker threads use the same). */
  get latencyBuckets(): readonly number[] {
    return [...this.#latencyLayout.bounds];
  }

  // ---- exposition -------------------------------------------------------------------------------

  /** The Prometheus text exposition (format 0.0.4) of every metric in the registry. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    await this.#threads?.refresh();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
