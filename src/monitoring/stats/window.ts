// A sliding window over the last `capacity` values of a stream: a ring buffer, so adding a value is a
// store and two integer updates whatever the window's size.

export class SlidingWindow {
  readonly values: Float64Array;
  #next = 0;
  #size = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('a window holds at least one value');
    this.values = new Float64Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(value: number): void {
    this.values[this.#next] = value;
    this.#next = this.#next + 1 === this.capacity ? 0 : this.#next + 1;
    if (this.#size < this.capacity) this.#size++;
  }

  /** The window's values in ascending order (a new array). */
  sorted(): Float64Array {
    return this.values.slice(0, this.#size).sort();
  }

  clear(): void {
    this.#next = 0;
    this.#size = 0;
  }
}
