// One step of a sweep, as perf_analyzer measures it: load, warm up, then measurement windows until
// the last three agree (throughput and latency within --stability-percentage of their mean) or the
// trials run out; the step's figures are those three windows together, and the server's split of a
// request comes from the difference of its statistics over the same stretch.
import type { PerfOptions } from './options.js';
import type { Payload } from './inputs.js';
import { ClosedLoop, OpenLoop, type Load, type WindowResult } from './load.js';
import type { ServerCounters, Target } from './target.js';

export interface LatencySummary {
  avg: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  /** The --percentile asked for, when one was. */
  chosen: number | undefined;
}

export interface ServerSplit {
  /** Successful requests the server counted in the stretch (all clients, not only ours). */
  requests: number;
  /** Per request, µs: the whole time in the server and its parts. */
  requestUs: number;
  queueUs: number;
  computeInputUs: number;
  computeInferUs: number;
  computeOutputUs: number;
  /** requestUs minus queue and compute: the front's decode, encode and what surrounds them. */
  overheadUs: number;
  /** Rows per model execution. */
  averageBatch: number;
}

export interface StepResult {
  mode: 'concurrency' | 'rate';
  /** Outstanding requests (closed loop) or requests per second asked for (open loop). */
  level: number;
  /** Inferences (requests × batch size) per second answered. */
  throughput: number;
  requests: number;
  errors: number;
  firstError: string | undefined;
  latencyUs: LatencySummary;
  /** Client latency minus the server's own time: network, the HTTP/gRPC layers, the client. */
  networkUs: number | undefined;
  sendDelayUs: { avg: number; p99: number } | undefined;
  server: ServerSplit | undefined;
  /** The client's own CPU per request (µs): what the load generator costs. */
  clientCpuUs: number;
  stable: boolean;
  windows: number;
}

export interface StepProgress {
  (state: { window: number; maxWindows: number; fraction: number; throughput: number; warming: boolean }): void;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function summarize(sorted: Float64Array, chosen: number | undefined): LatencySummary {
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    avg: sorted.length ? sum / sorted.length : NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    chosen: chosen === undefined ? undefined : percentile(sorted, chosen),
  };
}

function merge(arrays: Float64Array[]): Float64Array {
  const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out.sort();
}

/** True when every value is within `pct` % of their mean. */
export function agree(values: number[], pct: number): boolean {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return values.every((v) => Number.isFinite(v) && Math.abs(v - mean) <= (pct / 100) * mean);
}

export function serverSplit(before: ServerCounters, after: ServerCounters): ServerSplit | undefined {
  const requests = after.success - before.success;
  if (requests <= 0) return undefined;
  const per = (a: number, b: number) => (a - b) / requests / 1000;
  const requestUs = per(after.successNs, before.successNs);
  const queueUs = per(after.queueNs, before.queueNs);
  const computeInputUs = per(after.computeInputNs, before.computeInputNs);
  const computeInferUs = per(after.computeInferNs, before.computeInferNs);
  const computeOutputUs = per(after.computeOutputNs, before.computeOutputNs);
  const executions = after.executions - before.executions;
  return {
    requests,
    requestUs,
    queueUs,
    computeInputUs,
    computeInferUs,
    computeOutputUs,
    overheadUs: Math.max(0, requestUs - queueUs - computeInputUs - computeInferUs - computeOutputUs),
    averageBatch: executions > 0 ? (after.inferences - before.inferences) / executions : 0,
  };
}

async function timed(load: Load, ms: number, tick: (fraction: number, completed: number) => void): Promise<WindowResult> {
  load.begin();
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const every = setInterval(() => {
      const fraction = (performance.now() - start) / ms;
      if (fraction >= 1) {
        clearInterval(every);
        resolve();
      } else {
        tick(fraction, load.completed);
      }
    }, Math.min(200, ms));
  });
  return load.end();
}

export async function measureStep(
  target: Target,
  payloads: readonly Payload[],
  options: PerfOptions,
  mode: 'concurrency' | 'rate',
  level: number,
  batchRows: number,
  progress: StepProgress,
): Promise<StepResult> {
  const load = mode === 'concurrency' ? new ClosedLoop(target, payloads, level) : new OpenLoop(target, payloads, level, options.distribution, options.seed, options.maxConnections);
  await load.start();
  try {
    const interval = options.measurementIntervalMs;
    if (options.warmupMs > 0) {
      await timed(load, options.warmupMs, (fraction, completed) =>
        progress({ window: 0, maxWindows: options.maxTrials, fraction, throughput: (completed * batchRows) / ((fraction * options.warmupMs) / 1000), warming: true }),
      );
    }
    const windows: WindowResult[] = [];
    const counters: Array<ServerCounters | undefined> = [await target.counters()];
    let stable = false;
    for (let trial = 1; trial <= options.maxTrials; trial++) {
      const w = await timed(load, interval, (fraction, completed) =>
        progress({ window: trial, maxWindows: options.maxTrials, fraction, throughput: (completed * batchRows) / ((fraction * interval) / 1000), warming: false }),
      );
      windows.push(w);
      counters.push(await target.counters());
      if (windows.length >= 3) {
        const last = windows.slice(-3);
        const latency = (x: WindowResult) => (options.percentile === undefined ? summarize(x.latenciesUs, undefined).avg : percentile(x.latenciesUs, options.percentile));
        if (agree(last.map((x) => x.latenciesUs.length / x.elapsedMs), options.stabilityPercentage) && agree(last.map(latency), options.stabilityPercentage)) {
          stable = true;
          break;
        }
      }
    }
    const used = windows.slice(-3);
    const latencies = merge(used.map((w) => w.latenciesUs));
    const elapsedMs = used.reduce((n, w) => n + w.elapsedMs, 0);
    const requests = latencies.length;
    const before = counters[counters.length - 1 - used.length];
    const after = counters[counters.length - 1];
    const server = before && after ? serverSplit(before, after) : undefined;
    const latencyUs = summarize(latencies, options.percentile);
    const delays = used[0]!.sendDelaysUs ? merge(used.map((w) => w.sendDelaysUs!)) : undefined;
    const errors = used.reduce((n, w) => n + w.errors, 0);
    return {
      mode,
      level,
      throughput: (requests * batchRows) / (elapsedMs / 1000),
      requests,
      errors,
      firstError: used.find((w) => w.firstError !== undefined)?.firstError,
      latencyUs,
      networkUs: server ? Math.max(0, latencyUs.avg - server.requestUs) : undefined,
      sendDelayUs: delays ? { avg: summarize(delays, undefined).avg, p99: percentile(delays, 99) } : undefined,
      server,
      clientCpuUs: requests + errors > 0 ? used.reduce((n, w) => n + w.cpuUs, 0) / (requests + errors) : NaN,
      stable,
      windows: windows.length,
    };
  } finally {
    await load.stop();
  }
}
