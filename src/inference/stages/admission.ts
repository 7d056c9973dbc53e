// Admission: after decode (the request's own `timeout` and priority are known), before the caches and
// the engine. Refuses at once what cannot start before its deadline (see ../admission.ts for which
// deadline), or what would overfill a model copy without a queue bound of its own. An admitted request
// counts as in flight (with its rows) until it finishes; the engine's timings of those that ran are the
// copy's measured cost.
import type { Servable } from '../../repository/backend.js';
import { admissionDeadlineUs, ModelLoad, overloaded, queueFull, type AdmissionOptions } from '../admission.js';
import type { RequestContext } from '../context.js';
import type { Stage } from '../stage.js';

export class AdmissionStage implements Stage {
  readonly name = 'admission';
  readonly #options: AdmissionOptions;
  readonly #loads = new WeakMap<Servable, ModelLoad>();
  readonly #shared: ((target: NonNullable<RequestContext['target']>) => SharedArrayBuffer | undefined) | undefined;

  /** `shared`: the memory of a copy's load kept by another thread (an HTTP worker thread's view of the main thread's). */
  constructor(options: AdmissionOptions, shared?: (target: NonNullable<RequestContext['target']>) => SharedArrayBuffer | undefined) {
    this.#options = options;
    this.#shared = shared;
  }

  /** The load of a served copy (created on its first request). */
  load(target: NonNullable<RequestContext['target']>): ModelLoad {
    let load = this.#loads.get(target.model);
    if (load === undefined) {
      load = new ModelLoad(target.config, this.#shared?.(target));
      this.#loads.set(target.model, load);
    }
    return load;
  }

  run(ctx: RequestContext): void {
    // No target: a route's chosen target could not be leased and its fallback chain answers at
    // execute, each level under its own timeout; there is no one model copy to admit against.
    const target = ctx.target;
    if (target === undefined) return;
    const load = this.load(target);
    const options = this.#options;
    const timeoutUs = admissionDeadlineUs(load.policy, ctx.priority, ctx.timeoutUs, options.defaultTimeoutUs);
    if (options.enabled) {
      if (options.maxQueueSize > 0 && !load.policy.bounded && load.inflight >= options.maxQueueSize) {
        throw queueFull(target.name, options.maxQueueSize);
      }
      if (timeoutUs > 0) {
        const wait = load.predictedWaitNs();
        if (wait > timeoutUs * 1000) throw overloaded(target.name, wait, timeoutUs);
      }
    }
    ctx.admitted = load;
    ctx.admittedRows = rowsOf(ctx);
    load.enter(ctx.admittedRows);
  }

  finish(ctx: RequestContext): void {
    const load = ctx.admitted;
    if (load === undefined) return;
    ctx.admitted = undefined;
    load.leave(ctx.admittedRows, ctx.computeNs, ctx.batchSize);
  }
}

/** The rows a request adds to its model's batches: its batch dimension when the model batches, else 1. */
function rowsOf(ctx: RequestContext): number {
  if (ctx.target!.model.metadata.maxBatchSize <= 0) return 1;
  const inputs = ctx.decoded!.inputs;
  for (const name in inputs) return Math.max(1, inputs[name]!.shape[0] ?? 1);
  return 1;
}
