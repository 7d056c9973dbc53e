// The replayed traffic: a population of users whose activity is Zipf-distributed (a few users send
// most requests), each with a profile (recent items, drawn by item popularity, and a query) that moves
// on now and then; arrivals as a Poisson process whose rate bursts to several times its base at
// regular intervals.
import { mulberry32 } from './lib/catalog.mjs';

const VOCABULARY = (
  'running shoes jacket rain winter summer dress shirt kids toys lego puzzle book novel history science ' +
  'kitchen knife pan coffee tea mug laptop phone case charger headphones camera lens tripod garden hose ' +
  'plant pot chair desk lamp sofa pillow blanket bike helmet tent backpack bottle watch ring bag wallet'
).split(' ');

export interface UserRequest {
  user: number;
  recent: number[];
  text: string;
}

/** Inverse-CDF sampling of a Zipf(s) distribution over 0..n-1. */
export class Zipf {
  readonly #cdf: Float64Array;
  constructor(n: number, s: number) {
    this.#cdf = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) this.#cdf[i] = total += 1 / Math.pow(i + 1, s);
    for (let i = 0; i < n; i++) this.#cdf[i]! /= total;
  }
  sample(u: number): number {
    let lo = 0;
    let hi = this.#cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class Population {
  readonly #rng: () => number;
  readonly #users: Zipf;
  readonly #items = new Zipf(1000, 0.8);
  readonly #words = new Zipf(VOCABULARY.length, 1.0);
  readonly #profiles = new Map<number, UserRequest>();

  constructor(users: number, seed: number) {
    this.#rng = mulberry32(seed);
    this.#users = new Zipf(users, 1.05);
  }

  #query(): string {
    const n = 1 + Math.floor(this.#rng() * 3);
    return Array.from({ length: n }, () => VOCABULARY[this.#words.sample(this.#rng())]).join(' ');
  }

  /** The next request: a user drawn by activity; a quarter of the time their session moved on. */
  next(): UserRequest {
    const user = this.#users.sample(this.#rng());
    let p = this.#profiles.get(user);
    if (!p) {
      const recent = Array.from({ length: 2 + Math.floor(this.#rng() * 5) }, () => this.#items.sample(this.#rng()));
      this.#profiles.set(user, (p = { user, recent, text: this.#query() }));
    } else if (this.#rng() < 0.25) {
      p.recent = [...p.recent, this.#items.sample(this.#rng())].slice(-8);
      if (this.#rng() < 0.5) p.text = this.#query();
    }
    return { user: p.user, recent: [...p.recent], text: p.text };
  }
}

/** Arrival rate at time t (s): `base`, times `factor` during a `length`-second burst every `every` seconds. */
export function rateAt(t: number, base: number, burst: { every: number; length: number; factor: number }): number {
  return t % burst.every >= burst.every - burst.length ? base * burst.factor : base;
}

/** The v2 request body for a user request. */
export function requestBody(r: UserRequest): string {
  return JSON.stringify({
    inputs: [
      { name: 'user_id', datatype: 'INT64', shape: [1], data: [r.user] },
      { name: 'recent_items', datatype: 'INT32', shape: [r.recent.length], data: r.recent },
      { name: 'text', datatype: 'BYTES', shape: [1], data: [r.text] },
    ],
  });
}
