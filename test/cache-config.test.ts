// The `--cache` flag.
import { describe, expect, it } from 'vitest';
import { CacheConfigError, parseByteSize, parseCacheFlags } from '../src/cache/config.js';

describe('parseCacheFlags', () => {
  it('parses local and redis levels, repeatable', () => {
    expect(parseCacheFlags([])).toEqual({});
    expect(parseCacheFlags(['local,size=64MiB'])).toEqual({ local: { sizeBytes: 64 * 1024 * 1024 } });
    expect(
      parseCacheFlags(['local,size=1000000', 'redis,url=redis://10.0.0.5:6380/2,ttl_s=300,timeout_ms=25,connect_timeout_ms=500,retry_ms=2000,prefix=svc:']),
    ).toEqual({
      local: { sizeBytes: 1_000_000 },
      redis: { url: 'redis://10.0.0.5:6380/2', ttlSeconds: 300, commandTimeoutMs: 25, connectTimeoutMs: 500, retryMs: 2000, keyPrefix: 'svc:' },
    });
    expect(parseCacheFlags(['--cache=redis,url=rediss://cache.internal:6379'])).toEqual({ redis: { url: 'rediss://cache.internal:6379' } });
    expect(parseCacheFlags(['redis,url=redis://h:1,ttl_s=0.5'])).toEqual({ redis: { url: 'redis://h:1', ttlSeconds: 0.5 } });
    expect(parseCacheFlags(['local,size=1KiB,hash=sha256', 'redis,url=redis://h:1,hash=sha256']).keyHash).toBe('sha256');
  });

  it('takes sizes as the other size flags do', () => {
    expect(parseByteSize('64MiB')).toBe(67108864);
    expect(parseByteSize('64MB')).toBe(64_000_000);
    expect(parseByteSize('2G')).toBe(2_000_000_000);
    expect(parseByteSize('1.5KiB')).toBe(1536);
    expect(parseByteSize('12')).toBe(12);
    expect(parseByteSize('lots')).toBeUndefined();
  });

  it('rejects bad flags with messages that say what is wrong', () => {
    const bad: Array<[string[], RegExp]> = [
      [['memory,size=1MiB'], /first item must be 'local' or 'redis'/],
      [[''], /first item must be/],
      [['local'], /size is required/],
      [['local,size=big'], /size must be a byte count/],
      [['local,size=0'], /size must be a byte count above 0/],
      [['local,size=1MiB', 'local,size=2MiB'], /configured twice/],
      [['local,size=1MiB,ttl_s=3'], /unknown option 'ttl_s' for local/],
      [['local,size'], /'size' is not key=value/],
      [['local,size=1MiB,size=2MiB'], /'size' given twice/],
      [['redis'], /url is required/],
      [['redis,url=localhost:6379x'], /url must start with redis:\/\/|is not a URL/],
      [['redis,url=http://h:6379'], /url must start with redis:\/\//],
      [['redis,url=nope'], /is not a URL/],
      [['redis,url=redis://h:1,ttl_s=-1'], /ttl_s must be a number above 0/],
      [['redis,url=redis://h:1,timeout_ms=2.5'], /timeout_ms must be a whole number above 0/],
      [['redis,url=redis://h:1,retry_ms='], /'retry_ms' needs a value/],
      [['redis,url=redis://h:1,hash=md5'], /hash must be murmur3 or sha256/],
      [['local,size=1,hash=sha256', 'redis,url=redis://h:1,hash=murmur3'], /conflicts/],
    ];
    for (const [flags, message] of bad) {
      expect(() => parseCacheFlags(flags), flags.join(' ')).toThrow(CacheConfigError);
      expect(() => parseCacheFlags(flags), flags.join(' ')).toThrow(message);
    }
  });
});
