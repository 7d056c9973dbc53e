// A circuit breaker per target of a fallback chain: closed (requests go through) until `failures`
// consecutive failures open it; open, the target is skipped (the next level answers at once) until
// `cooldownMs` pass; then half-open: one request probes the target while the others keep skipping it.
// The probe's success closes the breaker, its failure opens it for another cool-down.

export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitBreaker {
  readonly failuresToOpen: number;
  readonly cooldownMs: number;
  state: BreakerState = 'closed';
  /** Consecutive failures while closed. */
  failures = 0;
  openedAt = 0;
  /** Times it opened (a metric). */
  opens = 0;
  #probing = false;

  constructor(failures: number, cooldownMs: number) {
    this.failuresToOpen = failures;
    this.cooldownMs = cooldownMs;
  }

  /** Whether a request may try the target now (true for at most one probe while half-open). */
  allow(now: number): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (now - this.openedAt < this.cooldownMs) return false;
      this.state = 'half_open';
      this.#probing = false;
    }
    if (this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.state = 'closed';
    this.failures = 0;
    this.#probing = false;
  }

  failure(now: number): void {
    if (this.state === 'half_open') {
      this.#open(now);
      return;
    }
    if (this.state === 'closed' && ++this.failures >= this.failuresToOpen) this.#open(now);
  }

  #open(now: number): void {
    this.state = 'open';
    this.openedAt = now;
    this.opens++;
    this.failures = 0;
    this.#probing = false;
  }
}
