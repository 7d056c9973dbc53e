// What the autoscalers read, derived from the cluster's per-second records the way the real pipelines
// would see them: CPU through metrics-server (a 30 s average), Prometheus series through a 15 s scrape
// and a rate over one minute (the recording rules, then KEDA or prometheus-adapter), the forecast a
// couple of minutes behind (tensorgate forecast reads the minute before last), the activator at once.
import type { SecondRecord } from './cluster.js';

export type SignalName = 'cpu-percent' | 'queue-us-per-request' | 'requests-per-capacity' | 'forecast-replicas' | 'activator-pending';

/** Seconds a Prometheus-derived value trails reality (scrape interval and rule evaluation). */
export const PROMETHEUS_LAG = 15;
/** The rate window of the recording rules. */
export const RATE_WINDOW = 60;
/** metrics-server's CPU window. */
export const CPU_WINDOW = 30;

export class Signals {
  readonly #records: SecondRecord[] = [];
  readonly #start: number;

  constructor(
    start: number,
    readonly capacityRps: number,
    /** Replicas the forecast recommends, per minute of the simulated time (from `start`). */
    readonly forecastByMinute?: Float64Array,
  ) {
    this.#start = start;
  }

  push(record: SecondRecord): void {
    this.#records.push(record);
  }

  #window(t: number, from: number, to: number): SecondRecord[] {
    const i0 = Math.max(0, t - from - this.#start);
    const i1 = Math.max(0, t - to - this.#start);
    return this.#records.slice(i0, i1);
  }

  /** The value a trigger or metric reads at time t; undefined when the series would be absent. */
  read(name: SignalName, t: number): number | undefined {
    switch (name) {
      case 'cpu-percent': {
        const w = this.#window(t, CPU_WINDOW, 0).filter((r) => r.ready > 0);
        return w.length ? w.reduce((s, r) => s + r.cpuPercent, 0) / w.length : undefined;
      }
      case 'queue-us-per-request': {
        const w = this.#window(t, RATE_WINDOW + PROMETHEUS_LAG, PROMETHEUS_LAG).filter((r) => r.ready > 0);
        if (!w.length) return undefined; // no replica: no series
        const served = w.reduce((s, r) => s + r.served, 0);
        return served > 0 ? w.reduce((s, r) => s + r.queueUsTotal, 0) / served : 0;
      }
      case 'requests-per-capacity': {
        const w = this.#window(t, RATE_WINDOW + PROMETHEUS_LAG, PROMETHEUS_LAG).filter((r) => r.ready > 0);
        if (!w.length) return undefined;
        return w.reduce((s, r) => s + r.served + r.failed, 0) / RATE_WINDOW / this.capacityRps;
      }
      case 'forecast-replicas': {
        if (!this.forecastByMinute) return undefined;
        const minute = Math.floor((t - this.#start) / 60);
        return minute >= 0 && minute < this.forecastByMinute.length ? this.forecastByMinute[minute] : undefined;
      }
      case 'activator-pending':
        return this.#records[this.#records.length - 1]?.pendingAtActivator ?? 0;
    }
  }
}
