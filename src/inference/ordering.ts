// Triton's dynamic_batching.preserve_ordering: the responses of a model version are released in the
// order its requests reached the scheduler, although batches on several instances (or a later,
// higher-priority request) can complete out of order. Each request takes a ticket when it is submitted;
// a settled request waits until every earlier ticket has settled, then settles in turn. Failures and
// cancellations settle their ticket too, so nothing waits forever on a request that will never answer.
import type { Servable } from '../repository/backend.js';

export class OrderingGate {
  #issued = 0;
  #next = 0;
  /** Settled tickets waiting for an earlier one: ticket -> deliver. */
  readonly #waiting = new Map<number, () => void>();

  /** `result`, settled no earlier than every promise passed in before it. */
  inOrder<T>(result: Promise<T>): Promise<T> {
    const ticket = this.#issued++;
    return new Promise<T>((resolve, reject) => {
      result.then(
        (value) => this.#settled(ticket, () => resolve(value)),
        (err: unknown) => this.#settled(ticket, () => reject(err)),
      );
    });
  }

  #settled(ticket: number, deliver: () => void): void {
    this.#waiting.set(ticket, deliver);
    for (let d = this.#waiting.get(this.#next); d !== undefined; d = this.#waiting.get(this.#next)) {
      this.#waiting.delete(this.#next++);
      d();
    }
  }
}

const gates = new WeakMap<Servable, OrderingGate>();

/** The gate of a served copy that preserves ordering (one per copy: its own scheduler, its own order). */
export function orderingGate(model: Servable): OrderingGate {
  let gate = gates.get(model);
  if (gate === undefined) {
    gate = new OrderingGate();
    gates.set(model, gate);
  }
  return gate;
}
