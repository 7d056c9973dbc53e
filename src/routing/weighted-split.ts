// The weighted split: target i gets weight_i / Σ weight of the requests (Istio's and Seldon's
// proportional weights). pick() is a scan of a cumulative array (routes have a handful of targets):
// no allocation, no lock; the weights change only on a transition (a canary step, a management call).

export class WeightedSplit {
  /** Effective weights, as set (any scale). */
  readonly weights: Float64Array;
  readonly #cumulative: Float64Array;
  #total = 0;

  constructor(weights: ArrayLike<number>) {
    this.weights = new Float64Array(weights.length);
    this.#cumulative = new Float64Array(weights.length);
    this.set(weights);
  }

  get total(): number {
    return this.#total;
  }

  set(weights: ArrayLike<number>): void {
    if (weights.length !== this.weights.length) throw new RangeError('a split keeps its number of targets');
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      if (!(w >= 0) || w === Infinity) throw new RangeError(`weight ${w} is not a finite non-negative number`);
      this.weights[i] = w;
      total += w;
      this.#cumulative[i] = total;
    }
    this.#total = total;
  }

  /** The target for a uniform draw u in [0, 1); -1 when every weight is 0. */
  pick(u: number): number {
    const cumulative = this.#cumulative;
    const x = u * this.#total;
    const last = cumulative.length - 1;
    for (let i = 0; i < last; i++) if (x < cumulative[i]!) return i;
    return this.#total > 0 ? lastPositive(this.weights) : -1;
  }

  /** Each target's share in percent. */
  percents(): number[] {
    return Array.from(this.weights, (w) => (this.#total > 0 ? (100 * w) / this.#total : 0));
  }
}

function lastPositive(weights: Float64Array): number {
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i;
  return -1;
}
