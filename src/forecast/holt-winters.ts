// Additive Holt-Winters with a damped trend: level + trend + one seasonal cycle (a day of minutes for
// request rates). Pure: a fitted model is plain numbers, updated one observation at a time.
//
// Chosen over PromQL's holt_winters (Prometheus 2; double_exponential_smoothing in 3), which has a
// trend and no season: a daily cycle is what lets a forecast raise replicas before the morning ramp.

export interface HoltWintersParams {
  /** Level smoothing, 0 < alpha ≤ 1. */
  alpha: number;
  /** Trend smoothing, 0 ≤ beta ≤ 1. */
  beta: number;
  /** Seasonal smoothing, 0 ≤ gamma ≤ 1 (ignored without a season). */
  gamma: number;
  /** Trend damping, 0 < phi ≤ 1: the trend's contribution h steps ahead is phi + … + phi^h. */
  phi: number;
}

/** The parameter grid fit() searches: coarse on purpose (one fit of a week of minutes takes milliseconds). */
export const PARAMETER_GRID = {
  alpha: [0.05, 0.1, 0.2, 0.4, 0.7],
  beta: [0, 0.005, 0.02, 0.1],
  gamma: [0.02, 0.05, 0.1, 0.3],
  phi: [0.98],
} as const;

/**
 * Triangular weights for offsets -k..k, summing to 1: a seasonal correction is spread over the
 * neighbouring slots. With one slot per minute, each slot is seen once a day; on its own it would learn
 * that minute's noise, spread over a quarter of an hour it learns the shape of the day.
 */
export function seasonKernel(halfWidth: number): Float64Array {
  const w = Float64Array.from({ length: 2 * halfWidth + 1 }, (_, i) => halfWidth + 1 - Math.abs(i - halfWidth));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

export class HoltWinters {
  /** One slot per step of the cycle; empty when the model has no season. */
  readonly season: Float64Array;
  /** Index in `season` of the next observation's slot. */
  position = 0;
  readonly #kernel: Float64Array;

  constructor(
    readonly params: HoltWintersParams,
    public level: number,
    public trend: number,
    season: Float64Array,
    /** Half-width, in slots, of the seasonal correction's spread (0: classical Holt-Winters). */
    readonly seasonSpread = 0,
  ) {
    this.season = season;
    this.#kernel = seasonKernel(seasonSpread);
  }

  get period(): number {
    return this.season.length;
  }

  /** The forecast `h` ≥ 1 steps after the last observation (not clamped). */
  forecast(h: number): number {
    const { phi } = this.params;
    const damp = phi === 1 ? h : (phi * (1 - phi ** h)) / (1 - phi);
    const m = this.season.length;
    const s = m === 0 ? 0 : this.season[(this.position + h - 1) % m]!;
    return this.level + damp * this.trend + s;
  }

  /**
   * Takes the next observation. NaN (a missing minute) advances the state on its own forecast, so a
   * gap neither drags the level to zero nor shifts the season.
   */
  update(x: number): void {
    const { alpha, beta, gamma, phi } = this.params;
    const m = this.season.length;
    const s = m === 0 ? 0 : this.season[this.position]!;
    const y = Number.isNaN(x) ? this.level + phi * this.trend + s : x;
    const previous = this.level;
    this.level = alpha * (y - s) + (1 - alpha) * (previous + phi * this.trend);
    this.trend = beta * (this.level - previous) + (1 - beta) * phi * this.trend;
    if (m > 0) {
      // Classical: s += gamma·(y - level - s), here spread over the neighbouring slots.
      const correction = gamma * (y - this.level - s);
      const k = this.seasonSpread;
      for (let j = -k; j <= k; j++) {
        const slot = (((this.position + j) % m) + m) % m;
        this.season[slot] = this.season[slot]! + this.#kernel[j + k]! * correction;
      }
      this.position = (this.position + 1) % m;
    }
  }

  clone(): HoltWinters {
    const copy = new HoltWinters(this.params, this.level, this.trend, Float64Array.from(this.season), this.seasonSpread);
    copy.position = this.position;
    return copy;
  }
}

export interface FitResult {
  model: HoltWinters;
  /** Mean squared error of the scored forecasts (after the first cycle). */
  mse: number;
  /** The period actually used: `period`, or 0 when the series is shorter than two cycles. */
  period: number;
}

/** Mean of the finite values in xs[from, to), or NaN when there are none. */
function meanOf(xs: ArrayLike<number>, from: number, to: number): number {
  let sum = 0;
  let n = 0;
  for (let i = from; i < to; i++) {
    const v = xs[i]!;
    if (Number.isFinite(v)) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? NaN : sum / n;
}

/**
 * The starting state from the first two cycles (classical decomposition): level = mean of cycle 1,
 * trend = difference of the cycle means per step, season = each slot's mean deviation from its cycle's
 * mean. Without a season: level = first value, trend = 0.
 */
export function initialState(series: ArrayLike<number>, period: number, params: HoltWintersParams, seasonSpread = 0): HoltWinters {
  if (period === 0) {
    let first = 0;
    for (let i = 0; i < series.length; i++) {
      if (Number.isFinite(series[i]!)) {
        first = series[i]!;
        break;
      }
    }
    return new HoltWinters(params, first, 0, new Float64Array(0));
  }
  const mean1 = meanOf(series, 0, period);
  const mean2 = meanOf(series, period, 2 * period);
  const m1 = Number.isNaN(mean1) ? (Number.isNaN(mean2) ? 0 : mean2) : mean1;
  const m2 = Number.isNaN(mean2) ? m1 : mean2;
  const season = new Float64Array(period);
  for (let i = 0; i < period; i++) {
    const a = series[i]!;
    const b = series[i + period]!;
    const devs = [Number.isFinite(a) ? a - m1 : NaN, Number.isFinite(b) ? b - m2 : NaN].filter((d) => !Number.isNaN(d));
    season[i] = devs.length ? devs.reduce((x, y) => x + y, 0) / devs.length : 0;
  }
  return new HoltWinters(params, m1, (m2 - m1) / period, smoothCircular(season, seasonSpread), seasonSpread);
}

/** `xs` smoothed with seasonKernel(halfWidth), wrapping around (a day's end meets the next day's start). */
function smoothCircular(xs: Float64Array, halfWidth: number): Float64Array {
  if (halfWidth === 0) return xs;
  const kernel = seasonKernel(halfWidth);
  const m = xs.length;
  return xs.map((_, i) => {
    let v = 0;
    for (let j = -halfWidth; j <= halfWidth; j++) v += kernel[j + halfWidth]! * xs[(((i + j) % m) + m) % m]!;
    return v;
  });
}

export interface FitOptions {
  /** Half-width of the seasonal spread, in steps (default defaultSeasonSpread(period)). */
  seasonSpread?: number;
  /** The forecast distance, in steps, whose error is minimised (default defaultScoreHorizon(period)). */
  scoreHorizon?: number;
}

/** Steps between two yields of a search: about a millisecond of work. */
const STEPS_PER_YIELD = 2048;

/**
 * Runs `params` over the series from its initial state; returns the model after the last point and
 * the mean squared error of the forecasts made `scoreHorizon` steps ahead (scored after the first cycle).
 * Yields every STEPS_PER_YIELD steps, so a caller can give the event loop a turn.
 */
export function* runSteps(series: ArrayLike<number>, period: number, params: HoltWintersParams, options: FitOptions = {}): Generator<void, { model: HoltWinters; mse: number }> {
  const model = initialState(series, period, params, options.seasonSpread ?? 0);
  const k = options.scoreHorizon ?? 1;
  const scoreFrom = Math.max(period, 1) + k - 1;
  // Before x[t] is seen, forecast(k) is the forecast of x[t + k - 1]; it waits in ahead[(t + k - 1) % k].
  const ahead = new Float64Array(k);
  let sse = 0;
  let n = 0;
  for (let t = 0; t < series.length; t++) {
    const x = series[t]!;
    ahead[(t + k - 1) % k] = model.forecast(k);
    if (t >= scoreFrom && Number.isFinite(x)) {
      const e = x - ahead[t % k]!;
      sse += e * e;
      n++;
    }
    model.update(x);
    if (t % STEPS_PER_YIELD === STEPS_PER_YIELD - 1) yield;
  }
  return { model, mse: n === 0 ? 0 : sse / n };
}

/** runSteps() to the end, without yielding. */
export function run(series: ArrayLike<number>, period: number, params: HoltWintersParams, options: FitOptions = {}): { model: HoltWinters; mse: number } {
  const steps = runSteps(series, period, params, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** A spread of 1/200 of the cycle on each side: ±7 minutes of a day, none for short cycles. */
export function defaultSeasonSpread(period: number): number {
  return Math.floor(period / 200);
}

/**
 * Score forecasts 1/96 of the cycle ahead (15 minutes of a day): scaling acts minutes ahead, and the
 * one-step error alone favours parameters that chase the last point (a high alpha) and drift after.
 */
export function defaultScoreHorizon(period: number): number {
  return Math.max(1, Math.round(period / 96));
}

/**
 * The grid search behind fit(), yielding about every millisecond of work: a caller that must not
 * block (the server's event loop) gives the loop a turn at each yield.
 */
export function* fitSearch(series: ArrayLike<number>, period: number, options: FitOptions = {}): Generator<void, FitResult> {
  if (!Number.isInteger(period) || period < 0) throw new RangeError(`period must be a non-negative integer, got ${period}`);
  const used = period > 0 && series.length >= 2 * period ? period : 0;
  const runOptions = {
    seasonSpread: used === 0 ? 0 : (options.seasonSpread ?? defaultSeasonSpread(period)),
    scoreHorizon: options.scoreHorizon ?? defaultScoreHorizon(period),
  };
  let best: { model: HoltWinters; mse: number } | undefined;
  for (const alpha of PARAMETER_GRID.alpha) {
    for (const beta of PARAMETER_GRID.beta) {
      for (const gamma of used === 0 ? [0] : PARAMETER_GRID.gamma) {
        for (const phi of PARAMETER_GRID.phi) {
          const candidate = yield* runSteps(series, used, { alpha, beta, gamma, phi }, runOptions);
          if (!best || candidate.mse < best.mse) best = candidate;
        }
      }
    }
  }
  return { ...best!, period: used };
}

/**
 * Fits the model to `series` (oldest first, NaN for missing steps) by grid search over PARAMETER_GRID,
 * minimising the error of forecasts a little ahead (FitOptions). With fewer than two full cycles the season is left out (Holt's
 * damped trend): a season cannot be told from noise on less.
 */
export function fit(series: ArrayLike<number>, period: number, options: FitOptions = {}): FitResult {
  const search = fitSearch(series, period, options);
  for (;;) {
    const step = search.next();
    if (step.done) return step.value;
  }
}
