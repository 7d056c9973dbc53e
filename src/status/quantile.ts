// Quantiles from bucket counts, the way Prometheus's histogram_quantile reads a histogram: find the
// bucket holding the rank, interpolate linearly inside it. Used on the native latency histograms
// (per-bucket counts, log-spaced bounds) for the status page's own P50/P99/P999.
import { nativeBucketBound } from '../metrics/native.js';

/**
 * The q-quantile (0 < q < 1) of values counted per bucket, bucket i holding values in
 * (bound(i − 1), bound(i)] (bucket 0 from 0). Undefined when nothing was counted.
 */
export function bucketQuantile(counts: ArrayLike<number>, q: number, bound: (i: number) => number = nativeBucketBound): number | undefined {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total <= 0) return undefined;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0 && below + c >= rank) {
      const lo = i === 0 ? 0 : bound(i - 1);
      const hi = bound(i);
      return lo + (hi - lo) * ((rank - below) / c);
    }
    below += c;
  }
  return bound(counts.length - 1);
}

/** Element-wise a − b (counts of a window: the later cumulative histogram minus the earlier). */
export function subtract(a: readonly number[], b: readonly number[] | undefined): number[] {
  return a.map((v, i) => v - (b?.[i] ?? 0));
}
