// A request-rate forecaster: per-step history, a Holt-Winters model refitted now and then and updated
// every step, and the peak forecast rate within each horizon. Shared by `tensorgate serve --forecast`
// (history from the server's own counters), `tensorgate forecast` (history from Prometheus) and the
// autoscaling simulation.
import { fit, fitSearch, type FitResult, type HoltWinters } from './holt-winters.js';
import { StepHistory } from './history.js';

export interface Horizon {
  /** The `horizon` label, e.g. '15m'. */
  label: string;
  /** Steps ahead. */
  steps: number;
}

export interface ForecasterOptions {
  /** Steps per seasonal cycle: 1440 for a day of minutes. */
  period: number;
  /** Steps of history kept (default 7 cycles). */
  historySteps?: number;
  /** Refit the parameters every this many steps (default 60); in between the model only updates. */
  refitEvery?: number;
  /**
   * Refit without blocking: the grid search yields to the event loop about every millisecond, and the
   * steps that arrive meanwhile are replayed on the new model. For servers; default false.
   */
  background?: boolean;
  horizons: Horizon[];
}

export interface HorizonForecast {
  horizon: string;
  /** The highest forecast rate within the horizon (never negative). */
  peakRps: number;
}

export class RateForecaster {
  #history: StepHistory;
  readonly #period: number;
  readonly #historySteps: number;
  readonly #refitEvery: number;
  readonly #background: boolean;
  readonly #horizons: Horizon[];
  #model: HoltWinters | undefined;
  /** The step the model has seen last. */
  #modelStep: number | undefined;
  #sinceFit = 0;
  #refitting: Promise<void> | undefined;

  constructor(options: ForecasterOptions) {
    if (options.horizons.length === 0) throw new RangeError('at least one horizon is needed');
    for (const h of options.horizons) {
      if (!Number.isInteger(h.steps) || h.steps < 1) throw new RangeError(`horizon ${h.label}: at least one step ahead`);
    }
    this.#period = options.period;
    this.#historySteps = options.historySteps ?? Math.max(7 * options.period, 1440);
    this.#refitEvery = options.refitEvery ?? 60;
    this.#background = options.background ?? false;
    this.#horizons = options.horizons;
    this.#history = new StepHistory(this.#historySteps);
  }

  get history(): StepHistory {
    return this.#history;
  }

  /** Whether the fitted model has a seasonal component (two full cycles of history). */
  get seasonal(): boolean {
    return (this.#model?.period ?? 0) > 0;
  }

  /** Records the rate of `step` (an absolute step number); refits when due, else updates the model. */
  put(step: number, rps: number): void {
    const before = this.#history.lastStep;
    this.#history.put(step, rps);
    if (this.#history.lastStep === before) return; // an old step: ignored
    this.#sinceFit++;
    if (this.#model) this.#catchUp(this.#model);
    if (!this.#model || this.#sinceFit >= this.#refitEvery) {
      if (this.#background) void this.refitInBackground();
      else this.refit();
    }
  }

  /** Replaces the whole history (oldest first, NaN for missing steps) ending at `lastStep`, and refits. */
  load(values: ArrayLike<number>, lastStep: number): void {
    const history = new StepHistory(this.#historySteps);
    const from = Math.max(0, values.length - this.#historySteps);
    for (let i = from; i < values.length; i++) history.put(lastStep - (values.length - 1 - i), values[i]!);
    this.#history = history;
    this.refit();
  }

  /** Fits the parameters to the history now. */
  refit(): void {
    this.#sinceFit = 0;
    const values = this.#usable();
    this.#adopt(values && fit(values, this.#period));
  }

  /** Fits the parameters without blocking the event loop; one refit at a time. */
  refitInBackground(): Promise<void> {
    this.#refitting ??= (async () => {
      this.#sinceFit = 0;
      const values = this.#usable();
      const fittedStep = this.#history.lastStep;
      let result: FitResult | undefined;
      if (values) {
        const search = fitSearch(values, this.#period);
        for (let step = search.next(); ; step = search.next()) {
          if (step.done) {
            result = step.value;
            break;
          }
          await new Promise<void>((r) => setImmediate(r));
        }
      }
      this.#adopt(result, fittedStep);
    })().finally(() => {
      this.#refitting = undefined;
    });
    return this.#refitting;
  }

  /** The peak forecast within every horizon; empty before any history. */
  forecast(): HorizonForecast[] {
    const model = this.#model;
    if (!model) return [];
    const longest = Math.max(...this.#horizons.map((h) => h.steps));
    const peaks = new Float64Array(longest + 1);
    let peak = 0;
    for (let h = 1; h <= longest; h++) {
      peak = Math.max(peak, model.forecast(h));
      peaks[h] = peak;
    }
    return this.#horizons.map((h) => ({ horizon: h.label, peakRps: peaks[h.steps]! }));
  }

  /** The history's values, or undefined when none is a number. */
  #usable(): Float64Array | undefined {
    const values = this.#history.values();
    return values.some(Number.isFinite) ? values : undefined;
  }

  /**
   * Takes a fit whose last step is `fittedStep` (default: the history's last step) and replays what
   * arrived after it.
   */
  #adopt(result: FitResult | undefined, fittedStep = this.#history.lastStep): void {
    if (!result) {
      this.#model = undefined;
      this.#modelStep = undefined;
      return;
    }
    this.#model = result.model;
    this.#modelStep = fittedStep;
    this.#catchUp(result.model);
  }

  /** Updates `model` with every step of the history after the one it saw last (NaN for gaps). */
  #catchUp(model: HoltWinters): void {
    const last = this.#history.lastStep!;
    if (this.#modelStep === undefined || this.#modelStep >= last) return;
    const values = this.#history.values();
    const firstStep = last - values.length + 1;
    for (let s = this.#modelStep + 1; s <= last; s++) model.update(s >= firstStep ? values[s - firstStep]! : NaN);
    this.#modelStep = last;
  }
}
