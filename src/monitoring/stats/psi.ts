// Population Stability Index: Σ (cur − ref) · ln(cur / ref) over the bins of a reference
// distribution. Numeric features are binned at the reference's quantiles (equal-mass bins, so every
// bin carries weight); categorical ones use their categories. Empty bins are floored at 1e-4 (as
// Evidently does) so that a category or range the other side never saw gives a large, finite score.

/** Proportions below this are raised to it before the logarithm. */
export const PSI_FLOOR = 1e-4;

/**
 * Cut points splitting an ascending sample into `bins` equal-mass bins: the k/bins quantiles for
 * k = 1 … bins−1, duplicates removed (a discrete feature gets fewer, wider bins). Bin i holds values
 * in (edge[i−1], edge[i]]; the first bin is open below and the last open above.
 */
export function quantileEdges(sorted: ArrayLike<number>, bins: number): Float64Array {
  const n = sorted.length;
  const edges: number[] = [];
  if (n === 0) return new Float64Array(0);
  for (let k = 1; k < bins; k++) {
    const e = sorted[Math.min(n - 1, Math.max(0, Math.ceil((k * n) / bins) - 1))]!;
    if (edges.length === 0 || e > edges[edges.length - 1]!) edges.push(e);
  }
  // A top edge equal to the maximum would leave the last bin empty for the reference itself.
  if (edges.length > 0 && edges[edges.length - 1]! >= sorted[n - 1]!) edges.pop();
  return Float64Array.from(edges);
}

/** The bin of `value` for cut points `edges` (edges.length + 1 bins). */
export function binOf(value: number, edges: ArrayLike<number>): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= edges[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Counts per bin of `values` (NaN excluded by the caller). */
export function binCounts(values: ArrayLike<number>, edges: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  for (let i = 0; i < values.length; i++) counts[binOf(values[i]!, edges)]!++;
  return counts;
}

/** Counts as proportions (all zero stays all zero). */
export function proportions(counts: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  const p = new Float64Array(counts.length);
  if (total > 0) for (let i = 0; i < counts.length; i++) p[i] = counts[i]! / total;
  return p;
}

/** PSI between two distributions over the same bins, given as proportions or counts. */
export function psi(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  if (reference.length !== current.length) throw new RangeError('psi: the two distributions need the same bins');
  const r = proportions(reference);
  const c = proportions(current);
  let sum = 0;
  for (let i = 0; i < r.length; i++) {
    const ri = Math.max(r[i]!, PSI_FLOOR);
    const ci = Math.max(c[i]!, PSI_FLOOR);
    sum += (ci - ri) * Math.log(ci / ri);
  }
  return sum;
}
