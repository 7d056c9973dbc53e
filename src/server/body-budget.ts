// The request bodies all connections hold at once, bounded (--max-inflight-body-bytes): each one is
// bounded by --max-body-bytes, but without a total a few thousand connections could each hold one. A
// body takes its bytes when it starts (its Content-Length, or chunk by chunk when it has none) and
// gives them back when its request is answered; one that would exceed the total is refused with 503.
// Shared by the HTTP and gRPC fronts, and by every HTTP thread of the process (--http-threads): the
// count lives in shared memory, so the bound is the process's whatever thread holds the bytes.
export class BodyBudget {
  readonly limit: number;
  /** The shared count (handed to HTTP worker threads, which build their view with it). */
  readonly memory: SharedArrayBuffer;
  readonly #held: BigInt64Array;

  constructor(limit: number, memory: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    this.limit = limit;
    this.memory = memory;
    this.#held = new BigInt64Array(memory);
  }

  /** Bytes held right now. */
  get held(): number {
    return Number(Atomics.load(this.#held, 0));
  }

  /** Takes `bytes` if they fit; false (nothing taken) when they would exceed the limit. */
  take(bytes: number): boolean {
    const add = BigInt(bytes);
    for (;;) {
      const held = Atomics.load(this.#held, 0);
      if (Number(held) + bytes > this.limit) return false;
      if (Atomics.compareExchange(this.#held, 0, held, held + add) === held) return true;
    }
  }

  give(bytes: number): void {
    Atomics.sub(this.#held, 0, BigInt(bytes));
  }
}
