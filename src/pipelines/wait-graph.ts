// Deadlock detection for calls between JavaScript models. A worker thread running an execute that
// awaits a call to another model is held until that call answers; when the called model's workers are
// all held by executes that (directly, or through ensembles and other models) wait on this very call,
// nothing can ever finish: Triton's BLS just hangs there. Here every queued call that has a waiting
// worker task is checked when it queues: it is refused, with the chain in the message, unless some
// worker it waits for can still finish.
//
// The check is the least fixed point of "can finish" over the wait-for graph (an OR-graph: a queued
// call needs any one worker of its pool): a task finishes if every call it waits on finishes; a
// running call finishes if its task does; a queued call finishes if its pool has a free worker or a
// task of that pool finishes (that worker then takes the next queued call). Everything outside the
// fixed point waits forever.
import type { CallWaiter } from '../repository/backend.js';

/** A pool of workers (one JavaScript model version). */
export interface GraphPool {
  readonly label: string;
  /** Workers that could take a task now. */
  freeSlots(): number;
  /** Tasks running on its workers. */
  runningTasks(): Iterable<GraphTask>;
}

/** A call to a pool: queued until a worker runs it in a task. */
export interface GraphCall {
  readonly pool: GraphPool;
  readonly runningIn: GraphTask | undefined;
}

/** One execute running on a worker, and the calls it waits on. */
export class GraphTask implements CallWaiter {
  readonly waits = new Set<GraphCall>();
  constructor(
    readonly pool: GraphPool,
    readonly waiterLabel: string,
  ) {}
}

export class WaitGraph {
  readonly #pools = new Set<GraphPool>();

  register(pool: GraphPool): void {
    this.#pools.add(pool);
  }

  unregister(pool: GraphPool): void {
    this.#pools.delete(pool);
  }

  /** Whether `call`, queued at its pool, would wait forever given every task's waits now. */
  wouldDeadlock(call: GraphCall): boolean {
    if (call.runningIn !== undefined || call.pool.freeSlots() > 0) return false;
    const finishing = new Set<GraphTask>();
    const freeing = new Set<GraphPool>();
    for (const p of this.#pools) if (p.freeSlots() > 0) freeing.add(p);
    const callFinishes = (c: GraphCall): boolean => (c.runningIn !== undefined ? finishing.has(c.runningIn) : freeing.has(c.pool));
    for (let changed = true; changed; ) {
      changed = false;
      for (const p of this.#pools) {
        for (const t of p.runningTasks()) {
          if (finishing.has(t)) continue;
          let all = true;
          for (const c of t.waits) {
            if (!callFinishes(c)) {
              all = false;
              break;
            }
          }
          if (all) {
            finishing.add(t);
            changed = true;
            if (!freeing.has(p)) freeing.add(p);
          }
        }
      }
    }
    return !freeing.has(call.pool);
  }
}

/** The process's wait-for graph: every JavaScript model pool registers in it. */
export const waitGraph = new WaitGraph();
