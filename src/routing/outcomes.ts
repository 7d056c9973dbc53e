// A/B results a product team can act on: business outcomes reported per request id (a conversion, a
// click, a value), kept per target as count, sum and sum of squares (SharedCounters: shared through
// Redis like the bandit's), and compared with the control target: rates by a two-proportion test,
// values by Welch's t-test, each with the per-arm sample size still needed at the current effect.
// Caveat stated in the report: looking at a p-value repeatedly (peeking) inflates false positives;
// decide on the sample size first and read `significant` once `enough_samples` is true.
import type { AbConfig } from '../repository/routing-schema.js';
import { sampleSizeMeans, sampleSizeProportions, twoProportionTest, welchTest } from './ab-stats.js';
import { SharedCounters } from './counters.js';

const N = 0;
const SUM = 1;
const SUMSQ = 2;
const PER = 3;

export interface OutcomeArm {
  target: string;
  count: number;
  /** The rate (rate outcomes) or the mean (value outcomes); null without data. */
  mean: number | null;
  sd: number | null;
}

export interface OutcomeComparison {
  target: string;
  control: string;
  /** target mean − control mean. */
  difference: number | null;
  /** Relative to the control's mean. */
  lift: number | null;
  test: 'two-proportion z' | 'welch t';
  statistic: number | null;
  p_value: number | null;
  significant: boolean;
  /** Per-arm sample size needed to detect the current difference at alpha with the configured power. */
  samples_needed: number | null;
  /** Both arms have at least samples_needed observations. */
  enough_samples: boolean;
}

export interface OutcomeReport {
  name: string;
  kind: 'rate' | 'value';
  arms: OutcomeArm[];
  comparisons: OutcomeComparison[];
}

export class OutcomeStats {
  readonly config: AbConfig;
  readonly targets: readonly string[];
  readonly control: number;
  readonly counters: SharedCounters;

  constructor(config: AbConfig, targets: readonly string[], control: number) {
    this.config = config;
    this.targets = targets;
    this.control = control;
    this.counters = new SharedCounters(config.outcomes.flatMap((o) => targets.flatMap((t) => [`${o.name}|${t}|n`, `${o.name}|${t}|sum`, `${o.name}|${t}|sumsq`])));
  }

  /** The outcome's index, or undefined for a name the route does not declare. */
  outcomeIndex(name: string): number | undefined {
    const i = this.config.outcomes.findIndex((o) => o.name === name);
    return i < 0 ? undefined : i;
  }

  /** Checks a value for outcome `k`: rates take 0/1 or booleans. Returns the number or an error message. */
  value(k: number, raw: unknown): number | string {
    const o = this.config.outcomes[k]!;
    if (o.kind === 'rate') {
      if (raw === true || raw === 1) return 1;
      if (raw === false || raw === 0) return 0;
      return `outcome '${o.name}' is a rate: give true/false or 1/0`;
    }
    if (typeof raw !== 'number' || !Number.isFinite(raw)) return `outcome '${o.name}' is a value: give a finite number`;
    return raw;
  }

  add(k: number, target: number, x: number): void {
    const base = (k * this.targets.length + target) * PER;
    this.counters.add(base + N, 1);
    this.counters.add(base + SUM, x);
    this.counters.add(base + SUMSQ, x * x);
  }

  #arm(k: number, t: number): { n: number; mean: number; variance: number } {
    const base = (k * this.targets.length + t) * PER;
    const n = this.counters.get(base + N);
    const sum = this.counters.get(base + SUM);
    const mean = n > 0 ? sum / n : NaN;
    const variance = n > 1 ? Math.max(0, (this.counters.get(base + SUMSQ) - n * mean * mean) / (n - 1)) : NaN;
    return { n, mean, variance };
  }

  report(): OutcomeReport[] {
    const { alpha, power } = this.config;
    return this.config.outcomes.map((o, k) => {
      const arms = this.targets.map((target, t) => {
        const a = this.#arm(k, t);
        return { target, count: a.n, mean: finite(a.mean), sd: finite(Math.sqrt(a.variance)) };
      });
      const c = this.#arm(k, this.control);
      const comparisons: OutcomeComparison[] = [];
      this.targets.forEach((target, t) => {
        if (t === this.control) return;
        const a = this.#arm(k, t);
        const difference = a.n > 0 && c.n > 0 ? a.mean - c.mean : NaN;
        let test;
        let needed: number;
        if (o.kind === 'rate') {
          test = twoProportionTest(c.mean * c.n, c.n, a.mean * a.n, a.n);
          needed = sampleSizeProportions(c.mean, a.mean, alpha, power);
        } else {
          test = welchTest(c.mean, c.variance, c.n, a.mean, a.variance, a.n);
          needed = sampleSizeMeans(Math.sqrt(c.variance), Math.sqrt(a.variance), difference, alpha, power);
        }
        const p = finite(test.p_value);
        const samples = Number.isFinite(needed) ? needed : null;
        comparisons.push({
          target,
          control: this.targets[this.control]!,
          difference: finite(difference),
          lift: finite(c.mean !== 0 ? difference / c.mean : NaN),
          test: o.kind === 'rate' ? 'two-proportion z' : 'welch t',
          statistic: finite(test.statistic),
          p_value: p,
          significant: p !== null && p < alpha,
          samples_needed: samples,
          enough_samples: samples !== null && a.n >= samples && c.n >= samples,
        });
      });
      return { name: o.name, kind: o.kind, arms, comparisons };
    });
  }
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
