// Runs a JavaScript model's queued requests on its workers: forms batches by the dynamic-batching
// policy whenever a worker is free, sends each batch as one task (inputs transferred where the caller
// gave them away), bounds it by its requests' deadlines and execute_timeout_ms (a worker whose execute
// outlives every request in it is stopped and replaced), and settles each request with its own
// response. Also the deadlock check of calls between models (wait-graph.ts).
import { TensorgateError } from '../../engine/errors.js';
import { chainText } from '../calls.js';
import { fromWireError } from '../errors.js';
import type { StatsRecorder } from '../stats.js';
import { Arena, wireTensors } from '../tensors.js';
import { waitGraph, type GraphPool, type GraphTask } from '../wait-graph.js';
import type { BatchQueue } from './batcher.js';
import type { WorkerPool } from './pool.js';
import type { TaskResult, WireRequest } from './protocol.js';
import { nowNs, JsCall, JsTask } from './request.js';
import type { OutputSpec } from './responses.js';

/**
 * Once every request of a running execute has timed out or been cancelled, the worker hears it
 * (request.signal aborts, calls made for them are cancelled) and has this long to return before it is
 * stopped.
 */
export const KILL_GRACE_MS = 1000;

export interface DispatcherOptions {
  name: string;
  /** "model 'x' version 1" */
  label: string;
  threads: number;
  executeTimeoutMs: number;
  queue: BatchQueue<JsCall>;
  stats: StatsRecorder;
  outputs: OutputSpec;
}

export class Dispatcher implements GraphPool {
  readonly label: string;
  readonly #o: DispatcherOptions;
  #pool: WorkerPool | undefined;
  readonly #tasks = new Map<number, JsTask>();
  #nextTask = 1;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = 0;
  #idle: (() => void) | undefined;

  constructor(options: DispatcherOptions) {
    this.#o = options;
    this.label = options.label;
  }

  attach(pool: WorkerPool): void {
    this.#pool = pool;
    waitGraph.register(this);
  }

  detach(): void {
    waitGraph.unregister(this);
  }

  task(id: number): JsTask | undefined {
    return this.#tasks.get(id);
  }

  // --- GraphPool ---------------------------------------------------------------------------
  freeSlots(): number {
    return this.#pool?.freeSlots() ?? 0;
  }

  runningTasks(): Iterable<GraphTask> {
    return this.#tasks.values();
  }

  // --- requests ----------------------------------------------------------------------------

  /** Queues an accepted request and runs what can run. */
  submit(call: JsCall): void {
    this.#o.queue.push(call); // throws QUEUE_FULL
    this.#o.stats.accepted();
    this.pump();
    if (!call.settled && call.runningIn === undefined && call.waiter !== undefined && waitGraph.wouldDeadlock(call)) {
      this.#o.queue.remove(call);
      const { threads, name } = this.#o;
      const busy = threads === 1 ? 'its only worker runs an execute that waits' : `all ${threads} of its workers run executes that wait`;
      this.#fail(
        call,
        new TensorgateError(
          'UNAVAILABLE',
          `${this.label} cannot take this call: ${busy}, directly or through other models, on this very call ` +
            `(call chain: ${chainText(call.chain)}); it would wait for ever. Raise the instance_group count of '${name}' or break the cycle`,
        ),
      );
    }
  }

  /** A caller gave up on a request: dropped if queued (it never runs), answered ABORTED if running. */
  cancel(call: JsCall, error: unknown): void {
    if (call.settled) return;
    const task = call.runningIn;
    if (task === undefined) this.#o.queue.remove(call);
    else this.#pool?.broadcast({ kind: 'abort', task: task.id, index: call.index, reason: { kind: 'CANCELLED', message: 'the request was cancelled' } });
    this.#fail(call, error);
    if (task !== undefined && task.live().length === 0) this.#abandoned(task);
    this.pump();
  }

  #fail(call: JsCall, error: unknown): void {
    if (call.settle(undefined, error)) this.#o.stats.failed(nowNs() - call.enqueueNs, error);
  }

  /** Everything queued fails with `error` (the pool cannot start). */
  failQueued(error: unknown): void {
    for (const call of this.#o.queue.drain()) this.#fail(call, error);
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (this.#o.queue.size === 0 && this.#tasks.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#idle = resolve));
  }

  pump(): void {
    const { queue } = this.#o;
    const now = nowNs();
    for (const call of queue.expire(now)) this.#fail(call, new TensorgateError('TIMEOUT', `${this.label}: request timed out in the queue before it could be scheduled`));
    const sick = this.#pool?.unhealthy();
    if (sick !== undefined) this.failQueued(new TensorgateError('UNAVAILABLE', sick));
    let wakeAt = 0;
    while (this.freeSlots() > 0) {
      const decision = queue.decide(now);
      if (decision === undefined) break;
      if ('wakeAt' in decision) {
        wakeAt = decision.wakeAt;
        break;
      }
      this.#dispatch(queue.take(decision.take));
    }
    const deadline = queue.nextDeadline();
    this.#wake(wakeAt === 0 ? deadline : deadline === 0 ? wakeAt : Math.min(wakeAt, deadline));
    if (queue.size === 0 && this.#tasks.size === 0 && this.#idle) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  #wake(atNs: number): void {
    if (atNs === 0 || (this.#timer !== undefined && this.#timerAt <= atNs)) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = atNs;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.pump();
      },
      Math.max(0, (atNs - nowNs()) / 1e6),
    );
  }

  #dispatch(calls: JsCall[]): void {
    const task = new JsTask(this, this.#nextTask++, calls, `${this.label} task`);
    const start = task.startNs;
    const transfer = new Set<ArrayBuffer>();
    const small = Arena.bytesFor(calls.flatMap((c) => Object.values(c.inputs).map((t) => t.data)));
    const arena = small > 0 ? new Arena(small) : undefined;
    if (arena) transfer.add(arena.buffer);
    const requests: WireRequest[] = calls.map((c) => {
      const queued = start - c.enqueueNs;
      this.#o.stats.queued(queued);
      if (c.timings) c.timings.queueNs = queued;
      return {
        inputs: wireTensors(c.inputs, c.donate, transfer, arena),
        outputs: c.outputs,
        parameters: c.parameters,
        id: c.id,
        priority: c.priority,
        remainingUs: c.deadlineNs === 0 ? 0 : Math.max(1, Math.floor((c.deadlineNs - start) / 1000)),
        trace: c.trace,
        chain: c.chain,
      };
    });
    task.inputNs = nowNs() - start;
    this.#tasks.set(task.id, task);
    this.#armDeadline(task);
    const { result, stop } = this.#pool!.run({ task: task.id, requests }, [...transfer]);
    task.stop = stop;
    result.then(
      (r) => this.#finished(task, r, undefined),
      (err: unknown) => this.#finished(task, undefined, err),
    );
  }

  /** Times the task out at its requests' earliest deadline, or at execute_timeout_ms. */
  #armDeadline(task: JsTask): void {
    if (task.timer !== undefined) clearTimeout(task.timer);
    task.timer = undefined;
    const now = nowNs();
    const executeEnd = this.#o.executeTimeoutMs > 0 ? task.startNs + this.#o.executeTimeoutMs * 1e6 : 0;
    let at = executeEnd;
    for (const c of task.live()) if (c.deadlineNs !== 0 && (at === 0 || c.deadlineNs < at)) at = c.deadlineNs;
    if (at === 0) return;
    task.timer = setTimeout(() => this.#deadline(task, executeEnd), Math.max(0, (at - now) / 1e6));
  }

  #deadline(task: JsTask, executeEnd: number): void {
    task.timer = undefined;
    if (!this.#tasks.has(task.id)) return;
    const now = nowNs();
    const overall = executeEnd !== 0 && now >= executeEnd;
    for (const c of task.live()) {
      let error: TensorgateError | undefined;
      if (overall) {
        error = new TensorgateError('TIMEOUT', `${this.label}: execute ran longer than execute_timeout_ms (${this.#o.executeTimeoutMs} ms)`);
      } else if (c.deadlineNs !== 0 && c.deadlineNs <= now) {
        error = new TensorgateError('TIMEOUT', `${this.label}: execute did not finish before the request's deadline`);
      }
      if (error) {
        this.#fail(c, error);
        this.#pool!.broadcast({ kind: 'abort', task: task.id, index: c.index, reason: { kind: 'TIMEOUT', message: error.message } });
      }
    }
    if (task.live().length > 0) {
      this.#armDeadline(task);
      return;
    }
    this.#abandoned(task);
  }

  /**
   * Nobody waits for this execute any more (its requests timed out or were cancelled): if it does not
   * return within the grace, its worker is stopped (piscina starts a new one), so a hung execute
   * cannot keep a worker for ever.
   */
  #abandoned(task: JsTask): void {
    if (task.timer !== undefined) clearTimeout(task.timer);
    task.timer = setTimeout(() => {
      if (!this.#tasks.has(task.id)) return;
      task.killed = true;
      this.#pool!.timeouts++;
      task.stop();
    }, KILL_GRACE_MS);
  }

  #finished(task: JsTask, result: TaskResult | undefined, err: unknown): void {
    this.#tasks.delete(task.id);
    if (task.timer !== undefined) clearTimeout(task.timer);
    task.waits.clear();
    const live = task.live();
    const outStart = nowNs();
    if (result === undefined) {
      if (!task.killed) {
        this.#pool!.crashes++;
        const why = err instanceof Error ? err.message : String(err);
        const error = new TensorgateError('INTERNAL', `${this.label}: its worker stopped while running this request (${why}); a new worker is starting`);
        for (const c of live) this.#fail(c, error);
      }
    } else if (result.error !== undefined) {
      const error = fromWireError(result.error);
      for (const c of live) this.#fail(c, error);
    } else {
      for (const c of live) {
        const r = result.responses![c.index]!;
        if (r.error !== undefined) {
          this.#fail(c, fromWireError(r.error));
          continue;
        }
        let outputs;
        try {
          outputs = this.#o.outputs.check(r.outputs, c.outputs, c.rows, this.label);
        } catch (e) {
          this.#fail(c, e);
          continue;
        }
        if (c.timings) {
          c.timings.computeNs = result.executeNs;
          c.timings.batchSize = task.rows;
        }
        if (c.settle(outputs, undefined)) this.#o.stats.succeeded(nowNs() - c.enqueueNs);
      }
    }
    if (result !== undefined) this.#o.stats.executed(task.calls.length, task.rows, task.inputNs, result.executeNs, nowNs() - outStart);
    this.pump();
  }
}

