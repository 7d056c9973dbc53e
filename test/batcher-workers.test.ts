// Requests from several JS threads coalesce into shared batches and each answer returns to the
// thread and request that asked: 4 worker_threads x 10,000 requests lose and duplicate nothing.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { examplePath, testEngine } from './helpers/engine.js';

const BOOT = fileURLToPath(new URL('./helpers/ts-worker-boot.mjs', import.meta.url));
const ENTRY = fileURLToPath(new URL('./helpers/id-worker.ts', import.meta.url));

interface Report {
  answered: number;
  missing: number;
  wrong: number;
  duplicates: number;
}

function run(handle: number, base: number, count: number): Promise<Report> {
  const worker = new Worker(BOOT, { workerData: { entry: ENTRY, handle, base, count } });
  return new Promise((resolve, reject) => {
    worker.once('message', (r: Report) => {
      resolve(r);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('batching across threads', () => {
  it('4 worker_threads x 10,000 requests: nothing lost, nothing duplicated, nothing crossed', async () => {
    const model = await testEngine().load(examplePath('tiny'), { maxBatchSize: 64, dynamicBatching: true });
    const reports = await Promise.all([0, 1, 2, 3].map((w) => run(model.handle, w * 100_000, 10_000)));
    for (const r of reports) expect(r).toEqual({ answered: 10_000, missing: 0, wrong: 0, duplicates: 0 });
    const stats = model.stats();
    expect(stats.success.count).toBe(40_000);
    expect(stats.inferenceCount).toBe(40_000);
    expect(stats.fail.count).toBe(0);
    expect(stats.pending).toBe(0);
    // Threads submitting at once share batches.
    expect(stats.executionCount).toBeLessThan(40_000);
  }, 120_000);
});
