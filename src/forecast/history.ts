// Per-step history of a rate: a ring of the last N steps (a week of minutes by default), filled from
// a cumulative counter sampled once per step. Missing steps are NaN, which the forecaster skips.

/** A ring of the newest `capacity` step values, indexed by absolute step number (e.g. Unix minute). */
export class StepHistory {
  readonly #values: Float64Array;
  #length = 0;
  /** Ring index of the oldest value. */
  #start = 0;
  #lastStep: number | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.#values = new Float64Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  /** The absolute step of the newest value (undefined when empty). */
  get lastStep(): number | undefined {
    return this.#lastStep;
  }

  /**
   * Records `value` for `step`. Steps skipped since the last one become NaN; a step at or before the
   * last one replaces nothing and is ignored (the clock went back, or the step was already closed).
   */
  put(step: number, value: number): void {
    if (this.#lastStep !== undefined) {
      if (step <= this.#lastStep) return;
      const gap = Math.min(step - this.#lastStep - 1, this.capacity);
      for (let i = 0; i < gap; i++) this.#push(NaN);
    }
    this.#push(value);
    this.#lastStep = step;
  }

  #push(value: number): void {
    if (this.#length < this.capacity) {
      this.#values[(this.#start + this.#length) % this.capacity] = value;
      this.#length++;
    } else {
      this.#values[this.#start] = value;
      this.#start = (this.#start + 1) % this.capacity;
    }
  }

  /** The values, oldest first. */
  values(): Float64Array {
    const out = new Float64Array(this.#length);
    for (let i = 0; i < this.#length; i++) out[i] = this.#values[(this.#start + i) % this.capacity]!;
    return out;
  }
}

/**
 * Turns samples of a cumulative counter into increments, Prometheus-style: a value below the previous
 * one is a reset (the counter restarted from zero), so the increment is the new value itself.
 */
export class CounterDelta {
  #last: number | undefined;

  /** The increment since the previous sample (undefined for the first). */
  next(value: number): number | undefined {
    const last = this.#last;
    this.#last = value;
    if (last === undefined) return undefined;
    return value >= last ? value - last : value;
  }
}
