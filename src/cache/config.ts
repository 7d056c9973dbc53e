// Response cache configuration and the `--cache` server flag:
//   --cache local,size=64MiB
//   --cache redis,url=redis://host:6379/0[,ttl_s=N][,timeout_ms=N][,connect_timeout_ms=N][,retry_ms=N][,prefix=P]
// repeatable (one per level); either may also carry hash=murmur3|sha256 (the key hash, cache-wide).
import type { KeyHash } from './key.js';

export interface CacheConfig {
  /** L1: in-process LRU bounded in bytes. */
  local?: { sizeBytes: number };
  /** L2: Redis, shared by replicas. Optional and never a single point of failure. */
  redis?: {
    url: string;
    /** Default TTL of entries when a request gives none (both levels). */
    ttlSeconds?: number;
    /** Per-command timeout (default 50 ms): a slower Redis counts as failed and the request computes. */
    commandTimeoutMs?: number;
    /** TCP connect timeout (default 1000 ms); create() waits at most this long for the first connection. */
    connectTimeoutMs?: number;
    /** How long the circuit stays open after a failure, and the reconnect interval (default 1000 ms). */
    retryMs?: number;
    /** Prefix of every Redis key (default 'tg:'); keys are `${prefix}${model}:${hash}`. */
    keyPrefix?: string;
  };
  /**
   * Key hash (default 'murmur3': fastest, with a stored 64-bit check against accidental collisions).
   * 'sha256' where untrusted clients could forge collisions to poison each other's results.
   */
  keyHash?: KeyHash;
}

export class CacheConfigError extends Error {
  override name = 'CacheConfigError';
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt])?(i)?b?$/i;

/** '67108864', '64MiB' (1024-based), '64MB' / '64M' (1000-based), as the other size flags take them. */
export function parseByteSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't';
  const base = m[3] ? 1024 : 1000;
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[unit];
  return Math.round(Number(m[1]) * base ** power);
}

const LEVEL_OPTIONS = {
  local: ['size', 'hash'],
  redis: ['url', 'ttl_s', 'timeout_ms', 'connect_timeout_ms', 'retry_ms', 'prefix', 'hash'],
} as const;

/**
 * Parses the values of repeated `--cache` flags (a leading '--cache=' is tolerated) into a config.
 * Throws CacheConfigError with a message naming the flag and the problem.
 */
export function parseCacheFlags(flags: readonly string[]): CacheConfig {
  const config: CacheConfig = {};
  for (const raw of flags) {
    const flag = raw.startsWith('--cache=') ? raw.slice('--cache='.length) : raw;
    const where = `--cache '${flag}'`;
    const [kind, ...rest] = flag.split(',').map((s) => s.trim());
    if (kind !== 'local' && kind !== 'redis') {
      throw new CacheConfigError(`${where}: the first item must be 'local' or 'redis' (e.g. --cache local,size=64MiB or --cache redis,url=redis://127.0.0.1:6379)`);
    }
    if (config[kind]) throw new CacheConfigError(`${where}: the ${kind} cache is configured twice`);
    const opts = new Map<string, string>();
    for (const item of rest) {
      if (item === '') continue;
      const eq = item.indexOf('=');
      if (eq <= 0) throw new CacheConfigError(`${where}: '${item}' is not key=value`);
      const key = item.slice(0, eq).trim();
      const value = item.slice(eq + 1).trim();
      if (!(LEVEL_OPTIONS[kind] as readonly string[]).includes(key)) {
        throw new CacheConfigError(`${where}: unknown option '${key}' for ${kind} (valid: ${LEVEL_OPTIONS[kind].join(', ')})`);
      }
      if (opts.has(key)) throw new CacheConfigError(`${where}: '${key}' given twice`);
      if (value === '') throw new CacheConfigError(`${where}: '${key}' needs a value`);
      opts.set(key, value);
    }
    const hash = opts.get('hash');
    if (hash !== undefined) {
      if (hash !== 'murmur3' && hash !== 'sha256') throw new CacheConfigError(`${where}: hash must be murmur3 or sha256, not '${hash}'`);
      if (config.keyHash && config.keyHash !== hash) throw new CacheConfigError(`${where}: hash=${hash} conflicts with hash=${config.keyHash}`);
      config.keyHash = hash;
    }
    if (kind === 'local') {
      const size = opts.get('size');
      if (size === undefined) throw new CacheConfigError(`${where}: size is required (e.g. size=64MiB)`);
      const bytes = parseByteSize(size);
      if (bytes === undefined || bytes < 1) throw new CacheConfigError(`${where}: size must be a byte count above 0 such as 67108864, 64MiB or 2GB, not '${size}'`);
      config.local = { sizeBytes: bytes };
    } else {
      const url = opts.get('url');
      if (url === undefined) throw new CacheConfigError(`${where}: url is required (e.g. url=redis://127.0.0.1:6379)`);
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new CacheConfigError(`${where}: url '${url}' is not a URL`);
      }
      if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
        throw new CacheConfigError(`${where}: url must start with redis:// or rediss://, not '${parsed.protocol}//'`);
      }
      const redis: NonNullable<CacheConfig['redis']> = { url };
      const num = (key: string, integer: boolean): number | undefined => {
        const v = opts.get(key);
        if (v === undefined) return undefined;
        const n = Number(v);
        if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0) || (integer && !Number.isInteger(n))) {
          throw new CacheConfigError(`${where}: ${key} must be a ${integer ? 'whole ' : ''}number above 0, not '${v}'`);
        }
        return n;
      };
      const ttl = num('ttl_s', false);
      if (ttl !== undefined) redis.ttlSeconds = ttl;
      const timeout = num('timeout_ms', true);
      if (timeout !== undefined) redis.commandTimeoutMs = timeout;
      const connect = num('connect_timeout_ms', true);
      if (connect !== undefined) redis.connectTimeoutMs = connect;
      const retry = num('retry_ms', true);
      if (retry !== undefined) redis.retryMs = retry;
      const prefix = opts.get('prefix');
      if (prefix !== undefined) redis.keyPrefix = prefix;
      config.redis = redis;
    }
  }
  return config;
}
