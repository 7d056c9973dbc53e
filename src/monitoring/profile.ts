// Reference profiles: what a feature looked like in the reference data. Numeric: the sorted sample
// (for KS, when samples were given or learned), equal-mass bins with their counts (PSI), the range
// (out-of-range checks) and the mean. Categorical: the count of every category seen.
import { binCounts, quantileEdges } from './stats/psi.js';
import type { CategoryCountsInput, NumericBinsInput } from './reference-file.js';

export interface NumericProfile {
  readonly kind: 'numeric';
  readonly rows: number;
  /** Ascending reference sample; undefined for precomputed bins (no KS then). */
  readonly sorted: Float64Array | undefined;
  readonly edges: Float64Array;
  readonly counts: Float64Array;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly mean: number | undefined;
}

export interface CategoricalProfile {
  readonly kind: 'categorical';
  readonly rows: number;
  /** Category -> its index in `names` and `counts`. */
  readonly index: ReadonlyMap<string, number>;
  readonly names: readonly string[];
  readonly counts: Float64Array;
}

export type FeatureProfile = NumericProfile | CategoricalProfile;

/** Categories tracked per feature; rarer ones beyond this count as unseen. */
export const MAX_CATEGORIES = 1000;

/** A numeric profile from finite sample values (any order). */
export function numericFromSamples(values: ArrayLike<number>, bins: number): NumericProfile {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const edges = quantileEdges(sorted, bins);
  return {
    kind: 'numeric',
    rows: n,
    sorted,
    edges,
    counts: binCounts(sorted, edges),
    min: n ? sorted[0] : undefined,
    max: n ? sorted[n - 1] : undefined,
    mean: n ? sum / n : undefined,
  };
}

/** A numeric profile from precomputed bins (validated by the reference file's schema). */
export function numericFromBins(bins: NumericBinsInput): NumericProfile {
  const counts = Float64Array.from(bins.counts);
  return {
    kind: 'numeric',
    rows: counts.reduce((a, b) => a + b, 0),
    sorted: undefined,
    edges: Float64Array.from(bins.edges),
    counts,
    min: bins.min,
    max: bins.max,
    mean: undefined,
  };
}

/** A categorical profile from counts per category. */
export function categoricalFromCounts(counts: ReadonlyMap<string, number> | CategoryCountsInput['categories']): CategoricalProfile {
  const entries = (counts instanceof Map ? [...counts.entries()] : Object.entries(counts)).sort((a, b) => b[1] - a[1]).slice(0, MAX_CATEGORIES);
  const names = entries.map(([name]) => name);
  return {
    kind: 'categorical',
    rows: entries.reduce((a, [, n]) => a + n, 0),
    index: new Map(names.map((name, i) => [name, i])),
    names,
    counts: Float64Array.from(entries.map(([, n]) => n)),
  };
}
