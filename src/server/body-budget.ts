// The request bodies all connections hold at once, bounded (--max-inflight-body-bytes): each one is
// bounded by --max-body-bytes, but without a total a few thousand connections could each hold one. A
// body takes its bytes when it starts (its Content-Length, or chunk by chunk when it has none) and
// gives them back when its request is answered; one that would exceed the total is refused with 503.
// Shared by the HTTP and gRPC fronts.
export class BodyBudget {
  readonly limit: number;
  #held = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Bytes held right now. */
  get held(): number {
    return this.#held;
  }

  /** Takes `bytes` if they fit; false (nothing taken) when they would exceed the limit. */
  take(bytes: number): boolean {
    if (this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#held -= bytes;
  }
}
