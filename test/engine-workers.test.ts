// worker_threads share one loaded model: attached by handle, loaded once (no copy per thread), each
// thread gets its own completions and the same results as the main thread.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { mlpModel } from '../src/onnx/models.js';
import { testEngine } from './helpers/engine.js';

const BOOT = fileURLToPath(new URL('./helpers/ts-worker-boot.mjs', import.meta.url));
const ENTRY = fileURLToPath(new URL('./helpers/shared-model-worker.ts', import.meta.url));

interface WorkerResult {
  worker: Worker;
  sums: number[];
}

function startWorker(handle: number, seed: number, requests: number, inputSize: number): Promise<WorkerResult> {
  const worker = new Worker(BOOT, { workerData: { entry: ENTRY, handle, inputSize, requests, seed } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { sums: number[] }) => resolve({ worker, sums: m.sums }));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited early with ${code}`)));
  });
}

describe('worker_threads', () => {
  it('four threads share one loaded model: same results, no model copy per thread', async () => {
    // ~210 MB of weights: a copy per worker would add ~840 MB of resident memory.
    const bytes = mlpModel({ inputSize: 256, hidden: [8192, 6144], outputSize: 16 });
    const model = await testEngine().load(bytes);
    const modelBytes = bytes.length;
    const inputSize = 256;
    const expected = async (seed: number, i: number) => {
      const out = await model.infer({ x: { shape: [1, inputSize], data: new Float32Array(inputSize).fill((seed + i) / 100) } });
      return (out.y!.data as Float32Array).reduce((a, b) => a + b, 0);
    };
    await expected(0, 0); // warm: arena and prepacked weights are allocated now

    // A worker thread costs tens of MiB by itself (V8 isolate, TypeScript loader): measure four
    // that do not touch the model, then four that attach to it and run it.
    const requests = 20;
    const rss0 = process.memoryUsage().rss;
    const controls = await Promise.all([1, 2, 3, 4].map(() => startWorker(0, 0, 0, inputSize)));
    const rss1 = process.memoryUsage().rss;
    const results = await Promise.all([1, 2, 3, 4].map((seed) => startWorker(model.handle, seed * 1000, requests, inputSize)));
    const rss2 = process.memoryUsage().rss;
    try {
      for (const [w, seed] of results.map((r, i) => [r, (i + 1) * 1000] as const)) {
        expect(w.sums).toHaveLength(requests);
        for (let i = 0; i < requests; i++) expect(w.sums[i]).toBe(await expected(seed, i));
      }
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
      const extra = rss2 - rss1 - (rss1 - rss0);
      console.log(`rss: 4 idle workers +${mib(rss1 - rss0)}, 4 attached workers +${mib(rss2 - rss1)}, model ${mib(modelBytes)}`);
      expect(extra).toBeLessThan(modelBytes / 2);
      // The main thread's model saw every worker's requests: one model, not five.
      expect(model.stats().success.count).toBe(1 + 4 * requests + 4 * requests);
    } finally {
      for (const r of [...controls, ...results]) {
        r.worker.removeAllListeners('exit');
        r.worker.postMessage('exit');
      }
    }
  }, 120_000);
});
