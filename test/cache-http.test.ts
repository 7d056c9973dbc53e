// The response cache end to end (issue 6): real HTTP servers started through startServer() (the
// `tensorgate serve` code path, `--cache` flags), temp model repositories whose config.json enables
// response_cache, and a real redis-server on a free loopback port as the shared L2 tier.
//   1. hits from each level: compute, L1 hit, L2 hit on a second server (replica) sharing the Redis
//   2. TTL expiry (ttl_s in the model config) at both levels
//   3. coalescing: 100 identical concurrent requests on a cold cache -> one inference
//   4. a swapped model (same version replaced, then a new version) never answers from old entries
//   5. Redis SIGKILLed under load: no failed request; back on the same port -> L2 used again
//   6. models that do not opt in are never cached; opting in without --cache serves and warns
// and: Redis unreachable at start, per-version keys and statistics, a coalesced request and the first
// requester's own timeout.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slowBatchModel, tinyModel } from '../src/onnx/models.js';
import {
  addConst16,
  binaryInferBody,
  infer,
  inferBody,
  keepAliveAgent,
  metric,
  modelStats,
  outputY,
  plus,
  row16,
  samples,
  scrape,
  send,
  sleep,
  startCacheServer,
  tempRepository,
  until,
  type CacheTestServer,
  type LogSink,
  type Reply,
  type TempRepo,
} from './helpers/cache-http-kit.js';
import { freePort, redisServerAvailable, RedisServer } from './helpers/redis-server.js';

const hasRedis = redisServerAvailable();
if (!hasRedis) console.warn('redis-server is not installed: the response-cache HTTP tests are skipped (apt-get install -y redis-server)');

const CACHED = { response_cache: { enable: true } };
/** One ORT thread for the slow model (2-core machines: the event loop keeps a core). */
const ONE_THREAD = { intra_op_thread_count: { string_value: '1' } };
const L1 = 'local,size=16MiB';

describe.skipIf(!hasRedis)('response cache over HTTP with a real Redis', () => {
  let redis: RedisServer;
  let raw: Redis;
  const servers: CacheTestServer[] = [];
  const repos: TempRepo[] = [];
  const extraRedis: RedisServer[] = [];

  /** `--cache redis,...` on the shared Redis, with a per-test key prefix (tests never see each other). */
  const l2 = (prefix: string, extra = '') => `redis,url=${redis.url},prefix=${prefix},timeout_ms=1000${extra}`;
  const start = async (...args: Parameters<typeof startCacheServer>): Promise<CacheTestServer> => {
    const s = await startCacheServer(...args);
    servers.push(s);
    return s;
  };
  const repo = (...args: Parameters<typeof tempRepository>): TempRepo => {
    const r = tempRepository(...args);
    repos.push(r);
    return r;
  };
  const keys = (prefix: string, r: Redis = raw) => r.keys(`${prefix}*`);

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await raw.connect();
  });

  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    raw?.disconnect();
    await Promise.allSettled([redis?.stop(), ...extraRedis.map((r) => r.stop())]);
    for (const r of repos) r.cleanup();
  });

  it('computes once, then hits L1; a second server sharing Redis hits L2 without running the model', async () => {
    const { root } = repo({ tiny: { versions: { 1: tinyModel() }, config: CACHED } });
    const a = await start({ modelRepository: root, cache: [L1, l2('t1:')] });
    const x = row16(1);

    // 1st request: computed.
    const first = await infer(a.port, 'tiny', x, { id: 'first' });
    expect(outputY(first)).toEqual(plus(x, 1));
    expect(first.json().id).toBe('first');
    expect(a.inferences('tiny')).toBe(1);
    let stats = await modelStats(a.port, 'tiny');
    expect(stats.inference_count).toBe(1);
    expect(stats.inference_stats.cache_miss.count).toBe(1);
    expect(stats.inference_stats.cache_hit.count).toBe(0);

    // 2nd: an L1 hit, with its own id echoed, and the same tensor as binary output.
    const second = await infer(a.port, 'tiny', x, { id: 'second' });
    expect(outputY(second)).toEqual(plus(x, 1));
    expect(second.json().id).toBe('second');
    const bin = await send(a.port, 'POST', '/v2/models/tiny/infer', inferBody(x, { parameters: { binary_data_output: true } }));
    expect(bin.status).toBe(200);
    const headerLength = Number(bin.headers['inference-header-content-length']);
    const header = JSON.parse(bin.body.toString('utf8', 0, headerLength));
    expect(header.outputs[0].parameters.binary_data_size).toBe(64);
    const y = new Float32Array(bin.body.buffer.slice(bin.body.byteOffset + headerLength, bin.body.byteOffset + headerLength + 64));
    expect([...y]).toEqual(plus(x, 1));
    // The same tensor sent as binary data is the same request: another hit.
    const binIn = binaryInferBody(x);
    expect(outputY(await send(a.port, 'POST', '/v2/models/tiny/infer', binIn.body, undefined, binIn.headers))).toEqual(plus(x, 1));
    expect(a.inferences('tiny')).toBe(1);

    stats = await modelStats(a.port, 'tiny');
    expect(stats.inference_count).toBe(1);
    expect(stats.execution_count).toBe(1);
    expect(stats.inference_stats.cache_hit.count).toBe(3);
    expect(stats.inference_stats.cache_miss.count).toBe(1);
    // Triton folds hits into success.
    expect(stats.inference_stats.success.count).toBe(4);
    let text = await scrape(a.port);
    expect(metric(text, 'tensorgate_cache_hits_total', { level: 'l1', model: 'tiny' })).toBe(3);
    expect(metric(text, 'tensorgate_cache_misses_total', { level: 'l1', model: 'tiny' })).toBe(1);
    expect(metric(text, 'tensorgate_cache_misses_total', { level: 'l2', model: 'tiny' })).toBe(1);
    expect(metric(text, 'tensorgate_cache_hits_total', { level: 'l2', model: 'tiny' }) ?? 0).toBe(0);
    expect(metric(text, 'nv_cache_num_hits_per_model', { model: 'tiny' })).toBe(3);
    expect(metric(text, 'nv_cache_num_misses_per_model', { model: 'tiny' })).toBe(1);
    expect(metric(text, 'tensorgate_cache_errors_total') ?? 0).toBe(0);

    // The write to Redis is fire-and-forget: wait until it is there (one entry, with no TTL).
    await until(async () => (await keys('t1:')).length === 1, 'the entry in Redis');
    const [key] = await keys('t1:');
    expect(key).toMatch(/^t1:tiny:[0-9a-f]{32}$/);
    expect(await raw.pttl(key!)).toBe(-1);

    // A second replica: same repository bytes, same Redis, L2 only. It answers without running the model.
    const b = await start({ modelRepository: root, cache: [l2('t1:')] });
    expect(b.instance('tiny').contentHash).toBe(a.instance('tiny').contentHash);
    for (let i = 0; i < 2; i++) {
      const r = await infer(b.port, 'tiny', x);
      expect(outputY(r)).toEqual(plus(x, 1));
    }
    expect(b.inferences('tiny')).toBe(0);
    stats = await modelStats(b.port, 'tiny');
    expect(stats.inference_count).toBe(0);
    expect(stats.inference_stats.cache_hit.count).toBe(2);
    expect(stats.inference_stats.cache_miss.count).toBe(0);
    text = await scrape(b.port);
    expect(metric(text, 'tensorgate_cache_hits_total', { level: 'l2', model: 'tiny' })).toBe(2);
    expect(metric(text, 'tensorgate_cache_hits_total', { level: 'l1' }) ?? 0).toBe(0);

    // A third with L1 + L2: the L2 hit fills its L1, so the repeat is an L1 hit.
    const c = await start({ modelRepository: root, cache: [L1, l2('t1:')] });
    for (let i = 0; i < 2; i++) expect(outputY(await infer(c.port, 'tiny', x))).toEqual(plus(x, 1));
    expect(c.inferences('tiny')).toBe(0);
    text = await scrape(c.port);
    expect(metric(text, 'tensorgate_cache_hits_total', { level: 'l2', model: 'tiny' })).toBe(1);
    expect(metric(text, 'tensorgate_cache_hits_total', { level: 'l1', model: 'tiny' })).toBe(1);
    expect(metric(text, 'tensorgate_cache_misses_total', { level: 'l1', model: 'tiny' })).toBe(1);
    expect(metric(text, 'nv_cache_num_misses_per_model', { model: 'tiny' }) ?? 0).toBe(0);

    // A different input is a miss everywhere and computes once on that server.
    const other = row16(2);
    expect(outputY(await infer(c.port, 'tiny', other))).toEqual(plus(other, 1));
    expect(c.inferences('tiny')).toBe(1);
    await until(async () => (await keys('t1:')).length === 2, 'the second entry in Redis');
  });

  it('expires entries after the model config ttl_s, at both levels', async () => {
    const { root } = repo({ ttl: { versions: { 1: tinyModel() }, config: { response_cache: { enable: true, ttl_s: 1 } } } });
    const a = await start({ modelRepository: root, cache: [L1, l2('t2:')] });
    const x = row16(3);
    expect(outputY(await infer(a.port, 'ttl', x))).toEqual(plus(x, 1));
    const stored = Date.now();
    expect(a.inferences('ttl')).toBe(1);
    expect(outputY(await infer(a.port, 'ttl', x))).toEqual(plus(x, 1));
    // Only meaningful if the machine was not stalled for the whole TTL in between.
    if (Date.now() - stored < 700) expect(a.inferences('ttl')).toBe(1);

    await until(async () => (await keys('t2:')).length === 1, 'the entry in Redis');
    const [key] = await keys('t2:');
    const pttl = await raw.pttl(key!);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(1000);

    await sleep(1300);
    expect(await keys('t2:')).toEqual([]); // gone from Redis
    const before = a.inferences('ttl');
    expect(outputY(await infer(a.port, 'ttl', x))).toEqual(plus(x, 1));
    expect(a.inferences('ttl')).toBe(before + 1); // gone from L1: computed again
    const text = await scrape(a.port);
    expect(metric(text, 'tensorgate_cache_misses_total', { level: 'l2', model: 'ttl' })).toBeGreaterThanOrEqual(2);
  });

  it('coalesces 100 identical concurrent requests on a cold cache into one inference', async () => {
    const { root } = repo({
      slow: {
        versions: { 1: slowBatchModel({ ms: 30 }) },
        // A wide batching window: were the requests not coalesced, they would batch as up to 100 rows
        // (inference_count counts rows), so one counted inference proves they were.
        config: { ...CACHED, max_batch_size: 128, dynamic_batching: { max_queue_delay_microseconds: 200_000 }, parameters: ONE_THREAD },
      },
    });
    const a = await start({ modelRepository: root, cache: [L1, l2('t3:')] });
    const agent = keepAliveAgent(100);
    try {
      // Open the 100 connections first, so that the requests arrive together.
      const warm = await Promise.all(Array.from({ length: 100 }, () => send(a.port, 'GET', '/v2/health/ready', undefined, agent)));
      expect(warm.every((r) => r.status === 200)).toBe(true);
      const x = Array.from({ length: 256 }, (_, i) => (i % 17) - 8 + 0.5);
      const body = inferBody(x);
      const replies = await Promise.all(Array.from({ length: 100 }, () => send(a.port, 'POST', '/v2/models/slow/infer', body, agent)));
      expect(replies.map((r) => r.status)).toEqual(new Array(100).fill(200));
      expect(outputY(replies[0]!)).toEqual(x);
      for (const r of replies) expect(r.body.equals(replies[0]!.body)).toBe(true);

      const stats = await modelStats(a.port, 'slow');
      expect(stats.inference_count).toBe(1);
      expect(stats.execution_count).toBe(1);
      expect(a.inferences('slow')).toBe(1);
      // One miss ran the model; the other 99 joined it or hit L1 afterwards: served from the cache,
      // they count as cache hits and as successes (as Triton counts hits).
      expect(stats.inference_stats.cache_miss.count).toBe(1);
      expect(stats.inference_stats.cache_hit.count).toBe(99);
      expect(stats.inference_stats.success.count).toBe(100);
      const text = await scrape(a.port);
      // One L2 lookup for the whole flight.
      expect(metric(text, 'tensorgate_cache_misses_total', { level: 'l2', model: 'slow' })).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('does not fail a coalesced request because of the first requester’s own timeout', async () => {
    const { root } = repo({
      deadline: {
        versions: { 1: slowBatchModel({ ms: 30 }) },
        config: {
          ...CACHED,
          max_batch_size: 128,
          // The first request waits in the batching window (600 ms) and times out there (its own 300 ms).
          dynamic_batching: {
            max_queue_delay_microseconds: 600_000,
            default_queue_policy: { timeout_action: 'REJECT', allow_timeout_override: true, default_timeout_microseconds: 0 },
          },
          parameters: ONE_THREAD,
        },
      },
    });
    const a = await start({ modelRepository: root, cache: [L1] });
    const x = Array.from({ length: 256 }, (_, i) => i / 4);
    const model = a.instance('deadline').model;
    // A: with a 300 ms deadline. B: the identical request, no deadline, sent while A is queued.
    const pa = send(a.port, 'POST', '/v2/models/deadline/infer', inferBody(x, { parameters: { timeout: 300_000 } }));
    await until(() => model.stats().pending === 1, 'A queued', 10_000, 2);
    const rb = await send(a.port, 'POST', '/v2/models/deadline/infer', inferBody(x));
    const ra = await pa;
    // A may time out (its own deadline) or, were its deadline not applied to a shared computation, succeed.
    expect([200, 503]).toContain(ra.status);
    if (ra.status === 200) expect(outputY(ra)).toEqual(x);
    expect(rb.status, rb.body.toString('utf8')).toBe(200);
    expect(outputY(rb)).toEqual(x);
  });

  it('never answers from a swapped-out model: same version replaced, then a new version (L1 and L2)', async () => {
    const r = repo({ swap: { versions: { 1: tinyModel() }, config: CACHED } });
    const poll = { modelControlMode: 'poll' as const, repositoryPollSecs: 3600 };
    // a: L1 + L2; b: a replica with L2 only; both on the same repository and Redis.
    const a = await start({ modelRepository: r.root, ...poll, cache: [L1, l2('t4:')] });
    const b = await start({ modelRepository: r.root, ...poll, cache: [l2('t4:')] });
    const x = row16(4);

    // Output A (x + 1): computed by a, then from a's L1 and from L2 on b.
    expect(outputY(await infer(a.port, 'swap', x))).toEqual(plus(x, 1));
    expect(outputY(await infer(a.port, 'swap', x))).toEqual(plus(x, 1));
    await until(async () => (await keys('t4:')).length === 1, 'the entry in Redis');
    expect(outputY(await infer(b.port, 'swap', x))).toEqual(plus(x, 1));
    expect(a.inferences('swap')).toBe(1);
    expect(b.inferences('swap')).toBe(0);

    // Replace version 1 in place with x + 2 and let both servers pick it up.
    const oldA = a.instance('swap');
    const oldB = b.instance('swap');
    r.put('swap', 1, addConst16(2));
    await Promise.all([a.running.repository.poll(), b.running.repository.poll()]);
    await until(() => a.instance('swap') !== oldA && b.instance('swap') !== oldB, 'the swap on both servers');
    expect(a.instance('swap').versionLabel).toBe('1');
    expect(a.instance('swap').contentHash).not.toBe(oldA.contentHash);
    expect(b.instance('swap').contentHash).toBe(a.instance('swap').contentHash);

    // b first: L2 holds the old answer under the old key; b must compute the new one.
    let reply = await infer(b.port, 'swap', x);
    expect(outputY(reply)).toEqual(plus(x, 2));
    expect(reply.json().model_version).toBe('1');
    expect(b.inferences('swap')).toBe(1);
    // a: its L1 holds the old answer; it must not serve it (the new one may come from L2 or compute).
    expect(outputY(await infer(a.port, 'swap', x))).toEqual(plus(x, 2));
    expect(outputY(await infer(a.port, 'swap', x))).toEqual(plus(x, 2));
    expect(a.inferences('swap')).toBeLessThanOrEqual(1);

    // A new version directory 2/ with x + 3: version 2 serves; again nothing old comes back.
    const midA = a.instance('swap');
    const midB = b.instance('swap');
    r.put('swap', 2, addConst16(3));
    await Promise.all([a.running.repository.poll(), b.running.repository.poll()]);
    await until(() => a.instance('swap').version === 2 && b.instance('swap').version === 2, 'version 2 on both servers');
    expect(a.instance('swap')).not.toBe(midA);
    expect(b.instance('swap')).not.toBe(midB);
    await until(async () => (await keys('t4:')).length >= 2, 'the x + 2 entry in Redis');
    reply = await infer(a.port, 'swap', x);
    expect(outputY(reply)).toEqual(plus(x, 3));
    expect(reply.json().model_version).toBe('2');
    expect(a.inferences('swap')).toBe(1);
    reply = await infer(b.port, 'swap', x);
    expect(outputY(reply)).toEqual(plus(x, 3));
    expect(reply.json().model_version).toBe('2');
    // Explicitly asking for version 2 is the same answer.
    const v2 = await send(b.port, 'POST', '/v2/models/swap/versions/2/infer', inferBody(x));
    expect(outputY(v2)).toEqual(plus(x, 3));
  });

  it('serves every request correctly while Redis is SIGKILLed under load, and uses L2 again once it is back', async () => {
    const own = await RedisServer.start();
    extraRedis.push(own);
    const spec = `redis,url=${own.url},prefix=t5:,timeout_ms=1000,retry_ms=300`;
    const { root } = repo({ tiny: { versions: { 1: tinyModel() }, config: CACHED } });
    const a = await start({ modelRepository: root, cache: [L1, spec] });
    const agent = keepAliveAgent(8);
    const failures: string[] = [];
    let done = 0;
    let unique = 1000;
    const check = async (x: number[]): Promise<void> => {
      let r: Reply;
      try {
        r = await infer(a.port, 'tiny', x, undefined, agent);
      } catch (err) {
        failures.push(`request error: ${(err as Error).message}`);
        return;
      }
      try {
        expect(outputY(r)).toEqual(plus(x, 1));
      } catch (err) {
        failures.push((err as Error).message.slice(0, 300));
      }
      done++;
    };
    try {
      // The load runs until 1 s after the kill, however slow the machine is.
      let stopAt = Infinity;
      const client = async (c: number): Promise<void> => {
        let i = 0;
        while (Date.now() < stopAt) {
          // Half repeated inputs (shared by all clients), half unique ones.
          await check(i++ % 2 === 0 ? row16(100 + ((i + c) % 6)) : row16(unique++));
        }
      };
      const load = Promise.all(Array.from({ length: 8 }, (_, c) => client(c)));
      await sleep(700);
      const errorsBefore = metric(await scrape(a.port), 'tensorgate_cache_errors_total', { level: 'l2' }) ?? 0;
      const doneBefore = done;
      await own.kill();
      stopAt = Date.now() + 1000;
      await load;
      expect(failures).toEqual([]);
      expect(doneBefore).toBeGreaterThan(0);
      expect(done).toBeGreaterThan(doneBefore);
      const text = await scrape(a.port);
      expect(metric(text, 'tensorgate_cache_errors_total', { level: 'l2' })).toBeGreaterThan(errorsBefore);
      expect(metric(text, 'tensorgate_cache_hits_total', { level: 'l1', model: 'tiny' })).toBeGreaterThan(0);
      expect(metric(text, 'tensorgate_cache_circuit_open', { level: 'l2' })).toBe(1); // what TensorgateRedisCircuitOpen watches
    } finally {
      agent.destroy();
    }

    // Redis back on the same port (empty). After the retry interval a reconnects and writes again.
    await own.restart();
    const fresh = new Redis(own.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await fresh.connect();
    try {
      await until(
        async () => {
          const x = row16(unique++);
          expect(outputY(await infer(a.port, 'tiny', x))).toEqual(plus(x, 1));
          await sleep(50);
          return (await keys('t5:', fresh)).length > 0;
        },
        'a writing to the restarted Redis',
        15_000,
        100,
      );
      expect(metric(await scrape(a.port), 'tensorgate_cache_circuit_open', { level: 'l2' })).toBe(0);
      // Now a value written after the restart is in L2: a fresh server finds it without computing.
      const n = (await keys('t5:', fresh)).length;
      const w = row16(unique++);
      expect(outputY(await infer(a.port, 'tiny', w))).toEqual(plus(w, 1));
      await until(async () => (await keys('t5:', fresh)).length === n + 1, 'the new entry in Redis');
      const b = await start({ modelRepository: root, cache: [spec] });
      expect(outputY(await infer(b.port, 'tiny', w))).toEqual(plus(w, 1));
      expect(b.inferences('tiny')).toBe(0);
      expect(metric(await scrape(b.port), 'tensorgate_cache_hits_total', { level: 'l2', model: 'tiny' })).toBe(1);
      // And a reads L2 again: an entry b writes is an L2 hit on a.
      const v = row16(unique++);
      expect(outputY(await infer(b.port, 'tiny', v))).toEqual(plus(v, 1));
      expect(b.inferences('tiny')).toBe(1);
      await until(async () => (await keys('t5:', fresh)).length === n + 2, 'b’s entry in Redis');
      const hitsBefore = metric(await scrape(a.port), 'tensorgate_cache_hits_total', { level: 'l2', model: 'tiny' }) ?? 0;
      const computed = a.inferences('tiny');
      expect(outputY(await infer(a.port, 'tiny', v))).toEqual(plus(v, 1));
      expect(a.inferences('tiny')).toBe(computed);
      expect(metric(await scrape(a.port), 'tensorgate_cache_hits_total', { level: 'l2', model: 'tiny' })).toBe(hitsBefore + 1);
    } finally {
      fresh.disconnect();
    }
  });

  it('starts and serves with Redis unreachable, and takes L2 into use once Redis comes up', async () => {
    const port = await freePort();
    const spec = `redis,url=redis://127.0.0.1:${port},prefix=t8:,timeout_ms=1000,connect_timeout_ms=300,retry_ms=200`;
    const { root } = repo({ tiny: { versions: { 1: tinyModel() }, config: CACHED } });
    const a = await start({ modelRepository: root, cache: [L1, spec] });
    const x = row16(8);
    for (let i = 0; i < 2; i++) expect(outputY(await infer(a.port, 'tiny', x))).toEqual(plus(x, 1));
    expect(a.inferences('tiny')).toBe(1); // L1 works without Redis
    const text = await scrape(a.port);
    expect(metric(text, 'tensorgate_cache_errors_total', { level: 'l2' })).toBeGreaterThan(0);

    const late = await RedisServer.start(port);
    extraRedis.push(late);
    const client = new Redis(late.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    try {
      let seed = 800;
      await until(
        async () => {
          const y = row16(seed++);
          expect(outputY(await infer(a.port, 'tiny', y))).toEqual(plus(y, 1));
          await sleep(50);
          return (await keys('t8:', client)).length > 0;
        },
        'a writing to Redis once it is up',
        15_000,
        100,
      );
    } finally {
      client.disconnect();
    }
  });

  it('keys and counts per model version when several versions are served', async () => {
    const { root } = repo({
      multi: { versions: { 1: addConst16(1), 2: addConst16(2) }, config: { ...CACHED, version_policy: { all: {} } } },
    });
    const a = await start({ modelRepository: root, cache: [L1, l2('t7:')] });
    const x = row16(7);
    const at = (v: number) => send(a.port, 'POST', `/v2/models/multi/versions/${v}/infer`, inferBody(x));
    for (let i = 0; i < 2; i++) expect(outputY(await at(1))).toEqual(plus(x, 1));
    expect(outputY(await at(2))).toEqual(plus(x, 2)); // never version 1's entry
    expect(outputY(await at(2))).toEqual(plus(x, 2));
    expect(outputY(await at(1))).toEqual(plus(x, 1));
    const served = a.running.repository.served('multi');
    expect(served.map((i) => [i.versionLabel, i.model.stats().inferenceCount])).toEqual([
      ['2', 1],
      ['1', 1],
    ]);
    // Per version, as Triton's statistics are: version 1 served 3 requests (1 miss, 2 hits), version 2
    // served 2 (1 miss, 1 hit).
    const r = await send(a.port, 'GET', '/v2/models/multi/stats');
    const byVersion = Object.fromEntries((r.json().model_stats as Array<{ version: string; inference_stats: any }>).map((m) => [m.version, m.inference_stats]));
    expect({ hit: byVersion['1'].cache_hit.count, miss: byVersion['1'].cache_miss.count, success: byVersion['1'].success.count }).toEqual({ hit: 2, miss: 1, success: 3 });
    expect({ hit: byVersion['2'].cache_hit.count, miss: byVersion['2'].cache_miss.count, success: byVersion['2'].success.count }).toEqual({ hit: 1, miss: 1, success: 2 });
  });

  it('leaves models that do not enable response_cache uncached, and serves (with a warning) without --cache', async () => {
    const { root } = repo({
      plain: { versions: { 1: tinyModel() } },
      off: { versions: { 1: tinyModel() }, config: { response_cache: { enable: false } } },
      cached: { versions: { 1: tinyModel() }, config: CACHED },
    });
    const a = await start({ modelRepository: root, cache: [L1, l2('t6:')] });
    const x = row16(6);
    for (const model of ['plain', 'off', 'cached']) {
      for (let i = 0; i < 2; i++) expect(outputY(await infer(a.port, model, x))).toEqual(plus(x, 1));
    }
    expect(a.inferences('plain')).toBe(2);
    expect(a.inferences('off')).toBe(2);
    expect(a.inferences('cached')).toBe(1);
    let text = await scrape(a.port);
    for (const name of ['tensorgate_cache_hits_total', 'tensorgate_cache_misses_total', 'nv_cache_num_hits_per_model', 'nv_cache_num_misses_per_model']) {
      expect(samples(text, name, { model: 'plain' })).toEqual([]);
      expect(samples(text, name, { model: 'off' })).toEqual([]);
    }
    expect(metric(text, 'tensorgate_cache_hits_total', { level: 'l1', model: 'cached' })).toBe(1);
    for (const model of ['plain', 'off']) {
      const s = await modelStats(a.port, model);
      expect(s.inference_count).toBe(2);
      expect(s.inference_stats.cache_hit.count).toBe(0);
      expect(s.inference_stats.cache_miss.count).toBe(0);
    }
    await until(async () => (await keys('t6:')).length === 1, 'the cached model’s entry in Redis');
    expect(await keys('t6:plain:')).toEqual([]);
    expect(await keys('t6:off:')).toEqual([]);

    // No --cache: the opted-in model still serves, computing every time, and the server warns.
    const log: LogSink = { lines: [] };
    const b = await start({ modelRepository: root }, log);
    for (let i = 0; i < 2; i++) expect(outputY(await infer(b.port, 'cached', x))).toEqual(plus(x, 1));
    expect(b.inferences('cached')).toBe(2);
    const warnings = log.lines.filter((l) => l.level === 40 && /response_cache/.test(String(l.msg)));
    expect(warnings.map((w) => w.model)).toEqual(['cached']);
    text = await scrape(b.port);
    expect(samples(text, 'tensorgate_cache_hits_total')).toEqual([]);
    expect(samples(text, 'tensorgate_cache_misses_total')).toEqual([]);
    const s = await modelStats(b.port, 'cached');
    expect(s.inference_stats.cache_hit.count).toBe(0);
    expect(s.inference_stats.cache_miss.count).toBe(0);
  });
});
