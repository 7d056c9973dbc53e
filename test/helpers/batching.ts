// Helpers for scheduling tests: a request that occupies the runner, and polling for a condition.
import type { InferOutputs, Model } from '../../src/engine/index.js';

import { SLOW_SIZE, until } from './fixtures.js';

export { SLOW_SIZE, until };

export function rows(n: number, fill = 1): Float32Array {
  return new Float32Array(n * SLOW_SIZE).fill(fill);
}

/**
 * Submits one request to a slowBatchModel and waits until a runner has taken it, so that whatever is
 * submitted next queues behind it. Returns the running request (boxed: an async function returning a
 * promise would wait for it).
 */
export async function occupy(model: Model): Promise<{ running: Promise<InferOutputs> }> {
  const executed = model.stats().queue.count;
  const running = model.infer({ x: { shape: [1, SLOW_SIZE], data: rows(1, -1) } });
  await until(() => model.stats().queue.count > executed);
  return { running };
}

/** Records the order in which promises settle. */
export function settleOrder<T>(named: Record<string, Promise<T>>): Promise<string[]> {
  const order: string[] = [];
  return Promise.allSettled(
    Object.entries(named).map(([name, p]) =>
      p.then(
        () => order.push(name),
        () => order.push(name),
      ),
    ),
  ).then(() => order);
}
