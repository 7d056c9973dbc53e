// The engine's closed loop, shared by bench:engine and the in-process row of bench:http: `concurrency`
// clients, each with one request outstanding at a time, for `seconds` after a 300 ms warm-up.
import type { Model } from '../../src/engine/index.js';
import { percentileMs, voluntarySwitches } from './process.js';

export type ClosedLoopMeasure = {
  rps: number;
  p50_us: number;
  p99_us: number;
  mean_batch: number;
  /** Voluntary context switches of the whole process per request (threads that slept and were woken). */
  vcsw_per_req: number;
};

export async function closedLoop(model: Model, dims: number[], concurrency: number, seconds: number): Promise<ClosedLoopMeasure> {
  const size = dims.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: size }, (_, i) => Math.sin(i));
  const inputs = { x: { shape: [1, ...dims], data } };
  const latencies: number[] = [];
  let measuring = false;
  let done = 0;
  const end = performance.now() + 300 + seconds * 1000;
  async function client(): Promise<void> {
    while (performance.now() < end) {
      const t = performance.now();
      await model.infer(inputs);
      if (measuring) {
        latencies.push(performance.now() - t);
        done++;
      }
    }
  }
  const clients = Array.from({ length: concurrency }, client);
  await new Promise((r) => setTimeout(r, 300));
  const before = model.stats();
  const switches = voluntarySwitches();
  measuring = true;
  const start = performance.now();
  await Promise.all(clients);
  const elapsed = (performance.now() - start) / 1000;
  const vcsw = voluntarySwitches() - switches;
  const after = model.stats();
  latencies.sort((a, b) => a - b);
  const executions = after.executionCount - before.executionCount;
  return {
    rps: done / elapsed,
    p50_us: percentileMs(latencies, 0.5) * 1000,
    p99_us: percentileMs(latencies, 0.99) * 1000,
    mean_batch: executions ? (after.inferenceCount - before.inferenceCount) / executions : 0,
    vcsw_per_req: vcsw / Math.max(1, done),
  };
}
