// The response cache without Redis: L1 hits, TTL, byte-bounded LRU eviction, single-flight coalescing.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { CacheKey, ResponseCache, type CacheKeyParts } from '../src/cache/index.js';
import type { InferOutputs } from '../src/engine/index.js';
import { RecordingSink } from './helpers/cache-sink.js';

const parts = (n: number, model = 'm'): CacheKeyParts => ({
  model,
  version: '1',
  contentHash: 'c0ffee',
  inputs: { x: { datatype: 'FP32', shape: [1, 2], data: Float32Array.of(n, n + 0.5) } },
});

const outputsFor = (n: number, elements = 4): InferOutputs => ({
  y: { datatype: 'FP32', shape: [1, elements], data: new Float32Array(elements).fill(n) },
  label: { datatype: 'BYTES', shape: [1], data: [Buffer.from(`label-${n}`)] },
});

describe('ResponseCache, L1 only', () => {
  it('computes on a miss, then hits L1 with equal outputs; metrics and Triton stats follow', async () => {
    const sink = new RecordingSink();
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, { sink });
    expect(cache.l2State).toBe('disabled');
    const key = cache.key(parts(1));
    const compute = vi.fn(async () => outputsFor(1));
    const first = await cache.getOrCompute(key, 'm', undefined, compute);
    expect(first.source).toBe('compute');
    const second = await cache.getOrCompute(cache.key(parts(1)), 'm', undefined, compute);
    expect(second.source).toBe('l1');
    expect(compute).toHaveBeenCalledTimes(1);
    expect(second.outputs).toEqual(outputsFor(1));
    expect(sink.events).toEqual(['miss l1 m final', 'hit l1 m']);
    const stats = cache.modelStats('m');
    expect(stats.hits.count).toBe(1);
    expect(stats.misses.count).toBe(1);
    expect(stats.hits.ns).toBeGreaterThan(0);
    expect(stats.misses.ns).toBeGreaterThan(0);
    expect(cache.modelStats('other')).toEqual({ hits: { count: 0, ns: 0 }, misses: { count: 0, ns: 0 } });

    // A hit is a fresh record: changing it does not change the cache.
    second.outputs.y!.shape.push(99);
    delete second.outputs.label;
    const third = await cache.getOrCompute(key, 'm', undefined, compute);
    expect(third.outputs).toEqual(outputsFor(1));
    await cache.close();
  });

  it('expires entries after their TTL', async () => {
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, {});
    const compute = vi.fn(async () => outputsFor(2));
    const key = cache.key(parts(2));
    expect((await cache.getOrCompute(key, 'm', 0.2, compute)).source).toBe('compute');
    expect((await cache.getOrCompute(key, 'm', 0.2, compute)).source).toBe('l1');
    await sleep(300);
    expect((await cache.getOrCompute(key, 'm', 0.2, compute)).source).toBe('compute');
    expect(compute).toHaveBeenCalledTimes(2);
    await cache.close();
  });

  it('bounds L1 in bytes and evicts the least recently used entries', async () => {
    const elements = 1000; // ~4 KiB of FP32 per entry
    const probe = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, {});
    await probe.getOrCompute(probe.key(parts(0)), 'm', undefined, async () => outputsFor(0, elements));
    const entryBytes = probe.l1Bytes;
    expect(entryBytes).toBeGreaterThan(elements * 4);
    expect(entryBytes).toBeLessThan(elements * 4 + 1024);
    await probe.close();

    const budget = Math.floor(entryBytes * 3.5); // room for 3 entries
    const cache = await ResponseCache.create({ local: { sizeBytes: budget } }, {});
    const computed: number[] = [];
    const get = async (n: number) =>
      (
        await cache.getOrCompute(cache.key(parts(n)), 'm', undefined, async () => {
          computed.push(n);
          return outputsFor(n, elements);
        })
      ).source;
    for (const n of [1, 2, 3]) expect(await get(n)).toBe('compute');
    expect(await get(1)).toBe('l1'); // 1 is now the most recently used
    expect(await get(4)).toBe('compute'); // evicts 2, the least recently used
    expect(cache.l1Bytes).toBeLessThanOrEqual(budget);
    expect(await get(1)).toBe('l1');
    expect(await get(3)).toBe('l1');
    expect(await get(4)).toBe('l1');
    expect(await get(2)).toBe('compute');
    expect(cache.l1Bytes).toBeLessThanOrEqual(budget);

    // An entry larger than the whole budget is served but not kept.
    expect((await cache.getOrCompute(cache.key(parts(9)), 'm', undefined, async () => outputsFor(9, elements * 4))).source).toBe('compute');
    expect((await cache.getOrCompute(cache.key(parts(9)), 'm', undefined, async () => outputsFor(9, elements * 4))).source).toBe('compute');
    await cache.close();
  });

  it('keeps only the outputs bytes, not the engine buffer they are views on', async () => {
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, {});
    const batchBuffer = new ArrayBuffer(512 * 1024); // a batch-sized output buffer
    const view = new Float32Array(batchBuffer, 4096, 16).fill(3);
    const r = await cache.getOrCompute(cache.key(parts(3)), 'm', undefined, async () => ({ y: { datatype: 'FP32', shape: [16], data: view } }));
    expect(r.outputs.y!.data).toBe(view); // the caller gets compute's own outputs
    expect(cache.l1Bytes).toBeLessThan(2048);
    const hit = await cache.getOrCompute(cache.key(parts(3)), 'm', undefined, async () => ({}));
    expect((hit.outputs.y!.data as Float32Array).buffer).not.toBe(batchBuffer);
    expect(Array.from(hit.outputs.y!.data as Float32Array)).toEqual(new Array(16).fill(3));
    await cache.close();
  });

  it('coalesces 100 identical concurrent misses into one compute', async () => {
    const sink = new RecordingSink();
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, { sink });
    const compute = vi.fn(async () => {
      await sleep(50);
      return outputsFor(5);
    });
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.getOrCompute(cache.key(parts(5)), 'm', undefined, compute)));
    expect(compute).toHaveBeenCalledTimes(1);
    expect(results.filter((r) => r.source === 'compute')).toHaveLength(1);
    expect(results.filter((r) => r.source === 'coalesced')).toHaveLength(99);
    for (const r of results) expect(r.outputs).toEqual(outputsFor(5));
    // One miss (the computation); the 99 that joined it count as hits: served without running it.
    expect(cache.modelStats('m').misses.count).toBe(1);
    expect(cache.modelStats('m').hits.count).toBe(99);
    expect(sink.count('miss l1 m final')).toBe(100);
    // Different keys are not coalesced.
    const other = vi.fn(async () => outputsFor(6));
    await Promise.all([cache.getOrCompute(cache.key(parts(6)), 'm', undefined, other), cache.getOrCompute(cache.key(parts(7)), 'm', undefined, other)]);
    expect(other).toHaveBeenCalledTimes(2);
    await cache.close();
  });

  it('shares a failing compute: all 100 reject with the same error, and the failure is not cached', async () => {
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, {});
    const failure = new Error('model exploded');
    const compute = vi.fn(async () => {
      await sleep(30);
      throw failure;
    });
    const settled = await Promise.allSettled(Array.from({ length: 100 }, () => cache.getOrCompute(cache.key(parts(8)), 'm', undefined, compute)));
    expect(compute).toHaveBeenCalledTimes(1);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      expect((s as PromiseRejectedResult).reason).toBe(failure);
    }
    const ok = await cache.getOrCompute(cache.key(parts(8)), 'm', undefined, async () => outputsFor(8));
    expect(ok.source).toBe('compute');
    // A compute that throws synchronously is a rejection too.
    await expect(
      cache.getOrCompute(cache.key(parts(10)), 'm', undefined, () => {
        throw failure;
      }),
    ).rejects.toBe(failure);
    await cache.close();
  });

  it('gives joiners their own copy, and never shares a flight between colliding keys', async () => {
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, {});
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const compute = vi.fn(async () => {
      await gate;
      return outputsFor(20);
    });
    const key = cache.key(parts(20));
    const leader = cache.getOrCompute(key, 'm', undefined, compute).then((r) => {
      delete r.outputs.label; // the first caller changes its record as soon as it gets it
      r.outputs.y!.shape.push(7);
      return r;
    });
    const joiner = cache.getOrCompute(cache.key(parts(20)), 'm', undefined, compute);
    const colliding = new CacheKey(key.id, key.model, key.check0, key.check1 ^ 1, key.length);
    const other = cache.getOrCompute(colliding, 'm', undefined, async () => outputsFor(21));
    release();
    expect((await leader).source).toBe('compute');
    const j = await joiner;
    expect(j.source).toBe('coalesced');
    expect(j.outputs).toEqual(outputsFor(20));
    const o = await other;
    expect(o.source).toBe('compute');
    expect(o.outputs).toEqual(outputsFor(21));
    expect(compute).toHaveBeenCalledTimes(1);
    await cache.close();
  });

  it('never fails a request for the cache: uncacheable outputs are returned and counted', async () => {
    const sink = new RecordingSink();
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, { sink });
    const weird: InferOutputs = { y: { datatype: 'FP32', shape: [3], data: new Float32Array(2) } };
    const r = await cache.getOrCompute(cache.key(parts(11)), 'm', undefined, async () => weird);
    expect(r).toEqual({ outputs: weird, source: 'compute' });
    expect(sink.events).toContain('error l1 encode');
    expect((await cache.getOrCompute(cache.key(parts(11)), 'm', undefined, async () => weird)).source).toBe('compute');
    await cache.close();
  });

  it('treats a hit whose check does not match the request as a miss (hash collision)', async () => {
    const sink = new RecordingSink();
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 } }, { sink });
    const key = cache.key(parts(12));
    await cache.getOrCompute(key, 'm', undefined, async () => outputsFor(12));
    const colliding = new CacheKey(key.id, key.model, key.check0 ^ 1, key.check1, key.length);
    const r = await cache.getOrCompute(colliding, 'm', undefined, async () => outputsFor(13));
    expect(r.source).toBe('compute');
    expect(r.outputs).toEqual(outputsFor(13));
    expect(sink.events).toContain('error l1 collision');
    await cache.close();
  });

  it('works with the sha256 key hash', async () => {
    const cache = await ResponseCache.create({ local: { sizeBytes: 1 << 20 }, keyHash: 'sha256' }, {});
    const key = cache.key(parts(14));
    expect(key.id).toHaveLength(64);
    await cache.getOrCompute(key, 'm', undefined, async () => outputsFor(14));
    expect((await cache.getOrCompute(cache.key(parts(14)), 'm', undefined, async () => outputsFor(0))).outputs).toEqual(outputsFor(14));
    await cache.close();
  });
});
