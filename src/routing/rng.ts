// A small seeded PRNG (sfc32: 128-bit state, passes PractRand to TBs, a few ns per draw) and the
// distributions the bandits sample: normal (Marsaglia's polar method), gamma (Marsaglia–Tsang) and
// beta. Routing draws from it instead of Math.random() so that a route's `seed` makes its choices
// reproducible (tests, simulations).
//
// The hot samplers write into a Float64Array instead of returning: a double returned from a call V8
// does not inline is a heap number, an allocation per draw; a bandit's choice then allocates nothing.

export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  /** [0]: the polar method's spare normal (NaN: none); [1], [2]: gamma draws. */
  readonly #scratch = Float64Array.of(NaN, 0, 0);

  constructor(seed: number = (Math.random() * 2 ** 32) | 0) {
    this.#a = 0x9e3779b9 | 0;
    this.#b = 0x243f6a88 | 0;
    this.#c = 0xb7e15162 | 0;
    this.#d = seed | 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    return (this.#int() >>> 0) / 4294967296;
  }

  /** The next 32 random bits as an int32 (a small integer: returning it never allocates). */
  #int(): number {
    const a = this.#a;
    const b = this.#b;
    const c = this.#c;
    const d = this.#d;
    const t = (((a + b) | 0) + d) | 0;
    this.#d = (d + 1) | 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) | 0;
    this.#c = (((c << 21) | (c >>> 11)) + t) | 0;
    return t;
  }

  /** A standard normal into out[i] (shared by normal() and the gamma sampler). */
  #normalInto(out: Float64Array, i: number): void {
    const s0 = this.#scratch[0]!;
    if (s0 === s0) {
      // not NaN: the spare of the last pair
      out[i] = s0;
      this.#scratch[0] = NaN;
      return;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = ((this.#int() >>> 0) / 4294967296) * 2 - 1;
      v = ((this.#int() >>> 0) / 4294967296) * 2 - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.#scratch[0] = v * f;
    out[i] = u * f;
  }

  /** Gamma(shape, 1) into out[i] (shape ≥ 1; Marsaglia–Tsang). */
  #gammaInto(shape: number, out: Float64Array, i: number): void {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    const scratch = this.#scratch;
    for (;;) {
      let x: number;
      let v: number;
      do {
        this.#normalInto(scratch, 1);
        x = scratch[1]!;
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = (this.#int() >>> 0) / 4294967296;
      if (u < 1 - 0.0331 * x * x * x * x || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) {
        out[i] = d * v;
        return;
      }
    }
  }

  /** Beta(a, b) into out[i], for a, b ≥ 1 (the Beta–Bernoulli posterior). */
  betaInto(a: number, b: number, out: Float64Array, i: number): void {
    const scratch = this.#scratch;
    this.#gammaInto(a, scratch, 1);
    const x = scratch[1]!;
    this.#gammaInto(b, scratch, 2);
    out[i] = x / (x + scratch[2]!);
  }

  /** mean + sd · N(0, 1) into out[i]. */
  normalInto(mean: number, sd: number, out: Float64Array, i: number): void {
    this.#normalInto(out, i);
    out[i] = mean + sd * out[i]!;
  }

  /** Standard normal (allocates: for simulations and tests, not the request path). */
  normal(): number {
    const out = new Float64Array(1);
    this.#normalInto(out, 0);
    return out[0]!;
  }

  /** Beta(a, b) for a, b ≥ 1 (allocates: for simulations and tests). */
  beta(a: number, b: number): number {
    const out = new Float64Array(1);
    this.betaInto(a, b, out, 0);
    return out[0]!;
  }
}
