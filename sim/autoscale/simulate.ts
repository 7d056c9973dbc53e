// One replay: a policy's controller and the cluster model, second by second, over a warm-up and the
// day; per minute the latency the requests saw (p99), the pods, and whether the SLO held.
import { Cluster, type LatencyBucket } from './cluster.js';
import { controllerFor, type Policy } from './controllers.js';
import type { ReplicaModel } from './curve.js';
import { Signals } from './signals.js';

export interface SimulationOptions {
  policy: Policy;
  model: ReplicaModel;
  /** Per-second arrival rates: the warm-up, then the day that is scored. */
  perSecond: Float64Array;
  /** Seconds at the start of `perSecond` that are not scored (the controllers settle). */
  warmupSeconds: number;
  startupSeconds: number;
  cpuRequestCores: number;
  timeoutSeconds: number;
  /** p99 latency objective per minute, ms. */
  sloMs: number;
  /** Replicas the forecast recommends, per minute of `perSecond` (for a predictive trigger). */
  forecastByMinute?: Float64Array;
}

export interface MinuteRecord {
  /** Minute of the scored day. */
  minute: number;
  arrivalsPerSecond: number;
  /** The minute's p99 latency of completed requests, ms (0 when none completed). */
  p99Ms: number;
  /** Mean pods (ready or starting) and mean ready pods over the minute. */
  pods: number;
  ready: number;
  failed: number;
  violated: boolean;
}

export interface SimulationResult {
  minutes: MinuteRecord[];
  sloViolationMinutes: number;
  /** Pods (ready or starting) × minutes over the scored day. */
  replicaMinutes: number;
  failedRequests: number;
  peakPods: number;
}

/** The `q` quantile of latency buckets weighted by their counts. */
export function weightedQuantile(buckets: LatencyBucket[], q: number): number {
  const total = buckets.reduce((n, b) => n + b.count, 0);
  if (total <= 0) return 0;
  const sorted = [...buckets].sort((a, b) => a.ms - b.ms);
  let seen = 0;
  for (const b of sorted) {
    seen += b.count;
    if (seen >= q * total) return b.ms;
  }
  return sorted[sorted.length - 1]!.ms;
}

export function simulate(o: SimulationOptions): SimulationResult {
  const initial = o.policy.kind === 'hpa' ? o.policy.hpa.minReplicas : Math.max(1, o.policy.minReplicaCount);
  const cluster = new Cluster({
    model: o.model,
    startupSeconds: o.startupSeconds,
    cpuRequestCores: o.cpuRequestCores,
    timeoutSeconds: o.timeoutSeconds,
    initialReplicas: initial,
  });
  const signals = new Signals(0, o.model.capacityRps, o.forecastByMinute);
  const controller = controllerFor(o.policy);
  const minutes: MinuteRecord[] = [];
  let bucket: LatencyBucket[] = [];
  let acc = { arrivals: 0, pods: 0, ready: 0, failed: 0 };
  let peakPods = 0;
  for (let t = 0; t < o.perSecond.length; t++) {
    controller.tick(t, cluster, signals);
    const r = cluster.step(t, o.perSecond[t]!);
    signals.push(r);
    if (t < o.warmupSeconds) continue;
    bucket.push(...r.latencies);
    acc.arrivals += r.arrivals;
    acc.pods += r.pods;
    acc.ready += r.ready;
    acc.failed += r.failed;
    peakPods = Math.max(peakPods, r.pods);
    if ((t - o.warmupSeconds) % 60 === 59) {
      const p99Ms = weightedQuantile(bucket, 0.99);
      minutes.push({
        minute: minutes.length,
        arrivalsPerSecond: acc.arrivals / 60,
        p99Ms,
        pods: acc.pods / 60,
        ready: acc.ready / 60,
        failed: acc.failed,
        violated: p99Ms > o.sloMs || acc.failed >= 1,
      });
      bucket = [];
      acc = { arrivals: 0, pods: 0, ready: 0, failed: 0 };
    }
  }
  return {
    minutes,
    sloViolationMinutes: minutes.filter((m) => m.violated).length,
    replicaMinutes: minutes.reduce((n, m) => n + m.pods, 0),
    failedRequests: minutes.reduce((n, m) => n + m.failed, 0),
    peakPods,
  };
}
