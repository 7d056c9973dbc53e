// What the status page shows, as JSON (GET /status): every model and its state, and per served
// version its request rate, P50/P99/P999, batch sizes, queue, cache hit ratio and drift; the route
// weights and canary progress when routes are configured; the process, the machine and the GPUs.
// Rates and windowed quantiles come from the cumulative native statistics: each snapshot keeps a
// reading, and the figures are over the last WINDOW_MS (the page polls every second). Nothing runs
// while nobody asks.
import type { NativeGpuReadings, NativeModelStats } from '../engine/binding.js';
import type { ModelMonitors } from '../monitoring/monitors.js';
import type { ServedVersion } from '../repository/index.js';
import { ROUTE_PLATFORM } from '../repository/routing-schema.js';
import { bucketQuantile, subtract } from './quantile.js';

/** Rates and windowed quantiles are over this much history. */
export const WINDOW_MS = 10_000;
/** A rate needs at least this much between its two readings. */
const MIN_SPAN_MS = 500;

export interface LatencyQuantiles {
  p50_ms: number | null;
  p99_ms: number | null;
  p999_ms: number | null;
}

export interface VersionStatus {
  version: string;
  /** Requests per second that completed successfully, and that failed, over the window (null until two readings). */
  rps: number | null;
  errors_per_s: number | null;
  latency: LatencyQuantiles;
  /** Since load: the same quantiles over every request. */
  latency_total: LatencyQuantiles;
  batch: { mean: number | null; sizes: Record<string, number> };
  queue: { mean_ms: number | null; pending: number | null; inflight: number };
  cache: { hit_ratio: number | null } | null;
  drift: { state: 'learning' | 'monitoring'; detected: boolean; features_drifted: number; features: number } | null;
}

export interface ModelStatus {
  name: string;
  /** A route runs no model of its own: its traffic shows under routes, and at its targets. */
  kind: 'model' | 'route';
  state: string;
  reason?: string;
  versions: VersionStatus[];
}

/** A route's traffic split and canary (filled by the routing layer when it has routes). */
export interface RouteStatus {
  name: string;
  targets: Array<{ target: string; weight: number }>;
  canary?: { target: string; state: string; weight: number; step?: number; steps?: number };
}

export interface StatusSnapshot {
  at: number;
  server: {
    version: string;
    uptime_s: number;
    ready: boolean;
    draining: boolean;
    tracing: { level: string; rate: string } | null;
    cache: { l2: string } | null;
  };
  process: { cpu: number | null; rss_bytes: number; heap_used_bytes: number };
  machine: { cpu_utilization: number | null; memory_used_bytes: number | null; memory_total_bytes: number | null };
  gpus: Array<{ uuid: string; name: string; utilization: number; memory_used_bytes: number; memory_total_bytes: number; power_watts: number }>;
  models: ModelStatus[];
  routes: RouteStatus[];
}

export interface StatusSources {
  version: string;
  models(): Array<{ name: string; version?: string; state: string; reason?: string }>;
  served(): ServedVersion[];
  ready(): boolean;
  draining(): boolean;
  cacheStats?(servedKey: string): { hits: { count: number }; misses: { count: number } } | undefined;
  cacheL2State?(): string | undefined;
  monitors?: ModelMonitors;
  tracing?(): { trace_level: string[]; trace_rate: string } | undefined;
  cpuUtilization?(): number | undefined;
  memory?(): { total: number; used: number } | undefined;
  gpus?(): NativeGpuReadings | undefined;
  routes?(): RouteStatus[];
}

interface Reading {
  at: number;
  stats: NativeModelStats;
  hits: number;
  misses: number;
}

const ms = (s: number | undefined): number | null => (s === undefined ? null : Number((s * 1e3).toPrecision(4)));

function quantiles(counts: readonly number[]): LatencyQuantiles {
  return { p50_ms: ms(bucketQuantile(counts, 0.5)), p99_ms: ms(bucketQuantile(counts, 0.99)), p999_ms: ms(bucketQuantile(counts, 0.999)) };
}

export class StatusTracker {
  readonly #sources: StatusSources;
  readonly #readings = new Map<string, Reading[]>();
  #cpu: { at: number; usage: NodeJS.CpuUsage; value: number | null } = { at: performance.now(), usage: process.cpuUsage(), value: null };

  constructor(sources: StatusSources) {
    this.#sources = sources;
  }

  snapshot(): StatusSnapshot {
    const s = this.#sources;
    const now = Date.now();
    const served = s.served();
    const byName = new Map<string, VersionStatus[]>();
    const seen = new Set<string>();
    const routes = new Set<string>();
    for (const v of served) {
      if (v.platform === ROUTE_PLATFORM) {
        routes.add(v.name);
        continue;
      }
      seen.add(v.key);
      const list = byName.get(v.name) ?? [];
      list.push(this.#version(v, now));
      byName.set(v.name, list);
    }
    for (const key of this.#readings.keys()) if (!seen.has(key)) this.#readings.delete(key);
    const models = new Map<string, ModelStatus>();
    for (const entry of s.models()) {
      const m = models.get(entry.name) ?? { name: entry.name, kind: routes.has(entry.name) ? 'route' : 'model', state: entry.state, versions: byName.get(entry.name) ?? [] };
      // The index lists versions: the model is READY when one is.
      if (entry.state === 'READY' || !models.has(entry.name)) {
        m.state = entry.state;
        if (entry.reason !== undefined) m.reason = entry.reason;
        else delete m.reason;
      }
      models.set(entry.name, m);
    }
    for (const list of byName.values()) list.sort((a, b) => Number(b.version) - Number(a.version));
    const trace = s.tracing?.();
    const mem = process.memoryUsage();
    const machineMemory = s.memory?.();
    const gpus = s.gpus?.();
    const l2 = s.cacheL2State?.();
    return {
      at: now,
      server: {
        version: s.version,
        uptime_s: Math.round(process.uptime()),
        ready: s.ready(),
        draining: s.draining(),
        tracing: trace ? { level: trace.trace_level.join(','), rate: trace.trace_rate } : null,
        cache: l2 !== undefined ? { l2 } : null,
      },
      process: { cpu: this.#processCpu(), rss_bytes: mem.rss, heap_used_bytes: mem.heapUsed },
      machine: { cpu_utilization: s.cpuUtilization?.() ?? null, memory_used_bytes: machineMemory?.used ?? null, memory_total_bytes: machineMemory?.total ?? null },
      gpus: gpus?.available
        ? gpus.devices.map((d) => ({ uuid: d.uuid, name: d.name, utilization: d.utilization, memory_used_bytes: d.memoryUsedBytes, memory_total_bytes: d.memoryTotalBytes, power_watts: d.powerWatts }))
        : [],
      models: [...models.values()].sort((a, b) => a.name.localeCompare(b.name)),
      routes: s.routes?.() ?? [],
    };
  }

  #version(v: ServedVersion, now: number): VersionStatus {
    const stats = v.model.stats();
    const cacheStats = v.config.response_cache?.enable ? this.#sources.cacheStats?.(v.key) : undefined;
    const reading: Reading = { at: now, stats, hits: cacheStats?.hits.count ?? 0, misses: cacheStats?.misses.count ?? 0 };
    const history = this.#readings.get(v.key) ?? [];
    while (history.length > 1 && now - history[1]!.at >= WINDOW_MS) history.shift();
    const base = history.find((r) => now - r.at >= MIN_SPAN_MS);
    // Many pollers: keep one reading per 100 ms, so the history stays small.
    if (history.length === 0 || now - history[history.length - 1]!.at >= 100) history.push(reading);
    this.#readings.set(v.key, history);
    const span = base ? (now - base.at) / 1000 : 0;
    const delta = (f: (s: NativeModelStats) => number) => (base ? f(stats) - f(base.stats) : undefined);
    const ok = delta((s) => s.success.count);
    const failed = delta((s) => s.fail.count);
    const window = base ? subtract(stats.histograms.request, base.stats.histograms.request) : undefined;
    const rows = delta((s) => s.inferenceCount);
    const executions = delta((s) => s.executionCount);
    const queued = delta((s) => s.queue.count);
    const queueNs = delta((s) => s.queue.ns);
    const sizes: Record<string, number> = {};
    for (const b of stats.batches) {
      const before = base?.stats.batches.find((x) => x.batchSize === b.batchSize)?.executions ?? 0;
      const n = base ? b.executions - before : b.executions;
      if (n > 0) sizes[String(b.batchSize)] = n;
    }
    const hits = base ? reading.hits - base.hits : reading.hits;
    const lookups = hits + (base ? reading.misses - base.misses : reading.misses);
    const monitor = this.#sources.monitors?.get(v);
    const evaluation = monitor?.evaluate();
    return {
      version: v.versionLabel,
      rps: ok !== undefined ? round(ok / span) : null,
      errors_per_s: failed !== undefined ? round(failed / span) : null,
      latency: window ? quantiles(window) : { p50_ms: null, p99_ms: null, p999_ms: null },
      latency_total: quantiles(stats.histograms.request),
      batch: { mean: rows !== undefined && executions ? round(rows / executions) : null, sizes },
      queue: { mean_ms: queued ? round(queueNs! / queued / 1e6) : null, pending: stats.queued ?? null, inflight: stats.pending },
      cache: cacheStats ? { hit_ratio: lookups > 0 ? round(hits / lookups) : null } : null,
      drift:
        monitor && evaluation
          ? { state: monitor.state, detected: evaluation.featuresDrifted > 0, features_drifted: evaluation.featuresDrifted, features: evaluation.featuresTotal }
          : null,
    };
  }

  /** Cores' worth of CPU this process used since the previous snapshot (1 = one full core). */
  #processCpu(): number | null {
    const now = performance.now();
    const elapsed = now - this.#cpu.at;
    if (elapsed < MIN_SPAN_MS) return this.#cpu.value;
    const usage = process.cpuUsage(this.#cpu.usage);
    const value = round((usage.user + usage.system) / 1000 / elapsed);
    this.#cpu = { at: now, usage: process.cpuUsage(), value };
    return value;
  }
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}
