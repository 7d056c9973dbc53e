// The tensor tier of the response cache: for a caching model, the outputs of identical inputs (same
// model bytes, same requested outputs) come from L1, then Redis, and identical concurrent misses share
// one computation. The key names the exact model bytes (contentHash), so a swapped version never
// serves the previous one's entries, here or on another replica sharing the Redis tier.
import type { ResponseCache } from '../../cache/index.js';
import { TensorgateError } from '../../engine/index.js';
import { nowNs, type RequestContext } from '../context.js';
import type { Stage } from '../stage.js';
import { caches } from './caching.js';
import { execute, inferOptions } from './execute.js';

export class TensorCacheStage implements Stage {
  readonly name = 'tensor-cache';
  readonly #cache: ResponseCache;

  constructor(cache: ResponseCache) {
    this.#cache = cache;
  }

  run(ctx: RequestContext): void | Promise<void> {
    const target = ctx.target;
    // Through a fallback chain the answer may come from another level: never cached as the target's.
    if (target === undefined || !caches(target) || ctx.routing?.fallback !== undefined) return;
    const t0 = nowNs();
    const decoded = ctx.decoded!;
    const options = inferOptions(ctx);
    const key = this.#cache.key({
      model: target.name,
      version: target.versionLabel,
      contentHash: target.model.cacheIdentity?.() ?? target.contentHash,
      inputs: decoded.inputs,
      outputs: options.outputs,
    });
    // Identical concurrent requests share one computation, so it carries no one's cancellation or
    // deadline (one client's disconnect must not fail the others); each request's own timeout bounds
    // its own wait instead.
    const shared = { outputs: options.outputs, priority: options.priority, timings: ctx, trace: options.trace, chain: options.chain, waiter: options.waiter, parameters: options.parameters, id: options.id, donateInputs: true };
    const compute = () => execute(ctx, shared).then(() => ctx.outputs!);
    const result = this.#cache.getOrCompute(key, target.name, target.config.response_cache?.ttl_s, compute, target.key).then((r) => {
      ctx.outputs = r.outputs;
      if (r.source !== 'compute') ctx.source = r.source;
      ctx.cacheAtNs = t0;
      ctx.cacheNs = nowNs() - t0 - (r.source === 'compute' ? ctx.queueNs + ctx.computeNs : 0);
    });
    return ctx.timeoutUs > 0 ? withTimeout(result, ctx.timeoutUs) : result;
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutUs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TensorgateError('TIMEOUT', 'request timed out waiting for a shared computation of the same input')),
      Math.max(1, timeoutUs / 1000),
    );
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
