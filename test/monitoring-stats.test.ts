// The drift statistics on their own: reference values from SciPy 1.17 (scipy.stats.ks_2samp,
// scipy.stats.kstwobign, scipy.spatial.distance.jensenshannon), and calibration on seeded streams.
import { describe, expect, it } from 'vitest';
import { jensenShannonDistance } from '../src/monitoring/stats/jensen-shannon.js';
import { kolmogorovQ, ksStatistic, ksTwoSample } from '../src/monitoring/stats/ks.js';
import { binCounts, psi, quantileEdges } from '../src/monitoring/stats/psi.js';
import { SlidingWindow } from '../src/monitoring/stats/window.js';
import { normal, sortedSample, uniform } from './helpers/random.js';

const asc = (xs: number[]) => Float64Array.from(xs).sort();

describe('two-sample Kolmogorov–Smirnov', () => {
  it("Kolmogorov's tail matches scipy.stats.kstwobign.sf on both sides of the series switch", () => {
    const scipy: Array<[number, number]> = [
      [0.5, 0.963945244],
      [1.0, 0.269999672],
      [1.18, 0.123453809],
      [1.5, 0.0222179626],
      [2.0, 0.000670925256],
    ];
    for (const [lambda, q] of scipy) expect(kolmogorovQ(lambda)).toBeCloseTo(q, 7);
    expect(kolmogorovQ(0)).toBe(1);
    expect(kolmogorovQ(10)).toBeLessThan(1e-80);
  });

  it('gives SciPy’s D and a p-value within 15 % of its exact one on small samples', () => {
    const a = asc([0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37, 1.77, 1.09, -1.28, 2.36, 1.31, 1.05, -0.32, -0.4, 1.06, -2.47]);
    const b = asc([2.2, 1.66, 1.38, 0.2, 0.36, 0.0, 0.96, 1.56, 0.44, 1.5, -0.23, 1.01, 0.6, 0.64, -0.85, 1.49, 1.03, 0.85, 0.66, 2.1, 1.8, 0.96, 1.28, 1.86]);
    const r = ksTwoSample(a, b);
    expect(r.statistic).toBeCloseTo(0.39, 12); // scipy: 0.39
    expect(Math.abs(r.pValue - 0.032869442642584394) / 0.032869442642584394).toBeLessThan(0.15); // scipy exact
    expect(ksTwoSample(b, a).statistic).toBe(r.statistic);
  });

  it('steps over ties together: discrete samples compare as step functions', () => {
    expect(ksStatistic(asc([0, 0, 1, 1]), asc([0, 1]))).toBe(0);
    expect(ksStatistic(asc([0, 0, 0, 1]), asc([0, 1, 1, 1]))).toBeCloseTo(0.5, 12);
    expect(ksStatistic(asc([1, 2, 3]), asc([1, 2, 3]))).toBe(0);
    expect(ksStatistic(asc([1, 2]), asc([3, 4]))).toBe(1);
    expect(ksTwoSample(new Float64Array(0), asc([1]))).toEqual({ statistic: 0, pValue: 1 });
  });

  it('holds its level under the null: seed 7, 1000 pairs of n = 200, P(p < 0.05) within [0.03, 0.07]', () => {
    const next = normal(7);
    let rejected = 0;
    for (let t = 0; t < 1000; t++) if (ksTwoSample(sortedSample(next, 200), sortedSample(next, 200)).pValue < 0.05) rejected++;
    // Binomial(1000, 0.05): sd 6.9, so ±20 is ±2.9 sd.
    expect(rejected / 1000).toBeGreaterThan(0.03);
    expect(rejected / 1000).toBeLessThan(0.07);
  });

  it('detects a 0.5 σ mean shift at n = 500: seed 11, power > 0.99 over 200 pairs', () => {
    const ref = normal(11);
    const shifted = normal(12, 0.5);
    let detected = 0;
    for (let t = 0; t < 200; t++) if (ksTwoSample(sortedSample(ref, 500), sortedSample(shifted, 500)).pValue < 0.05) detected++;
    expect(detected).toBeGreaterThanOrEqual(199);
  });
});

describe('population stability index', () => {
  it('cuts equal-mass bins at the reference quantiles, fewer for discrete data', () => {
    const ref = asc(Array.from({ length: 100 }, (_, i) => i));
    const edges = quantileEdges(ref, 10);
    expect([...edges]).toEqual([9, 19, 29, 39, 49, 59, 69, 79, 89]);
    expect([...binCounts(ref, edges)]).toEqual(Array(10).fill(10));
    const binary = asc([...Array(50).fill(0), ...Array(50).fill(1)]);
    expect([...quantileEdges(binary, 10)]).toEqual([0]);
    expect([...binCounts(binary, quantileEdges(binary, 10))]).toEqual([50, 50]);
  });

  it('is Σ (c − r) ln(c / r), zero for equal distributions, with empty bins floored at 1e-4', () => {
    expect(psi([0.25, 0.25, 0.5], [0.25, 0.25, 0.5])).toBe(0);
    const hand = (0.3 - 0.2) * Math.log(0.3 / 0.2) + (0.7 - 0.8) * Math.log(0.7 / 0.8);
    expect(psi([2, 8], [3, 7])).toBeCloseTo(hand, 12); // counts normalise to proportions
    expect(psi([1, 0], [0.5, 0.5])).toBeCloseTo((0.5 - 1) * Math.log(0.5) + (0.5 - 1e-4) * Math.log(0.5 / 1e-4), 12);
    expect(() => psi([1], [1, 2])).toThrow(/same bins/);
  });

  it('stays under 0.1 without shift and crosses 0.1 at a 0.5 σ shift: seed 3, 10 bins, 1000 vs 1000, 100 trials', () => {
    const ref = sortedSample(normal(3), 1000);
    const edges = quantileEdges(ref, 10);
    const refCounts = binCounts(ref, edges);
    const same = normal(4);
    const moved = normal(5, 0.5);
    let maxNull = 0;
    let minShift = Infinity;
    for (let t = 0; t < 100; t++) {
      maxNull = Math.max(maxNull, psi(refCounts, binCounts(sortedSample(same, 1000), edges)));
      minShift = Math.min(minShift, psi(refCounts, binCounts(sortedSample(moved, 1000), edges)));
    }
    // Expected PSI without shift ≈ (bins − 1)(1/n + 1/m) = 0.018; a 0.5 σ shift of a normal ≈ 0.2.
    expect(maxNull).toBeLessThan(0.06);
    expect(minShift).toBeGreaterThan(0.1);
  });
});

describe('Jensen–Shannon distance', () => {
  it('matches scipy.spatial.distance.jensenshannon (natural log)', () => {
    expect(jensenShannonDistance([0.1, 0.2, 0.7], [0.3, 0.3, 0.4])).toBeCloseTo(0.22784261945058354, 12);
    expect(jensenShannonDistance([1, 0], [0, 1])).toBeCloseTo(0.8325546111576977, 12); // √ln 2
    expect(jensenShannonDistance([3, 3, 4], [30, 30, 40])).toBeCloseTo(0, 12);
  });
});

describe('sliding window', () => {
  it('keeps the last `capacity` values', () => {
    const w = new SlidingWindow(3);
    for (const v of [5, 1, 4, 2, 3]) w.push(v);
    expect(w.size).toBe(3);
    expect([...w.sorted()]).toEqual([2, 3, 4]);
    w.clear();
    expect(w.size).toBe(0);
    const u = uniform(1);
    const big = new SlidingWindow(1000);
    for (let i = 0; i < 5000; i++) big.push(u());
    expect(big.size).toBe(1000);
  });
});
