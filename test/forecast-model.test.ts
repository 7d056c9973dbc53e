// The forecasting core, pure: Holt-Winters with daily seasonality, the step history, the capacity
// estimate and the replica recommendation.
import { describe, expect, it } from 'vitest';
import {
  CapacityEstimator,
  CounterDelta,
  fit,
  HoltWinters,
  parseDuration,
  parseHorizons,
  RateForecaster,
  recommendedReplicas,
  run,
  seasonKernel,
  StepHistory,
} from '../src/forecast/index.js';
import { mulberry32 } from '../src/onnx/builder.js';

const DAY = 1440;

/** A diurnal request rate: base + amplitude·(a day-long bump), minute by minute, plus a trend. */
function diurnal(days: number, { base = 50, amplitude = 400, trendPerDay = 0, noise = 0, seed = 1 } = {}): Float64Array {
  const random = mulberry32(seed);
  const out = new Float64Array(days * DAY);
  for (let t = 0; t < out.length; t++) {
    const phase = (2 * Math.PI * (t % DAY)) / DAY;
    const shape = Math.max(0, Math.sin(phase - Math.PI / 2)) ** 2; // quiet night, peak mid-afternoon
    const gauss = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    out[t] = Math.max(0, base + amplitude * shape + (trendPerDay * t) / DAY + noise * gauss);
  }
  return out;
}

describe('Holt-Winters', () => {
  it('computes the additive damped update and forecast by hand on a period-2 example', () => {
    const m = new HoltWinters({ alpha: 0.5, beta: 0.5, gamma: 0.5, phi: 1 }, 10, 1, Float64Array.from([2, -2]));
    expect(m.forecast(1)).toBe(13); // 10 + 1 + 2
    expect(m.forecast(2)).toBe(10); // 10 + 2 - 2
    m.update(15);
    // level = .5(15-2) + .5(10+1) = 12; trend = .5(12-10) + .5·1 = 1.5; season[0] = .5(15-12) + .5·2 = 2.5
    expect(m.level).toBe(12);
    expect(m.trend).toBe(1.5);
    expect([...m.season]).toEqual([2.5, -2]);
    expect(m.position).toBe(1);
    expect(m.forecast(1)).toBe(11.5); // 12 + 1.5 - 2
  });

  it('damps the trend: phi + … + phi^h instead of h', () => {
    const m = new HoltWinters({ alpha: 0.5, beta: 0.5, gamma: 0, phi: 0.5 }, 0, 8, new Float64Array(0));
    expect(m.forecast(1)).toBe(4);
    expect(m.forecast(2)).toBe(6);
    expect(m.forecast(3)).toBe(7);
  });

  it('forecasts a clean daily cycle with a trend an hour ahead within 1 % of its amplitude', () => {
    const series = diurnal(4, { trendPerDay: 20 });
    const history = series.subarray(0, 3 * DAY + 600);
    const { model, period } = fit(history, DAY);
    expect(period).toBe(DAY);
    for (const h of [1, 15, 60]) {
      expect(Math.abs(model.forecast(h) - series[history.length + h - 1]!)).toBeLessThan(4);
    }
  });

  it('tracks the true rate of noisy traffic better than the same model without a season (seed 7, bound 0.7×)', () => {
    const truth = diurnal(5);
    const series = diurnal(5, { noise: 25, seed: 7 });
    const train = series.subarray(0, 4 * DAY);
    for (const h of [15, 60]) {
      const seasonal = fit(train, DAY).model;
      const flat = fit(train, 0).model;
      let errSeasonal = 0;
      let errFlat = 0;
      for (let t = 4 * DAY; t < 5 * DAY - h; t++) {
        errSeasonal += Math.abs(seasonal.forecast(h) - truth[t + h - 1]!);
        errFlat += Math.abs(flat.forecast(h) - truth[t + h - 1]!);
        seasonal.update(series[t]!);
        flat.update(series[t]!);
      }
      expect(errSeasonal).toBeLessThan(0.7 * errFlat);
    }
  });

  it('spreads a seasonal correction over neighbouring slots (weights sum to 1)', () => {
    expect([...seasonKernel(0)]).toEqual([1]);
    const k = seasonKernel(2);
    expect([...k].map((w) => w * 9)).toEqual([1, 2, 3, 2, 1].map((x) => expect.closeTo(x, 12)));
    const m = new HoltWinters({ alpha: 0, beta: 0, gamma: 1, phi: 1 }, 0, 0, new Float64Array(6), 1);
    m.update(4); // correction 4 on slot 0, spread 1:2:1 over slots 5, 0, 1
    expect([...m.season]).toEqual([2, 1, 0, 0, 0, 1]);
  });

  it('leaves the season out with less than two cycles of history', () => {
    const { model, period } = fit(diurnal(1).subarray(0, DAY + 100), DAY);
    expect(period).toBe(0);
    expect(model.period).toBe(0);
  });

  it('rides over missing steps (NaN) without dragging the level to zero', () => {
    const series = diurnal(3);
    const withGap = Float64Array.from(series);
    withGap.fill(NaN, 2 * DAY + 700, 2 * DAY + 760); // an hour at the peak missing
    const { model } = fit(withGap.subarray(0, 2 * DAY + 800), DAY);
    expect(Math.abs(model.forecast(1) - series[2 * DAY + 800]!)).toBeLessThan(10);
  });

  it('picks the parameters with the least one-step error', () => {
    const series = diurnal(3, { noise: 10, seed: 3 });
    const best = fit(series, DAY);
    const other = run(series, DAY, { alpha: 0.7, beta: 0.1, gamma: 0.3, phi: 0.98 });
    expect(best.mse).toBeLessThanOrEqual(other.mse);
    expect(() => fit(series, -1)).toThrow(/period/);
  });
});

describe('StepHistory and CounterDelta', () => {
  it('keeps the newest values in order, fills skipped steps with NaN and ignores old steps', () => {
    const h = new StepHistory(4);
    h.put(10, 1);
    h.put(11, 2);
    h.put(14, 5); // 12 and 13 missing
    expect([...h.values()]).toEqual([2, NaN, NaN, 5]);
    h.put(14, 99);
    h.put(3, 99);
    expect(h.lastStep).toBe(14);
    h.put(15, 6);
    expect([...h.values()]).toEqual([NaN, NaN, 5, 6]);
    expect(() => new StepHistory(0)).toThrow(RangeError);
  });

  it('turns counter samples into increments and treats a decrease as a reset', () => {
    const d = new CounterDelta();
    expect(d.next(100)).toBeUndefined();
    expect(d.next(160)).toBe(60);
    expect(d.next(20)).toBe(20);
  });
});

describe('capacity and recommendation', () => {
  it('estimates requests per busy second from loaded steps only', () => {
    const c = new CapacityEstimator({ minBusyShare: 0.5, window: 2 });
    c.observe(600, 6, 60); // 10 % busy: ignored
    expect(c.estimate()).toBeUndefined();
    c.observe(30_000, 40, 60); // 750 req/s of execution
    c.observe(36_000, 45, 60); // 800
    expect(c.estimate()).toBeCloseTo(66_000 / 85, 9);
    c.observe(50_000, 50, 60); // 1000: the oldest loaded step leaves the window
    expect(c.estimate()).toBeCloseTo(86_000 / 95, 9);
  });

  it('recommends ceil(rate / (capacity · utilization)) replicas, 0 below 0.2 % of a replica', () => {
    expect(recommendedReplicas(0, 100, 0.7)).toBe(0);
    expect(recommendedReplicas(0.19, 100, 0.7)).toBe(0);
    expect(recommendedReplicas(0.2, 100, 0.7)).toBe(1);
    expect(recommendedReplicas(1, 100, 0.7)).toBe(1);
    expect(recommendedReplicas(140, 100, 0.7)).toBe(2); // exactly 2 despite float noise
    expect(recommendedReplicas(141, 100, 0.7)).toBe(3);
    expect(() => recommendedReplicas(1, 0, 0.7)).toThrow(RangeError);
  });
});

describe('RateForecaster', () => {
  it('reports the peak forecast within each horizon, never negative', () => {
    const f = new RateForecaster({ period: DAY, horizons: [{ label: '5m', steps: 5 }, { label: '1h', steps: 60 }] });
    expect(f.forecast()).toEqual([]);
    const series = diurnal(3);
    // Stop in the morning ramp: the 1 h peak is well above the 5 min one.
    const until = 2 * DAY + 480;
    f.load(series.subarray(0, until), until - 1);
    expect(f.seasonal).toBe(true);
    const [five, hour] = f.forecast();
    expect(five!.horizon).toBe('5m');
    expect(hour!.peakRps).toBeGreaterThan(five!.peakRps + 50);
    expect(Math.abs(hour!.peakRps - series[until + 59]!)).toBeLessThan(10);
  });

  it('updates step by step and refits when due', () => {
    const f = new RateForecaster({ period: 10, horizons: [{ label: '1', steps: 1 }], refitEvery: 5 });
    for (let s = 0; s < 30; s++) f.put(s, 100 + (s % 10));
    expect(f.forecast()[0]!.peakRps).toBeCloseTo(100, 0); // step 30 is slot 0 of the cycle
    f.put(40, 110); // a gap of 9 steps
    expect(f.history.lastStep).toBe(40);
    expect(Number.isFinite(f.forecast()[0]!.peakRps)).toBe(true);
  });
});

describe('durations', () => {
  it('parses Prometheus-style durations and horizon lists', () => {
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('7d')).toBe(604800);
    expect(() => parseDuration('15 minutes')).toThrow(/duration such as/);
    expect(() => parseDuration('0m')).toThrow(/longer than zero/);
    expect(parseHorizons('5m, 15m,1h', 60)).toEqual([
      { label: '5m', steps: 5 },
      { label: '15m', steps: 15 },
      { label: '1h', steps: 60 },
    ]);
    expect(parseHorizons('30s', 60)).toEqual([{ label: '30s', steps: 1 }]);
    expect(() => parseHorizons('5m,5m', 60)).toThrow(/twice/);
  });
});
