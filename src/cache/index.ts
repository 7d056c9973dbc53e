// Two-level response cache: L1 in-process LRU bounded in bytes, L2 Redis, with request coalescing.
export { ResponseCache, type CacheSink, type CacheSource, type CacheResult, type CacheLevel, type ModelCacheStats, type ResponseCacheOptions } from './response-cache.js';
export { CacheKey, makeKey, type CacheKeyParts, type KeyHash } from './key.js';
export { parseCacheFlags, parseByteSize, CacheConfigError, type CacheConfig } from './config.js';
export { encodeValue, decodeValue, CodecError, type ValueMeta, type DecodedValue } from './codec.js';
export type { L2State, CacheLogger } from './redis-level.js';
export { ReplyTier, type CachedReply, type EncodedReply, type ReplyKey, type ReplyKeyParts } from './reply-tier.js';
