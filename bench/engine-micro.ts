// One-request round trip (await infer, one at a time) through tensorgate vs onnxruntime-node's
// `await session.run` (in its own process), on the tiny and MLP example models.
// Prints a table and writes bench/results/engine-micro.json.
import { Bench } from 'tinybench';
import { Engine } from '../src/engine/index.js';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { join } from 'node:path';
import { machine, ortNodeJob, ROOT, table, writeResults } from './common.js';

const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 3000);
const MODELS = [
  { name: 'tiny', input: 'x', shape: [1, 16] },
  { name: 'mlp', input: 'x', shape: [1, 256] },
];

const dir = join(ROOT, 'examples', 'models');
await makeExampleModels(dir);
const engine = Engine.create({ intraOpThreads: 1 });

interface Row {
  model: string;
  system: string;
  mean_us: number;
  p50_us: number;
  p99_us: number;
  samples: number;
}
const rows: Row[] = [];
for (const m of MODELS) {
  const path = join(dir, m.name, '1', 'model.onnx');
  const model = await engine.load(path);
  const data = Float32Array.from({ length: m.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i));
  const inputs = { [m.input]: { shape: m.shape, data } };
  const bench = new Bench({ time: TIME_MS, warmupTime: 200 });
  bench.add('tensorgate', async () => {
    await model.infer(inputs);
  });
  await bench.run();
  const r = bench.tasks[0]!.result!;
  rows.push({
    model: m.name,
    system: 'tensorgate',
    mean_us: r.latency.mean * 1000,
    p50_us: (r.latency.p50 ?? NaN) * 1000,
    p99_us: (r.latency.p99 ?? NaN) * 1000,
    samples: r.latency.samples.length,
  });
  await model.unload();
  const ref = await ortNodeJob<Omit<Row, 'model' | 'system'>>({
    kind: 'micro',
    model: path,
    inputName: m.input,
    inputShape: m.shape,
    time: TIME_MS,
    intraOpThreads: 1,
  });
  rows.push({ model: m.name, system: 'onnxruntime-node', ...ref });
}

const summary = MODELS.map((m) => {
  const tg = rows.find((r) => r.model === m.name && r.system === 'tensorgate')!;
  const ort = rows.find((r) => r.model === m.name && r.system === 'onnxruntime-node')!;
  return { model: m.name, p50_ratio_tensorgate_over_ort: tg.p50_us / ort.p50_us, mean_ratio: tg.mean_us / ort.mean_us };
});
console.log(table(rows.map((r) => ({ ...r }))));
console.log();
console.log(table(summary));
const path = writeResults('engine-micro', { machine: machine(), time_ms: TIME_MS, rows, summary });
console.log(`\nwrote ${path}`);
