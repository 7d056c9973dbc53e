// The cluster model: pods that become ready a startup delay after they are created, a Service that
// spreads requests evenly over the ready ones, and a first-in-first-out backlog for what they cannot
// take (behind saturated replicas, or at the activator while there are none). Per second it reports
// what each request saw and what the metrics pipelines would read.
import type { ReplicaModel } from './curve.js';

export interface ClusterOptions {
  model: ReplicaModel;
  /** Seconds from pod creation to READY (scheduling, image, process start, readiness probe). */
  startupSeconds: number;
  /** The pod's CPU request, cores (utilization = cores used / request). */
  cpuRequestCores: number;
  /** A request still waiting after this many seconds fails (the client gives up). */
  timeoutSeconds: number;
  initialReplicas: number;
}

/** Requests that completed in one second with one latency. */
export interface LatencyBucket {
  count: number;
  ms: number;
}

export interface SecondRecord {
  arrivals: number;
  served: number;
  failed: number;
  ready: number;
  pods: number;
  latencies: LatencyBucket[];
  /** Mean CPU utilization of the ready pods, % of the request. */
  cpuPercent: number;
  /** Sum over the requests served of their batcher queue time, µs (for queue time per request). */
  queueUsTotal: number;
  /** Requests waiting at the activator (no ready pod). */
  pendingAtActivator: number;
}

export class Cluster {
  readonly #o: ClusterOptions;
  /** Each pod's ready time (seconds); pods are kept oldest first. */
  #pods: number[];
  /**
   * Waiting requests by arrival second, oldest first. `held`: they arrived while no pod was ready and
   * wait at the activator, where the server's batcher queue time does not count them.
   */
  readonly #backlog: Array<{ t: number; count: number; held: boolean }> = [];

  constructor(options: ClusterOptions) {
    this.#o = options;
    this.#pods = Array.from({ length: options.initialReplicas }, () => -Infinity);
  }

  get pods(): number {
    return this.#pods.length;
  }

  ready(t: number): number {
    return this.#pods.filter((r) => r <= t).length;
  }

  /** Scales to `n` pods at time `t`: new ones start now; removals take pods not yet ready first, then the newest. */
  setReplicas(t: number, n: number): void {
    if (n > this.#pods.length) {
      for (let i = this.#pods.length; i < n; i++) this.#pods.push(t + this.#o.startupSeconds);
    } else if (n < this.#pods.length) {
      const starting = this.#pods.filter((r) => r > t);
      const ready = this.#pods.filter((r) => r <= t);
      let drop = this.#pods.length - n;
      const keptStarting = starting.slice(0, Math.max(0, starting.length - drop));
      drop -= starting.length - keptStarting.length;
      this.#pods = [...ready.slice(0, ready.length - drop), ...keptStarting];
    }
  }

  /** One second: `arrivals` requests arrive at time t. */
  step(t: number, arrivals: number): SecondRecord {
    const { model, cpuRequestCores, timeoutSeconds } = this.#o;
    const ready = this.ready(t);
    const latencies: LatencyBucket[] = [];
    let served = 0;
    let failed = 0;
    let queueUsTotal = 0;
    let cpuPercent = 0;
    const waiting = this.#backlog.reduce((n, b) => n + b.count, 0);
    const stableCapacity = ready * model.stableRps;
    if (ready > 0 && waiting === 0 && arrivals <= stableCapacity) {
      // Within the measured curve: every request sees the replica at its share of the load.
      const state = model.at(arrivals / ready);
      served = arrivals;
      if (arrivals > 0) latencies.push({ count: arrivals, ms: state.p99Ms });
      queueUsTotal = state.queueUs * arrivals;
      cpuPercent = (100 * state.cpuCores) / cpuRequestCores;
    } else {
      // Saturated (or no replica): the replicas serve at capacity, oldest requests first.
      this.#backlog.push({ t, count: arrivals, held: ready === 0 });
      let capacity = ready * model.capacityRps;
      const base = model.at(model.stableRps);
      while (capacity > 0 && this.#backlog.length) {
        const head = this.#backlog[0]!;
        const take = Math.min(head.count, capacity);
        const waitS = t - head.t;
        latencies.push({ count: take, ms: base.p99Ms + waitS * 1000 });
        queueUsTotal += take * (base.queueUs + (head.held ? 0 : waitS * 1e6));
        served += take;
        capacity -= take;
        head.count -= take;
        if (head.count <= 1e-9) this.#backlog.shift();
      }
      if (ready > 0) cpuPercent = (100 * model.saturatedCores) / cpuRequestCores;
    }
    // Requests that waited too long give up.
    while (this.#backlog.length && t - this.#backlog[0]!.t >= timeoutSeconds) failed += this.#backlog.shift()!.count;
    const pending = this.#backlog.reduce((n, b) => n + b.count, 0);
    return {
      arrivals,
      served,
      failed,
      ready,
      pods: this.#pods.length,
      latencies,
      cpuPercent,
      queueUsTotal,
      pendingAtActivator: ready === 0 ? pending : 0,
    };
  }
}
