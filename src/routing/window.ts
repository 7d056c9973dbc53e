// What a route saw of each target over one canary interval: requests, errors and a latency histogram
// (log buckets 8 per doubling, ~9 % apart, from 10 µs to about 170 s), enough for error rates and a p99
// without keeping samples. record() is a few additions into typed arrays.

const FIRST_MS = 0.01;
const PER_DOUBLING = 8;
const BUCKETS = 8 * 24; // 0.01 ms · 2^24 ≈ 168 s
const LOG2_FIRST = Math.log2(FIRST_MS);

/** Upper bound (ms) of bucket i; the last bucket also takes everything beyond. */
export function bucketUpperMs(i: number): number {
  return FIRST_MS * 2 ** ((i + 1) / PER_DOUBLING);
}

function bucketOf(ms: number): number {
  if (!(ms > FIRST_MS)) return 0;
  const i = Math.floor((Math.log2(ms) - LOG2_FIRST) * PER_DOUBLING);
  return i >= BUCKETS ? BUCKETS - 1 : i;
}

export interface WindowFigures {
  requests: number;
  errors: number;
  /** errors / requests (0 without requests). */
  error_rate: number;
  /** null without requests. */
  p99_ms: number | null;
}

export class LatencyWindow {
  requests = 0;
  errors = 0;
  readonly #buckets = new Uint32Array(BUCKETS);

  record(ms: number, failed: boolean): void {
    this.requests++;
    if (failed) this.errors++;
    this.#buckets[bucketOf(ms)]!++;
  }

  /** The q-quantile (0..1) in ms, interpolated geometrically inside its bucket; null when empty. */
  quantile(q: number): number | null {
    if (this.requests === 0) return null;
    const rank = q * this.requests;
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const n = this.#buckets[i]!;
      if (n === 0) continue;
      if (seen + n >= rank) {
        const lower = i === 0 ? 0 : bucketUpperMs(i - 1);
        const upper = bucketUpperMs(i);
        const frac = Math.min(1, Math.max(0, (rank - seen) / n));
        return lower === 0 ? upper * frac : lower * (upper / lower) ** frac;
      }
      seen += n;
    }
    return bucketUpperMs(BUCKETS - 1);
  }

  figures(): WindowFigures {
    const p99 = this.quantile(0.99);
    return {
      requests: this.requests,
      errors: this.errors,
      error_rate: this.requests > 0 ? this.errors / this.requests : 0,
      p99_ms: p99 === null ? null : Math.round(p99 * 1000) / 1000,
    };
  }

  reset(): void {
    this.requests = 0;
    this.errors = 0;
    this.#buckets.fill(0);
  }
}
