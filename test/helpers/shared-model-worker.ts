// Worker body for engine-workers.test.ts: attach to a model loaded by the main thread (by handle),
// run inferences, report results, then wait to be told to exit (so RSS is measured while alive).
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from '../../src/engine/index.js';

interface Data {
  entry: string;
  /** 0: a control worker that only starts an engine (measures a worker's own memory). */
  handle: number;
  inputSize: number;
  requests: number;
  seed: number;
}

const { handle, inputSize, requests, seed } = workerData as Data;
const engine = Engine.create();
const sums: number[] = [];
const pending: Array<Promise<void>> = [];
const model = handle === 0 ? undefined : engine.attach(handle);
for (let i = 0; model && i < requests; i++) {
  const x = new Float32Array(inputSize).fill((seed + i) / 100);
  pending.push(
    model.infer({ x: { shape: [1, inputSize], data: x } }).then((out) => {
      sums[i] = (out.y!.data as Float32Array).reduce((a, b) => a + b, 0);
    }),
  );
}
await Promise.all(pending);
parentPort!.postMessage({ sums });
parentPort!.once('message', () => process.exit(0));
