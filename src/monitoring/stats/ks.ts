// The two-sample Kolmogorov–Smirnov test: the largest distance between two empirical CDFs, and its
// p-value from Kolmogorov's limiting distribution with Stephens' small-sample correction (the
// asymptotic form SciPy's ks_2samp uses for large samples). npm has one-sample KS only.

export interface KsResult {
  /** D: the largest absolute difference between the two empirical CDFs (0..1). */
  statistic: number;
  /** P(D ≥ observed) when both samples come from one continuous distribution. */
  pValue: number;
}

/**
 * D for two ascending samples. Ties (within and across samples) are stepped over together, so that
 * discrete data gives the distance between the true step functions, not an artefact of the order.
 */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return 0;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = a[i]! <= b[j]! ? a[i]! : b[j]!;
    while (i < n && a[i]! <= x) i++;
    while (j < m && b[j]! <= x) j++;
    const gap = Math.abs(i / n - j / m);
    if (gap > d) d = gap;
  }
  return d;
}

/**
 * Q(λ) = P(K > λ) for Kolmogorov's distribution K. Two series: the alternating one converges fast for
 * large λ, the theta-function form for small λ (where the alternating one needs many terms).
 */
export function kolmogorovQ(lambda: number): number {
  if (!(lambda > 0)) return 1;
  if (lambda < 1.18) {
    // P(K ≤ λ) = √(2π)/λ · Σ_{k≥1} exp(−(2k−1)²π²/(8λ²))
    const y = Math.exp((-Math.PI * Math.PI) / (8 * lambda * lambda));
    const y8 = y ** 8;
    const cdf = (Math.sqrt(2 * Math.PI) / lambda) * y * (1 + y8 + y8 ** 3 + y8 ** 6 + y8 ** 10);
    return clamp01(1 - cdf);
  }
  // Q(λ) = 2 Σ_{k≥1} (−1)^{k−1} exp(−2k²λ²)
  const x = Math.exp(-2 * lambda * lambda);
  let sum = 0;
  let sign = 1;
  for (let k = 1; k <= 100; k++) {
    const term = x ** (k * k);
    sum += sign * term;
    if (term < 1e-16) break;
    sign = -sign;
  }
  return clamp01(2 * sum);
}

/** The two-sample test on ascending samples. Empty samples give D = 0, p = 1 (nothing to compare). */
export function ksTwoSample(a: ArrayLike<number>, b: ArrayLike<number>): KsResult {
  const statistic = ksStatistic(a, b);
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return { statistic: 0, pValue: 1 };
  const en = Math.sqrt((n * m) / (n + m));
  return { statistic, pValue: kolmogorovQ((en + 0.12 + 0.11 / en) * statistic) };
}

function clamp01(x: number): number {
  return x < 0 ? 0 : x > 1 ? 1 : x;
}
