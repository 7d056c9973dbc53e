// The response cache: L1 (in-process LRU bounded in bytes) → L2 (Redis, optional) → compute, with
// single-flight coalescing of identical concurrent misses. The cache never fails a request: any cache
// error falls through to compute and is counted.
//
// L1 holds DECODED outputs (typed-array views on one compact value Buffer per entry), so an L1 hit is a
// Map lookup, the check compare and a shallow copy of the outputs record: no decoding. The Buffer is the
// same encoding L2 stores (made once per miss, which L2 needs anyway), so an entry costs exactly its
// tensors' bytes plus a small header, and never pins the engine's batch-sized output buffers (computed
// outputs are views on those). L2 hits are copied into a standalone 8-aligned Buffer before they fill
// L1 (ioredis may hand out a slice of a larger socket buffer).
import { LRUCache } from 'lru-cache';
import { ReplyTier, type CachedReply, type ReplyKey, type ReplyKeyParts } from './reply-tier.js';
import type { InferOutputs, OutputTensor } from '../engine/tensor.js';
import { CodecError, decodeValue, encodeValue, entrySize } from './codec.js';
import type { CacheConfig } from './config.js';
import { CacheKey, makeKey, type CacheKeyParts, type KeyHash } from './key.js';
// Type-only: ioredis loads when a Redis level is configured, not on every server start (cold start).
import type { CacheLogger, L2State, RedisLevel } from './redis-level.js';

export type CacheLevel = 'l1' | 'l2';

/** Matches ServerMetrics.cacheHit / cacheMiss / cacheError. */
export interface CacheSink {
  hit(level: CacheLevel, model: string, seconds: number): void;
  /** `final`: the lookup ends here as a miss (false for an L1 miss that goes on to L2). */
  miss(level: CacheLevel, model: string, seconds: number, final: boolean): void;
  error(level: CacheLevel, reason: string): void;
}

export type CacheSource = 'l1' | 'l2' | 'compute' | 'coalesced';

export interface CacheResult {
  /**
   * The outputs. On a hit, a fresh record whose tensors' `data` are views on the cached value: shared,
   * do not mutate them. On a computed result, compute()'s own outputs; coalesced callers get a shallow
   * copy of the same tensors.
   */
  outputs: InferOutputs;
  source: CacheSource;
}

export interface ModelCacheStats {
  hits: { count: number; ns: number };
  misses: { count: number; ns: number };
}

export interface ResponseCacheOptions {
  sink?: CacheSink;
  logger?: CacheLogger;
}

interface L1Entry {
  outputs: InferOutputs;
  check0: number;
  check1: number;
  length: number;
}

interface Flight {
  /** What joiners get: a copy taken before the first caller's code can touch the outputs. */
  shared: Promise<InferOutputs>;
  check0: number;
  check1: number;
  length: number;
}

interface StatsCell {
  hitCount: number;
  hitNs: number;
  missCount: number;
  missNs: number;
}

const NO_SINK: CacheSink = { hit() {}, miss() {}, error() {} };

/** A shallow copy: new record, tensor objects and shape arrays; data shared (BYTES arrays copied). */
function shallowCopy(outputs: InferOutputs): InferOutputs {
  const out: InferOutputs = {};
  for (const name in outputs) {
    const t = outputs[name]!;
    out[name] = {
      datatype: t.datatype,
      shape: t.shape.slice(),
      data: t.datatype === 'BYTES' ? t.data.slice() : t.data,
    } as OutputTensor;
  }
  return out;
}

/** A Buffer with its own 8-aligned ArrayBuffer (no pinned socket chunk, views always aligned). */
function standalone(buf: Buffer): Buffer {
  if (buf.byteOffset === 0 && buf.buffer.byteLength === buf.length) return buf;
  const copy = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(copy);
  return copy;
}

export class ResponseCache {
  readonly #l1: LRUCache<string, L1Entry> | undefined;
  readonly #l2: RedisLevel | undefined;
  readonly #sink: CacheSink;
  readonly #log: CacheLogger | undefined;
  readonly #defaultTtlSeconds: number | undefined;
  readonly #keyPrefix: string;
  readonly #keyHash: KeyHash;
  readonly #flights = new Map<string, Flight>();
  readonly #replies: ReplyTier | undefined;
  readonly #stats = new Map<string, StatsCell>();
  #closed = false;

  private constructor(config: CacheConfig, options: ResponseCacheOptions, l2: RedisLevel | undefined) {
    this.#sink = options.sink ?? NO_SINK;
    this.#log = options.logger;
    this.#l2 = l2;
    this.#defaultTtlSeconds = config.redis?.ttlSeconds;
    this.#keyPrefix = config.redis?.keyPrefix ?? 'tg:';
    this.#keyHash = config.keyHash ?? 'murmur3';
    const size = config.local?.sizeBytes;
    if (size !== undefined && size > 0) {
      this.#l1 = new LRUCache<string, L1Entry>({ maxSize: Math.floor(size) });
      // Encoded replies get a quarter of the local budget on top (see reply-tier.ts).
      this.#replies = new ReplyTier(size / 4, this.#keyHash);
    }
  }

  /** The wire-bytes key of a request, when the local level is on (else undefined). */
  replyKey(parts: ReplyKeyParts): ReplyKey | undefined {
    return this.#replies?.key(parts);
  }

  /** A stored reply for exactly these request bytes: counted as an L1 hit. */
  reply(key: ReplyKey, model: string, statsKey: string = model): CachedReply | undefined {
    const t0 = performance.now();
    const found = this.#replies?.get(key);
    if (found) this.#hit('l1', model, statsKey, performance.now() - t0);
    return found;
  }

  /** Remembers the encoded reply to a request (successful ones only: the caller decides). */
  storeReply(key: ReplyKey, reply: CachedReply, ttlSeconds: number | undefined): void {
    if (!this.#closed) this.#replies?.set(key, reply, ttlSeconds ?? this.#defaultTtlSeconds);
  }

  static async create(config: CacheConfig, options: ResponseCacheOptions = {}): Promise<ResponseCache> {
    const sink = options.sink ?? NO_SINK;
    const l2 = config.redis
      ? await (await import('./redis-level.js')).RedisLevel.open(config.redis, (reason) => sink.error('l2', reason), options.logger)
      : undefined;
    return new ResponseCache(config, options, l2);
  }

  /** The key of a request: see key.ts for what it covers and the hash. */
  key(parts: CacheKeyParts): CacheKey {
    return makeKey(parts, this.#keyHash);
  }

  get l2State(): L2State {
    return this.#l2 ? this.#l2.state : 'disabled';
  }

  /** Bytes L1 holds (its budget's accounting). */
  get l1Bytes(): number {
    return this.#l1?.calculatedSize ?? 0;
  }

  /** Triton's per-model cache statistics (cache_hit, cache_miss): counts and cumulative lookup ns. */
  modelStats(model: string): ModelCacheStats {
    const s = this.#stats.get(model);
    return {
      hits: { count: s?.hitCount ?? 0, ns: s?.hitNs ?? 0 },
      misses: { count: s?.missCount ?? 0, ns: s?.missNs ?? 0 },
    };
  }

  /**
   * L1 → L2 (a hit fills L1) → compute (fills both). Identical concurrent misses share one L2 lookup and
   * one compute: the first caller's result (or failure: failures are not cached) goes to all.
   * `ttlSeconds` (or the Redis default TTL) bounds the entry's life at both levels; none: LRU only.
   */
  getOrCompute(
    key: CacheKey,
    model: string,
    ttlSeconds: number | undefined,
    compute: () => Promise<InferOutputs>,
    /** Where modelStats() counts this lookup (default `model`; the server uses model and version). */
    statsKey: string = model,
  ): Promise<CacheResult> {
    const t0 = performance.now();
    const l1 = this.#l1;
    if (l1) {
      const entry = l1.get(key.id);
      if (entry !== undefined) {
        if (entry.check0 === key.check0 && entry.check1 === key.check1 && entry.length === key.length) {
          const dt = performance.now() - t0;
          this.#hit('l1', model, statsKey, dt);
          return Promise.resolve({ outputs: shallowCopy(entry.outputs), source: 'l1' });
        }
        this.#sink.error('l1', 'collision');
      }
    }
    const flight = this.#flights.get(key.id);
    if (flight && flight.check0 === key.check0 && flight.check1 === key.check1 && flight.length === key.length) {
      // Joins the lookup or compute in progress. For the level metrics it is a miss that ended at L1
      // (it tried no other level itself); for the model's statistics it is served without running
      // the model, like a hit (Triton counts hits as successes; a joiner that succeeds must count).
      const ms = performance.now() - t0;
      if (l1) this.#sink.miss('l1', model, ms / 1000, true);
      else this.#sink.miss('l2', model, 0, true);
      return flight.shared.then((outputs) => {
        const s = this.#cell(statsKey);
        s.hitCount++;
        s.hitNs += Math.round((performance.now() - t0) * 1e6);
        return { outputs: shallowCopy(outputs), source: 'coalesced' as const };
      });
    }
    const ttl = ttlSeconds ?? this.#defaultTtlSeconds;
    const promise = this.#lead(key, model, statsKey, ttl, compute, t0);
    if (flight) return promise; // same id, different check: a hash collision; not shared, not registered
    const shared = promise.then((r) => shallowCopy(r.outputs));
    shared.catch(() => {}); // rejections reach joiners through their own chains
    const own: Flight = { shared, check0: key.check0, check1: key.check1, length: key.length };
    this.#flights.set(key.id, own);
    const settle = (): void => {
      if (this.#flights.get(key.id) === own) this.#flights.delete(key.id);
    };
    promise.then(settle, settle);
    return promise;
  }

  /** The first caller for a key: L2, then compute. Registered as the flight before its first await. */
  async #lead(
    key: CacheKey,
    model: string,
    statsKey: string,
    ttl: number | undefined,
    compute: () => Promise<InferOutputs>,
    t0: number,
  ): Promise<CacheResult> {
    const l2 = !this.#closed && this.#l2 && this.#l2.tryAcquire() ? this.#l2 : undefined;
    if (this.#l1) this.#sink.miss('l1', model, (performance.now() - t0) / 1000, l2 === undefined);
    else if (!l2) this.#sink.miss('l2', model, 0, true); // L2 skipped (circuit open): still one final miss
    let lookupMs = performance.now() - t0;
    if (l2) {
      const t1 = performance.now();
      const found = await this.#l2Get(l2, key);
      const dt = performance.now() - t1;
      if (found) {
        this.#hit('l2', model, statsKey, performance.now() - t0, dt);
        return { outputs: shallowCopy(found.outputs), source: 'l2' };
      }
      this.#sink.miss('l2', model, dt / 1000, true);
      lookupMs = performance.now() - t0;
    }
    const outputs = await compute();
    const t2 = performance.now();
    this.#store(key, ttl, outputs);
    this.#miss(statsKey, lookupMs + (performance.now() - t2));
    return { outputs, source: 'compute' };
  }

  /** An L2 lookup that never throws: a failure is counted (and may open the circuit), then a miss. */
  async #l2Get(l2: RedisLevel, key: CacheKey): Promise<L1Entry | undefined> {
    let raw: Buffer | null;
    try {
      raw = await l2.get(this.#redisKey(key));
      l2.succeeded();
    } catch (err) {
      l2.failed(err);
      return undefined;
    }
    if (raw === null) return undefined;
    try {
      const value = standalone(raw);
      const decoded = decodeValue(value);
      if (decoded.check0 !== key.check0 || decoded.check1 !== key.check1 || decoded.length !== key.length) {
        this.#sink.error('l2', 'collision');
        return undefined;
      }
      const entry: L1Entry = { outputs: decoded.outputs, check0: decoded.check0, check1: decoded.check1, length: decoded.length };
      if (this.#l1 && !this.#closed) {
        const now = Date.now();
        if (decoded.expiresAt === 0) this.#l1.set(key.id, entry, { size: entrySize(value, entry.outputs) });
        else if (decoded.expiresAt > now) this.#l1.set(key.id, entry, { size: entrySize(value, entry.outputs), ttl: Math.max(1, Math.round(decoded.expiresAt - now)) });
      }
      return entry;
    } catch (err) {
      this.#sink.error('l2', err instanceof CodecError ? 'decode' : 'other');
      return undefined;
    }
  }

  /** Fills L1 and L2 with a computed result; failures are counted, never thrown. */
  #store(key: CacheKey, ttl: number | undefined, outputs: InferOutputs): void {
    if (this.#closed || (!this.#l1 && !this.#l2?.writable)) return;
    const ttlMs = ttl !== undefined && ttl > 0 ? ttl * 1000 : undefined;
    let value: Buffer;
    try {
      value = encodeValue(outputs, {
        check0: key.check0,
        check1: key.check1,
        length: key.length,
        expiresAt: ttlMs !== undefined ? Date.now() + ttlMs : 0,
      });
    } catch (err) {
      this.#sink.error(this.#l1 ? 'l1' : 'l2', 'encode');
      this.#log?.warn({ model: key.model, err: (err as Error).message }, 'response cache: output not cacheable');
      return;
    }
    if (this.#l1) {
      try {
        const decoded = decodeValue(value);
        const entry: L1Entry = { outputs: decoded.outputs, check0: key.check0, check1: key.check1, length: key.length };
        const size = entrySize(value, entry.outputs);
        if (ttlMs !== undefined) this.#l1.set(key.id, entry, { size, ttl: Math.max(1, Math.round(ttlMs)) });
        else this.#l1.set(key.id, entry, { size });
      } catch {
        this.#sink.error('l1', 'other');
      }
    }
    if (this.#l2?.writable) {
      try {
        this.#l2.set(this.#redisKey(key), value, ttlMs);
      } catch (err) {
        this.#l2.failed(err);
      }
    }
  }

  #redisKey(key: CacheKey): string {
    return `${this.#keyPrefix}${key.model}:${key.id}`;
  }

  #cell(model: string): StatsCell {
    let s = this.#stats.get(model);
    if (!s) this.#stats.set(model, (s = { hitCount: 0, hitNs: 0, missCount: 0, missNs: 0 }));
    return s;
  }

  /** `totalMs`: the whole lookup (Triton's cache_hit duration); `levelMs`: this level's, for the sink. */
  #hit(level: CacheLevel, model: string, statsKey: string, totalMs: number, levelMs = totalMs): void {
    const s = this.#cell(statsKey);
    s.hitCount++;
    s.hitNs += Math.round(totalMs * 1e6);
    this.#sink.hit(level, model, levelMs / 1000);
  }

  /** Triton's cache_miss: lookup plus insertion time. */
  #miss(model: string, ms: number): void {
    const s = this.#cell(model);
    s.missCount++;
    s.missNs += Math.round(ms * 1e6);
  }

  /** Stops using Redis and empties L1; calls already running complete (their results are not stored). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#l1?.clear();
    this.#replies?.clear();
    await this.#l2?.close();
  }
}

export { CacheKey, type CacheKeyParts };
