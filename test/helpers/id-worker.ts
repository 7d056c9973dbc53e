// Worker body for batcher-workers.test.ts: submits `count` requests to a shared tiny model (x + 1),
// each tagged with a unique id in its first element, and checks every answer is its own.
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from '../../src/engine/index.js';

const { handle, base, count } = workerData as { handle: number; base: number; count: number };
const model = Engine.create().attach(handle);
const seen = new Uint8Array(count);
let wrong = 0;
let duplicates = 0;
const pending: Array<Promise<void>> = [];
for (let i = 0; i < count; i++) {
  const x = new Float32Array(16).fill(base + i);
  pending.push(
    model.infer({ x: { shape: [1, 16], data: x } }).then((out) => {
      const y = out.y!.data as Float32Array;
      const id = y[0]! - 1 - base;
      if (!y.every((v) => v === base + i + 1) || id !== i) wrong++;
      else if (seen[id]!++) duplicates++;
    }),
  );
  if (pending.length % 500 === 0) await new Promise((r) => setImmediate(r)); // let completions in
}
await Promise.all(pending);
let missing = 0;
for (const s of seen) if (s === 0) missing++;
parentPort!.postMessage({ answered: count - missing, missing, wrong, duplicates });
