// Counters a route keeps per arm or per target (bandit pulls and rewards, A/B outcome sums) that may be
// shared by every replica: the value is `base` (the shared total as of the last sync) plus `delta`
// (what this replica added since). sync() hands the deltas to a store that adds them to the shared
// totals and returns those totals (Redis HINCRBYFLOAT), so each replica learns from all the traffic.
// Without a shared store, base is restored from the route's state file and delta folds into it.

export class SharedCounters {
  readonly names: readonly string[];
  readonly base: Float64Array;
  readonly delta: Float64Array;
  readonly #index: Map<string, number>;

  constructor(names: readonly string[]) {
    this.names = names;
    this.base = new Float64Array(names.length);
    this.delta = new Float64Array(names.length);
    this.#index = new Map(names.map((n, i) => [n, i]));
  }

  get(i: number): number {
    return this.base[i]! + this.delta[i]!;
  }

  add(i: number, x: number): void {
    this.delta[i] = this.delta[i]! + x;
  }

  indexOf(name: string): number | undefined {
    return this.#index.get(name);
  }

  /** The deltas to send, by name (only non-zero ones), and zeroes them as sent. */
  takeDeltas(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) {
      const d = this.delta[i]!;
      if (d !== 0) {
        out[this.names[i]!] = d;
        this.base[i] = this.base[i]! + d;
        this.delta[i] = 0;
      }
    }
    return out;
  }

  /** Puts back deltas a failed sync took. */
  restoreDeltas(deltas: Record<string, number>): void {
    for (const [name, d] of Object.entries(deltas)) {
      const i = this.#index.get(name);
      if (i === undefined) continue;
      this.base[i] = this.base[i]! - d;
      this.delta[i] = this.delta[i]! + d;
    }
  }

  /** Replaces the shared totals (names it does not know are ignored: another config's counters). */
  setTotals(totals: Record<string, number>): void {
    for (let i = 0; i < this.names.length; i++) this.base[i] = totals[this.names[i]!] ?? 0;
  }

  /** Every value, by name (for the state file). */
  totals(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < this.names.length; i++) out[this.names[i]!] = this.get(i);
    return out;
  }

  get dirty(): boolean {
    return this.delta.some((d) => d !== 0);
  }
}
