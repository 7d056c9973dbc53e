// `tensorgate serve --forecast`: once a minute, the server turns its own cumulative counters (requests
// completed or failed, seconds spent executing) into a request rate for its history and a capacity
// observation, and keeps a forecast ready for the next scrape.
import { CapacityEstimator } from './capacity.js';
import type { ForecastReading } from './families.js';
import { RateForecaster, type Horizon } from './forecaster.js';
import { CounterDelta } from './history.js';

export interface InferenceTotals {
  /** Inference requests completed or failed, all models, since start. */
  requests: number;
  /** Seconds the models spent executing batches, all models, since start. */
  busySeconds: number;
}

export interface ServerForecastOptions {
  totals: () => InferenceTotals;
  horizons: Horizon[];
  /** A configured capacity (requests/s per replica) instead of the measured one. */
  capacityRps?: number;
  targetUtilization: number;
  /** Step length (default 60 s: a day is 1440 steps, the seasonal period). */
  stepSeconds?: number;
  now?: () => number;
}

export class ServerForecast {
  readonly forecaster: RateForecaster;
  readonly capacity = new CapacityEstimator();
  readonly #options: ServerForecastOptions;
  readonly #stepMs: number;
  readonly #now: () => number;
  readonly #requests = new CounterDelta();
  readonly #busy = new CounterDelta();
  #lastMs: number | undefined;
  #timers: { timeout?: NodeJS.Timeout; interval?: NodeJS.Timeout } = {};

  constructor(options: ServerForecastOptions) {
    this.#options = options;
    const stepSeconds = options.stepSeconds ?? 60;
    this.#stepMs = stepSeconds * 1000;
    this.#now = options.now ?? Date.now;
    this.forecaster = new RateForecaster({ period: Math.round(86400 / stepSeconds), horizons: options.horizons, background: true });
  }

  /**
   * Reads the counters. The first call only sets the baseline; each later one records the rate since
   * the previous call for the step that just ended (round(now / step) - 1, so timer jitter either way
   * lands on the same step).
   */
  sample(): void {
    const now = this.#now();
    const totals = this.#options.totals();
    const requests = this.#requests.next(totals.requests);
    const busy = this.#busy.next(totals.busySeconds);
    const last = this.#lastMs;
    this.#lastMs = now;
    if (requests === undefined || busy === undefined || last === undefined || now <= last) return;
    const seconds = (now - last) / 1000;
    this.forecaster.put(Math.round(now / this.#stepMs) - 1, requests / seconds);
    this.capacity.observe(requests, busy, seconds);
  }

  /** Samples now and then at every step boundary; timers do not keep the process alive. */
  start(): void {
    this.sample();
    const untilBoundary = this.#stepMs - (this.#now() % this.#stepMs);
    this.#timers.timeout = setTimeout(() => {
      this.sample();
      this.#timers.interval = setInterval(() => this.sample(), this.#stepMs).unref();
    }, untilBoundary).unref();
  }

  stop(): void {
    clearTimeout(this.#timers.timeout);
    clearInterval(this.#timers.interval);
  }

  reading(): ForecastReading {
    return {
      forecasts: this.forecaster.forecast(),
      capacityRps: this.#options.capacityRps ?? this.capacity.estimate(),
      targetUtilization: this.#options.targetUtilization,
    };
  }
}
