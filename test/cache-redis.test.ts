// The response cache with a real redis-server as L2: hits from each level, TTL at both levels, binary
// values, coalesced L2 lookups, and Redis failing (killed mid-load, hung, unreachable at start, back).
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ResponseCache, type CacheConfig, type CacheKeyParts, type CacheSink } from '../src/cache/index.js';
import type { InferOutputs } from '../src/engine/index.js';
import { classifyRedisError } from '../src/cache/redis-level.js';
import { freePort, redisServerAvailable, RedisServer } from './helpers/redis-server.js';
import { until } from './helpers/fixtures.js';
import { RecordingSink } from './helpers/cache-sink.js';

const parts = (n: number, model = 'm'): CacheKeyParts => ({
  model,
  version: '1',
  contentHash: 'c0ffee',
  inputs: { x: { datatype: 'INT32', shape: [2], data: Int32Array.of(n, -n) } },
});

const outputsFor = (n: number): InferOutputs => ({
  y: { datatype: 'FP64', shape: [1, 3], data: Float64Array.of(n, n / 3, -n) },
  ids: { datatype: 'INT64', shape: [2], data: BigInt64Array.of(BigInt(n), 7n) },
  text: { datatype: 'BYTES', shape: [2], data: [Buffer.from(`t${n}`), Buffer.from([0, 1, 2])] },
  flag: { datatype: 'BOOL', shape: [], data: Uint8Array.of(1) },
});

let prefixes = 0;
const hasRedis = redisServerAvailable();
if (!hasRedis) console.warn('redis-server is not installed: the L2 tests are skipped (apt-get install -y redis-server)');

describe.skipIf(!hasRedis)('ResponseCache with Redis (L2)', () => {
  let server: RedisServer;
  let raw: Redis;
  const open: ResponseCache[] = [];

  /** A cache on the shared server, with its own key prefix per test (so tests do not see each other). */
  let prefix = '';
  const make = async (over: Partial<CacheConfig> & { sink?: CacheSink } = {}, redis: Partial<NonNullable<CacheConfig['redis']>> = {}): Promise<ResponseCache> => {
    const { sink, ...rest } = over;
    const cache = await ResponseCache.create(
      { local: { sizeBytes: 1 << 20 }, redis: { url: server.url, keyPrefix: prefix, commandTimeoutMs: 1000, retryMs: 200, ...redis }, ...rest },
      sink ? { sink } : {},
    );
    open.push(cache);
    return cache;
  };
  const fresh = (): void => {
    prefix = `t${++prefixes}:`;
  };

  beforeAll(async () => {
    server = await RedisServer.start();
    raw = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await raw.connect();
  });

  afterAll(async () => {
    for (const c of open) await c.close();
    raw?.disconnect();
    await server?.stop();
  });

  it('hits L2 from a fresh instance, which fills its L1; values are compact binary', async () => {
    fresh();
    const sinkA = new RecordingSink();
    const a = await make({ sink: sinkA });
    expect(a.l2State).toBe('connected');
    const key = a.key(parts(1));
    const compute = vi.fn(async () => outputsFor(1));
    expect((await a.getOrCompute(key, 'm', undefined, compute)).source).toBe('compute');
    expect((await a.getOrCompute(key, 'm', undefined, compute)).source).toBe('l1');
    expect(sinkA.events).toEqual(['miss l1 m', 'miss l2 m final', 'hit l1 m']);

    // The value in Redis: binary, magic 'TGC1', header + raw tensor bytes.
    await sleep(20); // the fire-and-forget write
    const stored = await raw.getBuffer(`${prefix}m:${key.id}`);
    expect(stored).not.toBeNull();
    expect(stored!.subarray(0, 4).toString('latin1')).toBe('TGC1');
    expect(stored!.length).toBeLessThan(300);
    expect(stored!.includes(Buffer.from(Float64Array.of(1, 1 / 3, -1).buffer))).toBe(true);

    const sinkB = new RecordingSink();
    const b = await make({ sink: sinkB });
    const hit = await b.getOrCompute(b.key(parts(1)), 'm', undefined, compute);
    expect(hit.source).toBe('l2');
    expect(hit.outputs).toEqual(outputsFor(1));
    expect((await b.getOrCompute(b.key(parts(1)), 'm', undefined, compute)).source).toBe('l1');
    expect(compute).toHaveBeenCalledTimes(1);
    expect(sinkB.events).toEqual(['miss l1 m', 'hit l2 m', 'hit l1 m']);
    expect(b.modelStats('m').hits.count).toBe(2);
    expect(b.modelStats('m').misses.count).toBe(0);

    // L2 only (no L1): every lookup goes to Redis.
    const c = await make({ local: undefined });
    expect((await c.getOrCompute(c.key(parts(1)), 'm', undefined, compute)).source).toBe('l2');
    expect((await c.getOrCompute(c.key(parts(1)), 'm', undefined, compute)).source).toBe('l2');
  });

  it('treats a value it cannot decode as a miss, counts it, and replaces it', async () => {
    fresh();
    const sink = new RecordingSink();
    const cache = await make({ sink });
    const key = cache.key(parts(30));
    await raw.set(`${prefix}m:${key.id}`, JSON.stringify({ not: 'a tensor value' }));
    const r = await cache.getOrCompute(key, 'm', undefined, async () => outputsFor(30));
    expect(r.source).toBe('compute');
    expect(sink.events).toContain('error l2 decode');
    await sleep(20);
    const other = await make();
    expect((await other.getOrCompute(key, 'm', undefined, async () => outputsFor(-1))).outputs).toEqual(outputsFor(30));
  });

  it('finds an entry evicted from L1 in L2', async () => {
    fresh();
    const cache = await make({ local: { sizeBytes: 1000 } }); // holds about one entry
    const compute = (n: number) => async () => outputsFor(n);
    for (const n of [1, 2, 3]) await cache.getOrCompute(cache.key(parts(n)), 'm', undefined, compute(n));
    await sleep(20); // the fire-and-forget writes
    const r = await cache.getOrCompute(cache.key(parts(1)), 'm', undefined, compute(99));
    expect(r.source).toBe('l2');
    expect(r.outputs).toEqual(outputsFor(1));
  });

  it('expires entries at both levels after the TTL; L1 filled from L2 keeps only the time left', async () => {
    fresh();
    const a = await make();
    const key = a.key(parts(2));
    const compute = vi.fn(async () => outputsFor(2));
    expect((await a.getOrCompute(key, 'm', 0.4, compute)).source).toBe('compute');
    await sleep(20);
    const pttl = await raw.pttl(`${prefix}m:${key.id}`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(400);
    await sleep(150);
    const b = await make();
    expect((await b.getOrCompute(key, 'm', 0.4, compute)).source).toBe('l2'); // fills b's L1 for ~230 ms
    expect((await b.getOrCompute(key, 'm', 0.4, compute)).source).toBe('l1');
    await sleep(350);
    expect((await b.getOrCompute(key, 'm', 0.4, compute)).source).toBe('compute'); // L1 and L2 both expired
    expect(compute).toHaveBeenCalledTimes(2);

    // The Redis default TTL applies when the request gives none.
    fresh();
    const c = await make({}, { ttlSeconds: 0.2 });
    const k2 = c.key(parts(3));
    await c.getOrCompute(k2, 'm', undefined, async () => outputsFor(3));
    await sleep(20);
    expect(await raw.pttl(`${prefix}m:${k2.id}`)).toBeGreaterThan(0);
    await sleep(250);
    expect(await raw.exists(`${prefix}m:${k2.id}`)).toBe(0);
    expect((await c.getOrCompute(k2, 'm', undefined, async () => outputsFor(3))).source).toBe('compute');
  });

  it('coalesces identical concurrent misses into one L2 GET, and pipelines distinct ones', async () => {
    fresh();
    const a = await make();
    await a.getOrCompute(a.key(parts(4)), 'm', undefined, async () => outputsFor(4));
    await sleep(20);
    const b = await make();
    const getsBefore = await getCalls(raw);
    const compute = vi.fn(async () => outputsFor(0));
    const results = await Promise.all(Array.from({ length: 100 }, () => b.getOrCompute(b.key(parts(4)), 'm', undefined, compute)));
    expect(compute).not.toHaveBeenCalled();
    expect(results.filter((r) => r.source === 'l2')).toHaveLength(1);
    expect(results.filter((r) => r.source === 'coalesced')).toHaveLength(99);
    for (const r of results) expect(r.outputs).toEqual(outputsFor(4));
    expect((await getCalls(raw)) - getsBefore).toBe(1);

    // 200 distinct lookups in one tick all complete (one pipeline), then are L1 hits.
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => b.getOrCompute(b.key(parts(1000 + i)), 'm', undefined, async () => outputsFor(i))));
    expect(many.every((r) => r.source === 'compute')).toBe(true);
    const again = await Promise.all(Array.from({ length: 200 }, (_, i) => b.getOrCompute(b.key(parts(1000 + i)), 'm', undefined, async () => outputsFor(-1))));
    expect(again.every((r, i) => r.source === 'l1' && (r.outputs.y!.data as Float64Array)[0] === i)).toBe(true);
  });

  it('keeps serving when Redis is killed mid-load, opens the circuit, and uses L2 again once it is back', async () => {
    const own = await RedisServer.start();
    try {
      fresh();
      const sink = new RecordingSink();
      const cache = await ResponseCache.create(
        { local: { sizeBytes: 64 * 1024 }, redis: { url: own.url, keyPrefix: prefix, commandTimeoutMs: 500, retryMs: 250 } },
        { sink },
      );
      open.push(cache);
      expect(cache.l2State).toBe('connected');

      let calls = 0;
      let rejected = 0;
      let stop = false;
      const seen = new Set<string>();
      const worker = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const n = (w * 7 + i) % 400; // repeats: L1 and L2 hits as well as misses
          calls++;
          try {
            const r = await cache.getOrCompute(cache.key(parts(n)), 'm', undefined, async () => {
              await new Promise((res) => setImmediate(res));
              return outputsFor(n);
            });
            seen.add(r.source);
            if ((r.outputs.y!.data as Float64Array)[0] !== n) throw new Error('wrong result');
          } catch {
            rejected++;
          }
        }
      };
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      await sleep(400);
      const before = calls;
      await own.kill();
      await until(() => cache.l2State === 'open-circuit', 'the circuit to open', 3000, 20);
      await sleep(500); // keep loading while Redis is down (reconnects fail in the background)
      stop = true;
      await Promise.all(workers);
      expect(rejected).toBe(0);
      expect(calls - before).toBeGreaterThan(50);
      expect(seen.has('l1')).toBe(true);
      expect(cache.l2State).toBe('open-circuit');
      expect(sink.count('error l2 connection')).toBeGreaterThan(0);
      expect(sink.count('error l2 reply')).toBe(0);

      // Redis comes back on the same port: after the retry interval the circuit closes by itself.
      await own.restart();
      await until(() => cache.l2State === 'connected', 'L2 to reconnect', 5000, 20);
      const k = cache.key(parts(5000));
      expect((await cache.getOrCompute(k, 'm', undefined, async () => outputsFor(5000))).source).toBe('compute');
      await sleep(30);
      const other = await ResponseCache.create({ redis: { url: own.url, keyPrefix: prefix, commandTimeoutMs: 1000 } }, {});
      open.push(other);
      const r = await other.getOrCompute(other.key(parts(5000)), 'm', undefined, async () => outputsFor(-1));
      expect(r.source).toBe('l2');
      expect(r.outputs).toEqual(outputsFor(5000));
    } finally {
      await own.kill();
    }
  });

  it('times out on a hung Redis, opens the circuit, and probes again after the retry interval', async () => {
    const own = await RedisServer.start();
    try {
      fresh();
      const sink = new RecordingSink();
      const cache = await ResponseCache.create(
        { local: { sizeBytes: 1 << 20 }, redis: { url: own.url, keyPrefix: prefix, commandTimeoutMs: 250, retryMs: 1000 } },
        { sink },
      );
      open.push(cache);
      process.kill(own.pid!, 'SIGSTOP');
      try {
        const t0 = performance.now();
        const r = await cache.getOrCompute(cache.key(parts(6)), 'm', undefined, async () => outputsFor(6));
        const took = performance.now() - t0;
        expect(r.source).toBe('compute');
        expect(took).toBeGreaterThanOrEqual(240);
        expect(took).toBeLessThan(2000);
        expect(sink.events).toContain('error l2 timeout');
        expect(cache.l2State).toBe('open-circuit');
        // While open, lookups skip Redis: no waiting.
        const t1 = performance.now();
        expect((await cache.getOrCompute(cache.key(parts(7)), 'm', undefined, async () => outputsFor(7))).source).toBe('compute');
        expect(performance.now() - t1).toBeLessThan(200);
      } finally {
        process.kill(own.pid!, 'SIGCONT');
      }
      await sleep(1050);
      // The first lookup after the interval probes Redis, which answers: the circuit closes.
      expect((await cache.getOrCompute(cache.key(parts(8)), 'm', undefined, async () => outputsFor(8))).source).toBe('compute');
      expect(cache.l2State).toBe('connected');
    } finally {
      await own.kill();
    }
  });

  it('starts without a reachable Redis and serves from L1 and compute', async () => {
    const port = await freePort();
    const sink = new RecordingSink();
    const t0 = Date.now();
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 }, redis: { url: `redis://127.0.0.1:${port}`, retryMs: 200 } }, { sink });
    open.push(cache);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(cache.l2State).toBe('open-circuit');
    const compute = vi.fn(async () => outputsFor(9));
    expect((await cache.getOrCompute(cache.key(parts(9)), 'm', undefined, compute)).source).toBe('compute');
    expect((await cache.getOrCompute(cache.key(parts(9)), 'm', undefined, compute)).source).toBe('l1');
    await sleep(300);
    expect((await cache.getOrCompute(cache.key(parts(10)), 'm', undefined, async () => outputsFor(10))).source).toBe('compute');
    expect(sink.count('error l2 connection')).toBeGreaterThan(0);

    // Without L1 either: every request computes, none fails.
    const bare = await ResponseCache.create({ redis: { url: `redis://127.0.0.1:${port}`, retryMs: 200 } }, {});
    open.push(bare);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => bare.getOrCompute(bare.key(parts(i % 5)), 'm', undefined, async () => outputsFor(i % 5))));
    expect(results.every((r, i) => (r.outputs.y!.data as Float64Array)[0] === i % 5)).toBe(true);
    const t1 = Date.now();
    await bare.close();
    expect(Date.now() - t1).toBeLessThan(500);
  });
});

describe('classifyRedisError', () => {
  it('maps ioredis failures to few reasons', () => {
    expect(classifyRedisError(new Error('Command timed out'))).toBe('timeout');
    expect(classifyRedisError(new Error('Connection is closed.'))).toBe('connection');
    expect(classifyRedisError(new Error("Stream isn't writeable and enableOfflineQueue options is false"))).toBe('connection');
    expect(classifyRedisError(new Error('Reached the max retries per request limit (which is 0).'))).toBe('connection');
    expect(classifyRedisError(new Error('connect ECONNREFUSED 127.0.0.1:1'))).toBe('connection');
    expect(classifyRedisError(new Error("OOM command not allowed when used memory > 'maxmemory'."))).toBe('reply');
  });
});

async function getCalls(client: Redis): Promise<number> {
  const info = await client.info('commandstats');
  const m = /cmdstat_get:calls=(\d+)/.exec(info);
  return m ? Number(m[1]) : 0;
}
