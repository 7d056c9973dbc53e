// The queue and batching policy of a JavaScript model: Triton's dynamic batcher (the same decision as
// native/scheduler/batch_policy.cc), over requests kept in TypeScript. Priority levels each have an
// on-time queue and a delayed queue (timeout_action DELAY), a bounded size (max_queue_size ->
// QUEUE_FULL) and a default timeout a request may shorten. Rows are counted by the batch dimension.
// Requests of any shapes share an execute: each keeps its own tensors (execute gets a list, as
// Triton's Python backend does), so there is no same-shape rule.
import type { NativeBatchingOptions, NativeQueuePolicy } from '../../engine/binding.js';
import { TensorgateError } from '../../engine/errors.js';

export interface Queued {
  /** 0-based priority level. */
  level: number;
  rows: number;
  enqueueNs: number;
  /** Monotonic ns after which it times out; 0: none. */
  deadlineNs: number;
  delayOnTimeout: boolean;
}

interface Level<R> {
  queue: R[];
  delayed: R[];
  policy: NativeQueuePolicy;
}

export type Decision = { take: number } | { wakeAt: number };

export class BatchQueue<R extends Queued> {
  readonly #config: NativeBatchingOptions;
  readonly #levels: Array<Level<R>>;
  #size = 0;

  constructor(config: NativeBatchingOptions) {
    this.#config = config;
    const n = config.priorityLevels === 0 ? 1 : config.priorityLevels;
    this.#levels = Array.from({ length: n }, (_, i) => ({ queue: [], delayed: [], policy: config.priorityQueuePolicy[i + 1] ?? config.defaultQueuePolicy }));
  }

  get size(): number {
    return this.#size;
  }

  get levels(): number {
    return this.#levels.length;
  }

  /** The level of a request priority (1 = highest; 0 = the default), as the native scheduler picks it. */
  levelOf(priority: number): number {
    const levels = this.#levels.length;
    if (priority > levels && levels > 1) {
      throw new TensorgateError('INVALID_ARGUMENT', `priority ${priority} is outside the model's 1..${levels} priority levels`);
    }
    let p = priority === 0 ? this.#config.defaultPriorityLevel : priority;
    if (p === 0) p = Math.floor((levels + 1) / 2);
    if (p > levels) p = levels;
    return p - 1;
  }

  /** The request's deadline: the level's default timeout, shortened by the request's own when allowed. */
  deadline(level: number, timeoutUs: number, nowNs: number): { deadlineNs: number; delayOnTimeout: boolean } {
    const policy = this.#levels[level]!.policy;
    let timeout = policy.defaultTimeoutMicroseconds;
    if (timeoutUs > 0 && policy.allowTimeoutOverride && (timeout === 0 || timeoutUs < timeout)) timeout = timeoutUs;
    return { deadlineNs: timeout === 0 ? 0 : nowNs + timeout * 1000, delayOnTimeout: policy.timeoutAction === 'DELAY' };
  }

  /** Queues a request; throws QUEUE_FULL when its level holds max_queue_size already. */
  push(r: R): void {
    const level = this.#levels[r.level]!;
    const limit = level.policy.maxQueueSize;
    if (limit > 0 && level.queue.length + level.delayed.length >= limit) {
      throw new TensorgateError('QUEUE_FULL', `queue of priority level ${r.level + 1} is full (max_queue_size ${limit})`);
    }
    level.queue.push(r);
    this.#size++;
  }

  /** Takes a queued request out (a cancellation); false when it was not queued. */
  remove(r: R): boolean {
    const level = this.#levels[r.level]!;
    for (const q of [level.queue, level.delayed]) {
      const i = q.indexOf(r);
      if (i >= 0) {
        q.splice(i, 1);
        this.#size--;
        return true;
      }
    }
    return false;
  }

  /**
   * Requests whose deadline passed: those of REJECT levels are removed and returned; DELAY ones move
   * behind the on-time requests of their level and wait with no deadline.
   */
  expire(nowNs: number): R[] {
    const expired: R[] = [];
    for (const level of this.#levels) {
      if (level.queue.length === 0) continue;
      const keep: R[] = [];
      for (const r of level.queue) {
        if (r.deadlineNs !== 0 && r.deadlineNs <= nowNs) {
          r.deadlineNs = 0;
          if (r.delayOnTimeout) {
            level.delayed.push(r);
          } else {
            expired.push(r);
            this.#size--;
          }
        } else {
          keep.push(r);
        }
      }
      level.queue = keep;
    }
    return expired;
  }

  /** The earliest deadline of a queued request (0: none). */
  nextDeadline(): number {
    let next = 0;
    for (const level of this.#levels) for (const r of level.queue) if (r.deadlineNs !== 0 && (next === 0 || r.deadlineNs < next)) next = r.deadlineNs;
    return next;
  }

  *#cursor(): Generator<R> {
    for (const level of this.#levels) {
      yield* level.queue;
      yield* level.delayed;
    }
  }

  /** What to run next: a prefix of the cursor order, or when to decide again. Undefined when empty. */
  decide(nowNs: number): Decision | undefined {
    if (this.#size === 0) return undefined;
    const c = this.#config;
    if (c.maxBatchSize === 0 || !c.dynamicBatching) return { take: 1 };
    const maxRows = c.maxBatchSize;
    const preferred = c.preferredBatchSize;
    const maxPreferred = preferred.length > 0 ? Math.max(...preferred) : maxRows;
    let rows = 0;
    let take = 0;
    let preferredTake = 0;
    let oldest = Infinity;
    let sendNow = false;
    for (const r of this.#cursor()) {
      if (take === 0) {
        if (r.rows === 0) return { take: 1 }; // an empty request runs alone
      } else if (rows + r.rows > maxRows) {
        sendNow = true;
        break;
      } else if (preferred.length > 0 && preferredTake === 0 && rows + r.rows > maxPreferred) {
        // Triton: the next request would pass the largest preferred size before any was hit.
        sendNow = true;
        break;
      }
      rows += r.rows;
      take++;
      if (r.enqueueNs < oldest) oldest = r.enqueueNs;
      if (preferred.includes(rows)) preferredTake = take;
      if (rows >= maxRows) break;
    }
    if (rows >= maxRows) sendNow = true;
    const delayNs = c.maxQueueDelayMicroseconds * 1000;
    const delayExceeded = delayNs !== 0 && nowNs - oldest >= delayNs;
    if (preferredTake > 0 && !delayExceeded) return { take: preferredTake };
    if (sendNow || rows >= maxPreferred) return { take };
    if (delayNs === 0 || delayExceeded) return { take };
    return { wakeAt: oldest + delayNs };
  }

  /** Removes and returns the first `n` requests in cursor order. */
  take(n: number): R[] {
    const out: R[] = [];
    for (const level of this.#levels) {
      for (const q of [level.queue, level.delayed]) {
        while (out.length < n && q.length > 0) out.push(q.shift()!);
      }
    }
    this.#size -= out.length;
    return out;
  }

  /** Removes and returns everything queued. */
  drain(): R[] {
    return this.take(this.#size);
  }
}
