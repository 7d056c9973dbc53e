// Execute: the request's inputs through the target's model, under the request's deadline, priority
// and cancellation. The engine reports where the time went (queue, compute, batch size) straight
// into the context.
import type { InferOptions } from '../../engine/index.js';
import type { RequestContext } from '../context.js';
import { orderingGate } from '../ordering.js';
import type { Stage } from '../stage.js';

/**
 * Runs the target's model for this request (through its route's fallback chain, if any); the tensor
 * cache calls it on a miss. With the config's dynamic_batching.preserve_ordering, results are released
 * in submission order (../ordering.ts).
 */
export function execute(ctx: RequestContext, options: InferOptions): Promise<void> {
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

/** The engine options of a request (a fixed shape: conditional spreads would make the call megamorphic). */
export function inferOptions(ctx: RequestContext): InferOptions {
  const requested = ctx.decoded!.outputs;
  return {
    outputs: requested ? requested.map((o) => o.name) : undefined,
    priority: ctx.priority,
    timeoutUs: ctx.timeoutUs,
    signal: ctx.signal,
    timings: ctx,
  };
}

export class ExecuteStage implements Stage {
  readonly name = 'execute';

  run(ctx: RequestContext): void | Promise<void> {
    if (ctx.outputs !== undefined) return; // answered by the tensor cache
    return execute(ctx, inferOptions(ctx));
  }
}
