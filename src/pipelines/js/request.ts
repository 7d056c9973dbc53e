// One request to a JavaScript model while the server holds it (queued, then running in a task), and
// one task (an execute over a batch of requests on a worker). A request settles exactly once: its
// answer, or the first of its failure, cancellation and timeout; whatever comes later is dropped.
import type { AbortSignalLike, InferInputs, InferOutputs, InferTimings } from '../../engine/index.js';
import type { CallTrace } from '../../repository/backend.js';
import { GraphTask, type GraphCall, type GraphPool } from '../wait-graph.js';
import type { Queued } from './batcher.js';

export const nowNs = (): number => performance.now() * 1e6;

export interface RequestFields {
  inputs: InferInputs;
  outputs: string[] | undefined;
  rows: number;
  level: number;
  priority: number;
  enqueueNs: number;
  deadlineNs: number;
  delayOnTimeout: boolean;
  donate: boolean;
  parameters: Record<string, unknown> | undefined;
  id: string | undefined;
  trace: CallTrace | undefined;
  chain: string[];
  timings: InferTimings | undefined;
  /** The task (of another JavaScript model) that waits on this request, if a model made it. */
  waiter: GraphTask | undefined;
}

export class JsCall implements Queued, GraphCall {
  readonly inputs: InferInputs;
  readonly outputs: string[] | undefined;
  readonly rows: number;
  readonly level: number;
  readonly priority: number;
  readonly enqueueNs: number;
  deadlineNs: number;
  readonly delayOnTimeout: boolean;
  readonly donate: boolean;
  readonly parameters: Record<string, unknown> | undefined;
  readonly id: string | undefined;
  readonly trace: CallTrace | undefined;
  readonly chain: string[];
  readonly timings: InferTimings | undefined;
  readonly waiter: GraphTask | undefined;
  runningIn: JsTask | undefined = undefined;
  /** Its index in the task it runs in. */
  index = 0;
  settled = false;
  readonly promise: Promise<InferOutputs>;
  #resolve!: (out: InferOutputs) => void;
  #reject!: (err: unknown) => void;
  #unlisten: (() => void) | undefined;

  constructor(
    readonly pool: GraphPool,
    f: RequestFields,
  ) {
    this.inputs = f.inputs;
    this.outputs = f.outputs;
    this.rows = f.rows;
    this.level = f.level;
    this.priority = f.priority;
    this.enqueueNs = f.enqueueNs;
    this.deadlineNs = f.deadlineNs;
    this.delayOnTimeout = f.delayOnTimeout;
    this.donate = f.donate;
    this.parameters = f.parameters;
    this.id = f.id;
    this.trace = f.trace;
    this.chain = f.chain;
    this.timings = f.timings;
    this.waiter = f.waiter;
    this.promise = new Promise<InferOutputs>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    f.waiter?.waits.add(this);
  }

  /** Calls `onAbort` once if the caller's signal fires before the request settles. */
  listen(signal: AbortSignalLike, onAbort: () => void): void {
    signal.addEventListener('abort', onAbort, { once: true });
    this.#unlisten = () => signal.removeEventListener('abort', onAbort);
  }

  /** Settles with outputs or an error; false if it had settled already. */
  settle(outputs: InferOutputs | undefined, error: unknown): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.#unlisten?.();
    this.waiter?.waits.delete(this);
    if (outputs !== undefined) this.#resolve(outputs);
    else this.#reject(error);
    return true;
  }
}

export class JsTask extends GraphTask {
  /** Stops the worker running it (set once dispatched). */
  stop: () => void = () => {};
  timer: NodeJS.Timeout | undefined = undefined;
  /** Set when the server stopped the worker (a deadline passed): its failure is expected. */
  killed = false;
  readonly startNs = nowNs();
  inputNs = 0;

  constructor(
    pool: GraphPool,
    readonly id: number,
    readonly calls: JsCall[],
    label: string,
  ) {
    super(pool, label);
    calls.forEach((c, i) => {
      c.runningIn = this;
      c.index = i;
    });
  }

  get rows(): number {
    return this.calls.reduce((n, c) => n + c.rows, 0);
  }

  live(): JsCall[] {
    return this.calls.filter((c) => !c.settled);
  }
}
