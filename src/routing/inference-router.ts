// Where an inference request goes: the model instance that serves it (a lease from the repository),
// through the response cache when the model enables it (response_cache { enable }), into the engine.
// The one place to add traffic splitting (canary, shadow, bandits) later.
import { TensorgateError, type AbortSignalLike, type InferInputs, type InferOutputs } from '../engine/index.js';
import type { CachedReply, ReplyKey, ResponseCache } from '../cache/index.js';
import type { ModelRepository, ServedInstance } from '../repository/repository.js';

export interface RouteRequest {
  inputs: InferInputs;
  outputs: readonly string[] | undefined;
  priority: number | undefined;
  timeoutUs: number | undefined;
  signal: AbortSignalLike | undefined;
}

export class InferenceRouter {
  readonly #repository: ModelRepository;
  readonly #cache: ResponseCache | undefined;

  constructor(repository: ModelRepository, cache?: ResponseCache) {
    this.#repository = repository;
    this.#cache = cache;
  }

  get cache(): ResponseCache | undefined {
    return this.#cache;
  }

  /** Whether responses of this instance go through the cache. */
  caches(target: ServedInstance): boolean {
    return this.#cache !== undefined && target.modelConfig.response_cache?.enable === true;
  }

  /** The instance to serve `name`/`version`, leased: pass it to release() when done. */
  resolve(name: string, version?: string): ServedInstance | Promise<ServedInstance> {
    return this.#repository.acquire(name, version);
  }

  release(target: ServedInstance): void {
    this.#repository.release(target);
  }

  infer(target: ServedInstance, request: RouteRequest): Promise<InferOutputs> {
    const cache = this.#cache;
    if (cache === undefined || target.modelConfig.response_cache?.enable !== true) {
      return target.model.infer(request.inputs, request);
    }
    // The key names the exact model bytes (contentHash), so a swapped version never serves the
    // previous one's entries, here or on another replica sharing the Redis tier.
    const key = cache.key({
      model: target.name,
      version: target.versionLabel,
      contentHash: target.contentHash,
      inputs: request.inputs,
      outputs: request.outputs,
    });
    // Identical concurrent requests share one computation, so it carries no one's abort signal or
    // timeout (one client's disconnect or deadline must not fail the others); each request's own
    // timeout bounds its own wait instead.
    const compute = () => target.model.infer(request.inputs, { outputs: request.outputs, priority: request.priority });
    const statsKey = `${target.name}\0${target.versionLabel}`;
    const result = cache
      .getOrCompute(key, target.name, target.modelConfig.response_cache.ttl_s, compute, statsKey)
      .then((r) => r.outputs);
    return request.timeoutUs ? withTimeout(result, request.timeoutUs) : result;
  }

  /**
   * A reply already sent for exactly these request bytes (same model version and binary layout), or
   * the key to remember this request's reply under: see src/cache/reply-tier.ts.
   */
  cachedReply(target: ServedInstance, headerLength: string | undefined, body: Uint8Array): { reply?: CachedReply; key?: ReplyKey } {
    if (!this.caches(target)) return {};
    const cache = this.#cache!;
    const key = cache.replyKey({ model: target.name, version: target.versionLabel, contentHash: target.contentHash, headerLength, body });
    if (key === undefined) return {};
    const reply = cache.reply(key, target.name, `${target.name}\0${target.versionLabel}`);
    return reply ? { reply, key } : { key };
  }

  rememberReply(target: ServedInstance, key: ReplyKey, reply: CachedReply): void {
    this.#cache?.storeReply(key, reply, target.modelConfig.response_cache?.ttl_s);
  }

  /** The cache counters of one served version (Triton's cache_hit / cache_miss). */
  cacheStats(target: ServedInstance): ReturnType<ResponseCache['modelStats']> | undefined {
    return this.caches(target) ? this.#cache!.modelStats(`${target.name}\0${target.versionLabel}`) : undefined;
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
