// The cost of a routing decision: no allocation (so no garbage collection) over 1,000,000 picks of a
// weighted split, a sticky header key, a canary split and a bandit, and the time per pick printed
// (not asserted: a shared machine). The micro benchmark with figures is bench/routing-micro.ts.
import { PerformanceObserver } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { pickContext, runtimeFor } from './helpers/routing-kit.js';

/** Runs `fn` n times; returns the garbage collections that happened meanwhile and ns per call. */
async function gcsDuring(n: number, fn: (i: number) => void): Promise<{ gcs: number; ns: number }> {
  const entries: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) entries.push(e.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < 10_000; i++) fn(i); // warm up (JIT) before measuring
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 50)); // gc entries are delivered asynchronously
  observer.disconnect();
  return { gcs: entries.filter((t) => t >= t0 && t <= t1).length, ns: ((t1 - t0) * 1e6) / n };
}

describe('a routing decision allocates nothing (1,000,000 picks, no garbage collection)', () => {
  const keys = Array.from({ length: 1024 }, (_, i) => ({ 'x-user': `user-${i}` }));

  it.each([
    ['weighted split 95/5', { targets: [{ model: 'a', weight: 95 }, { model: 'b', weight: 5 }] }, false],
    ['sticky header, 3 targets', { targets: [{ model: 'a', weight: 60 }, { model: 'b', weight: 30 }, { model: 'c', weight: 10 }], sticky: { header: 'x-user' } }, true],
    ['canary step 10 %', { targets: [{ model: 'a' }, { model: 'b' }], canary: { candidate: 'b', steps: [10, 100], interval_s: 3600 } }, false],
    ['bandit (thompson)', { targets: [{ model: 'a' }, { model: 'b' }, { model: 'c' }], bandit: { policy: 'thompson' } }, false],
  ] as const)('%s', async (name, routing, sticky) => {
    const route = runtimeFor(routing as unknown as Record<string, unknown>);
    await route.start();
    const ctx = pickContext();
    const bandit = route.feedback?.bandit;
    if (bandit) for (let arm = 0; arm < 3; arm++) bandit.reward(arm, 1);
    const { gcs, ns } = await gcsDuring(1_000_000, (i) => {
      if (sticky) ctx.headers = keys[i & 1023];
      route.pick(ctx);
    });
    console.log(`${name}: ${ns.toFixed(0)} ns per pick, ${gcs} garbage collections`);
    expect(gcs).toBe(0);
    await route.close();
  });
});
