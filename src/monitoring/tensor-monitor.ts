// One watched tensor of a model version: its rows split into features, data-quality checks on every
// element (NaN, ±Inf, out of the reference range, unseen categories), the reference being learned
// from the first rows when no file gave one, then a sliding window per feature.
import type { MonitoringConfig } from './config.js';
import { categoricalDrift, numericDrift, type FeatureDrift, type Thresholds } from './detector.js';
import type { TensorPlan } from './plan.js';
import { categoricalFromCounts, numericFromSamples, type CategoricalProfile, type FeatureProfile, type NumericProfile } from './profile.js';
import { SlidingWindow } from './stats/window.js';
import { categoryOf, numericView } from './values.js';

/** A tensor as observed: its shape and data (an engine input or output tensor). */
export interface ObservedTensor {
  readonly shape: readonly number[];
  readonly data: unknown;
}

export type QualityKind = 'nan' | 'inf' | 'out_of_range' | 'unseen_category' | 'rejected';

export interface QualityCounts {
  nan: number;
  inf: number;
  out_of_range: number;
  unseen_category: number;
  rejected: number;
}

interface Learning {
  rows: number;
  numbers: number[][];
  categories: Array<Map<string, number>>;
  min: number;
  max: number;
}

export class TensorMonitor {
  readonly plan: TensorPlan;
  readonly windows: SlidingWindow[];
  readonly profiles: Array<FeatureProfile | undefined>;
  readonly quality: QualityCounts = { nan: 0, inf: 0, out_of_range: 0, unseen_category: 0, rejected: 0 };
  /** Rows observed since load (learning included). */
  rows = 0;
  /** Range bounds (tolerance applied): per feature, or [0] per element for summary-mode numeric tensors. */
  readonly #lo: Float64Array;
  readonly #hi: Float64Array;
  #learning: Learning | undefined;
  readonly #learnRows: number;
  readonly #bins: number;
  readonly #tolerance: number;

  constructor(plan: TensorPlan, config: MonitoringConfig, learnRows: number) {
    this.plan = plan;
    const n = plan.featureNames.length;
    this.windows = Array.from({ length: n }, () => new SlidingWindow(config.window_rows));
    this.profiles = plan.profiles ? [...plan.profiles] : new Array<FeatureProfile | undefined>(n).fill(undefined);
    this.#lo = new Float64Array(n).fill(-Infinity);
    this.#hi = new Float64Array(n).fill(Infinity);
    this.#learnRows = learnRows;
    this.#bins = config.psi.bins;
    this.#tolerance = config.range_tolerance;
    if (plan.profiles) this.#setRanges();
    else this.#learning = { rows: 0, numbers: Array.from({ length: n }, () => []), categories: Array.from({ length: n }, () => new Map()), min: Infinity, max: -Infinity };
  }

  get learning(): boolean {
    return this.#learning !== undefined;
  }

  get learnedRows(): number {
    return this.#learning?.rows ?? this.#learnRows;
  }

  /** Observes one tensor: every row, every element. Returns the violations it found (added to `quality`). */
  observe(tensor: ObservedTensor, found: QualityCounts): void {
    const shape = tensor.shape;
    const rows = shape.length === 0 ? 1 : shape[0]!;
    if (rows <= 0) return;
    const data = tensor.data as ArrayLike<unknown>;
    const rowLength = data.length / rows;
    const plan = this.plan;
    if (plan.mode === 'features' && rowLength !== plan.width) return; // not this model's shape: the engine refused it already
    if (plan.kind === 'numeric') {
      const values = numericView(data, plan.datatype);
      if (plan.mode === 'features') this.#numericRows(values, rows, rowLength, found);
      else this.#summaryRows(values, rows, rowLength, found);
    } else {
      this.#categoricalRows(data, rows, rowLength, found);
    }
    this.rows += rows;
  }

  #numericRows(data: ArrayLike<number>, rows: number, width: number, found: QualityCounts): void {
    const lo = this.#lo;
    const hi = this.#hi;
    for (let r = 0; r < rows; r++) {
      const learning = this.#learning;
      const base = r * width;
      for (let f = 0; f < width; f++) {
        const v = data[base + f]!;
        if (v - v !== 0) {
          if (v !== v) found.nan++;
          else found.inf++;
          continue;
        }
        if (v < lo[f]! || v > hi[f]!) found.out_of_range++;
        if (learning === undefined) this.windows[f]!.push(v);
        else learning.numbers[f]!.push(v);
      }
      if (learning !== undefined) this.#learned(learning);
    }
  }

  #summaryRows(data: ArrayLike<number>, rows: number, width: number, found: QualityCounts): void {
    const lo = this.#lo[0]!;
    const hi = this.#hi[0]!;
    for (let r = 0; r < rows; r++) {
      const learning = this.#learning;
      let n = 0;
      let sum = 0;
      let sq = 0;
      let min = Infinity;
      let max = -Infinity;
      for (let i = r * width, end = i + width; i < end; i++) {
        const v = data[i]!;
        if (v - v !== 0) {
          if (v !== v) found.nan++;
          else found.inf++;
          continue;
        }
        if (v < lo || v > hi) found.out_of_range++;
        n++;
        sum += v;
        sq += v * v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (n > 0) {
        const mean = sum / n;
        const std = Math.sqrt(Math.max(0, sq / n - mean * mean));
        if (learning === undefined) {
          this.windows[0]!.push(mean);
          this.windows[1]!.push(std);
        } else {
          learning.numbers[0]!.push(mean);
          learning.numbers[1]!.push(std);
          if (min < learning.min) learning.min = min;
          if (max > learning.max) learning.max = max;
        }
      }
      if (learning !== undefined) this.#learned(learning);
    }
  }

  #categoricalRows(data: ArrayLike<unknown>, rows: number, width: number, found: QualityCounts): void {
    const datatype = this.plan.datatype;
    const pooled = this.plan.mode === 'summary';
    for (let r = 0; r < rows; r++) {
      const learning = this.#learning;
      for (let i = 0; i < width; i++) {
        const f = pooled ? 0 : i;
        const category = categoryOf(data[r * width + i], datatype);
        if (learning !== undefined) {
          const m = learning.categories[f]!;
          m.set(category, (m.get(category) ?? 0) + 1);
          continue;
        }
        const index = (this.profiles[f] as CategoricalProfile).index.get(category);
        if (index === undefined) found.unseen_category++;
        this.windows[f]!.push(index ?? -1);
      }
      if (learning !== undefined) this.#learned(learning);
    }
  }

  /** Counts a learned row; at learn_rows the reference is built and the windows start. */
  #learned(learning: Learning): void {
    if (++learning.rows < this.#learnRows) return;
    const numeric = this.plan.kind === 'numeric';
    for (let f = 0; f < this.profiles.length; f++) {
      this.profiles[f] = numeric ? numericFromSamples(learning.numbers[f]!, this.#bins) : categoricalFromCounts(learning.categories[f]!);
    }
    this.#learning = undefined;
    this.#setRanges(learning);
  }

  #setRanges(learned?: Learning): void {
    if (this.plan.kind !== 'numeric') return;
    const widen = (min: number | undefined, max: number | undefined, f: number) => {
      if (min === undefined || max === undefined || !(min <= max)) return;
      const slack = (max - min) * this.#tolerance;
      this.#lo[f] = min - slack;
      this.#hi[f] = max + slack;
    };
    if (this.plan.mode === 'summary') {
      const range = learned ? { min: learned.min, max: learned.max } : this.plan.elementRange;
      widen(range?.min, range?.max, 0);
      return;
    }
    this.profiles.forEach((p, f) => widen((p as NumericProfile).min, (p as NumericProfile).max, f));
  }

  /** Each feature's drift, or undefined while its reference or window is not ready. */
  evaluate(thresholds: Thresholds, alpha: number, minRows: number): Array<FeatureDrift | undefined> {
    return this.profiles.map((profile, f) => {
      const window = this.windows[f]!;
      if (profile === undefined || window.size < minRows) return undefined;
      if (profile.kind === 'numeric') return numericDrift(profile, window.sorted(), thresholds, alpha);
      const counts = new Float64Array(profile.names.length + 1);
      const values = window.values;
      for (let i = 0; i < window.size; i++) {
        const c = values[i]!;
        counts[c < 0 ? profile.names.length : c]!++;
      }
      return categoricalDrift(profile, counts, thresholds);
    });
  }

  /** KS tests this tensor contributes: numeric features whose reference has (or will learn) samples. */
  get ksTests(): number {
    if (this.plan.kind !== 'numeric') return 0;
    return this.profiles.filter((p) => p === undefined || (p.kind === 'numeric' && p.sorted !== undefined)).length;
  }
}
