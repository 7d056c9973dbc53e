// The reply tier: whole encoded responses keyed on the request's wire bytes, answered before any
// decoding. A request must only ever get a reply to exactly its own bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplyTier, type ReplyKeyParts } from '../src/cache/index.js';
import {
  addConst16,
  infer,
  inferBody,
  metric,
  outputY,
  plus,
  row16,
  scrape,
  send,
  startCacheServer,
  tempRepository,
  type CacheTestServer,
  type TempRepo,
} from './helpers/cache-http-kit.js';

const base: ReplyKeyParts = { model: 'm', version: '1', contentHash: 'abc', headerLength: undefined, body: Buffer.from('{"inputs":[]}') };

describe('ReplyTier', () => {
  it('answers the same bytes and nothing else', () => {
    const tier = new ReplyTier(1 << 20);
    const reply = { headers: { 'content-type': 'application/json' }, body: [Buffer.from('{"a":'), Buffer.from('1}')] };
    tier.set(tier.key(base), reply, undefined);
    expect(Buffer.concat(tier.get(tier.key(base))!.body).toString()).toBe('{"a":1}');
    for (const other of [
      { ...base, body: Buffer.from('{"inputs":[] }') },
      { ...base, version: '2' },
      { ...base, contentHash: 'abd' },
      { ...base, model: 'n' },
      { ...base, headerLength: '12' },
    ]) {
      expect(tier.get(tier.key(other))).toBeUndefined();
    }
  });

  it('keys with SHA-256 when the cache says hash=sha256 (what ResponseCache passes it)', async () => {
    const { createHash } = await import('node:crypto');
    const { ResponseCache } = await import('../src/cache/index.js');
    const tier = new ReplyTier(1 << 20, 'sha256');
    const key = tier.key(base);
    const head = `reply\0${base.model}\0${base.version}\0${base.contentHash}\0\0`;
    expect(key.id).toBe(createHash('sha256').update(head).update(base.body).digest('hex'));
    expect(new ReplyTier(1 << 20).key(base).id).toHaveLength(32); // murmur3 by default
    const reply = { headers: {}, body: [Buffer.from('ok')] };
    tier.set(key, reply, undefined);
    expect(tier.get(tier.key(base))).toBeDefined();
    expect(tier.get(tier.key({ ...base, body: Buffer.from('{"inputs":[ ]}') }))).toBeUndefined();
    // End to end: --cache local,size=...,hash=sha256 reaches the reply tier too, not only the tensor tier.
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 }, keyHash: 'sha256' });
    expect(cache.replyKey(base)!.id).toBe(key.id);
    await cache.close();
  });

  it('keeps one compact copy within its byte budget, and honours the TTL', async () => {
    const tier = new ReplyTier(4096);
    const big = { headers: {}, body: [Buffer.alloc(8192)] };
    tier.set(tier.key(base), big, undefined);
    expect(tier.get(tier.key(base))).toBeUndefined(); // larger than the whole budget
    const small = { headers: {}, body: [Buffer.from('x'), Buffer.from('y')] };
    tier.set(tier.key(base), small, 0.1);
    expect(tier.get(tier.key(base))!.body).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 150));
    expect(tier.get(tier.key(base))).toBeUndefined();
  });
});

describe('ResponseCache reply tier', () => {
  it('stores and answers replies on the local level only, counted as L1 hits', async () => {
    const { ResponseCache } = await import('../src/cache/index.js');
    const hits: string[] = [];
    const sink = { hit: (level: string, model: string) => hits.push(`${level} ${model}`), miss: () => {}, error: () => {} };
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, { sink });
    const key = cache.replyKey(base)!;
    expect(cache.reply(key, 'm', 'm/1')).toBeUndefined();
    cache.storeReply(key, { headers: { a: 'b' }, body: [Buffer.from('r')] }, undefined);
    expect(cache.reply(key, 'm', 'm/1')!.body[0]!.toString()).toBe('r');
    expect(hits).toEqual(['l1 m']);
    expect(cache.modelStats('m/1').hits.count).toBe(1);
    await cache.close();
    const l2only = await ResponseCache.create({ redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 50 } }, {});
    expect(l2only.replyKey(base)).toBeUndefined(); // no local level: no reply tier
    await l2only.close();
  });
});

describe('reply tier over HTTP', () => {
  let repo: TempRepo;
  let server: CacheTestServer;
  beforeAll(async () => {
    repo = tempRepository({ m: { versions: { 1: addConst16(1) }, config: { response_cache: { enable: true } } } });
    server = await startCacheServer({ modelRepository: repo.root, cache: ['local,size=16MiB'], modelControlMode: 'poll' });
  });
  afterAll(async () => {
    await server.stop();
    repo.cleanup();
  });

  it('answers a repeated request byte for byte without running the model', async () => {
    const x = row16(3);
    const body = inferBody(x, { id: 'same' });
    const first = await send(server.port, 'POST', '/v2/models/m/infer', body);
    const hitsBefore = metric(await scrape(server.port), 'tensorgate_cache_hits_total', { level: 'l1', model: 'm' }) ?? 0;
    const second = await send(server.port, 'POST', '/v2/models/m/infer', body);
    expect(second.status).toBe(200);
    expect(second.body.equals(first.body)).toBe(true);
    expect(second.json().id).toBe('same');
    expect(server.inferences('m')).toBe(1);
    expect(metric(await scrape(server.port), 'tensorgate_cache_hits_total', { level: 'l1', model: 'm' })).toBe(hitsBefore + 1);
  });

  it('never answers a request with another id from the reply tier', async () => {
    const x = row16(4);
    await infer(server.port, 'm', x, { id: 'first' });
    const other = await infer(server.port, 'm', x, { id: 'second' });
    expect(other.json().id).toBe('second');
    expect(outputY(other)).toEqual(plus(x, 1));
  });

  it('does not serve a swapped model version its old replies', async () => {
    const x = row16(5);
    const body = inferBody(x);
    expect(outputY(await send(server.port, 'POST', '/v2/models/m/infer', body))).toEqual(plus(x, 1));
    repo.put('m', 1, addConst16(7));
    await server.running.repository.poll();
    expect(outputY(await send(server.port, 'POST', '/v2/models/m/infer', body))).toEqual(plus(x, 7));
  });
});
