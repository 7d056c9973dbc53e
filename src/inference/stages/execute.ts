// Execute: the request's inputs through the target's model, under the request's deadline, priority
// and cancellation. The engine reports where the time went (queue, compute, batch size) straight
// into the context. Backends built from other models (ensembles, JavaScript models) also get the
// trace context, the request's parameters and id, and may take the decoded inputs' buffers over.
import type { ServableInferOptions } from '../../repository/backend.js';
import type { RequestContext } from '../context.js';
import { orderingGate } from '../ordering.js';
import type { Stage } from '../stage.js';

/**
 * Runs the target's model for this request (through its route's fallback chain, if any); the tensor
 * cache calls it on a miss. With the config's dynamic_batching.preserve_ordering, results are released
 * in submission order (../ordering.ts).
 */
export function execute(ctx: RequestContext, options: ServableInferOptions): Promise<void> {
  const fallback = ctx.routing?.fallback;
  if (fallback !== undefined) return fallback.run(ctx, options);
  const decoded = ctx.decoded!;
  const target = ctx.target!;
  let result = target.model.infer(decoded.inputs, options);
  if (target.config.dynamic_batching?.preserve_ordering === true) result = orderingGate(target.model).inOrder(result);
  return result.then((outputs) => {
    ctx.outputs = outputs;
    ctx.source = 'compute';
  });
}

/** The options of a request (a fixed shape: conditional spreads would make the call megamorphic). */
export function inferOptions(ctx: RequestContext): ServableInferOptions {
  const decoded = ctx.decoded!;
  const requested = decoded.outputs;
  return {
    outputs: requested ? requested.map((o) => o.name) : undefined,
    priority: ctx.priority,
    timeoutUs: ctx.timeoutUs,
    signal: ctx.signal,
    timings: ctx,
    trace: ctx.trace,
    chain: ctx.chain,
    waiter: ctx.waiter,
    parameters: decoded.parameters,
    id: decoded.id,
    // Decoded inputs belong to this request alone and are not read after execute.
    donateInputs: true,
  };
}

export class ExecuteStage implements Stage {
  readonly name = 'execute';

  run(ctx: RequestContext): void | Promise<void> {
    if (ctx.outputs !== undefined) return; // answered by the tensor cache
    return execute(ctx, inferOptions(ctx));
  }
}
