// npm run bench:engine — throughput and latency of the engine at 1, 8, 64 and 256 outstanding
// requests (closed loop), on the tiny model (x + 1 on 16 floats: overhead-bound) and the MLP
// 256-1024-1024-16 (compute-bound). Systems, all with the same ORT thread settings:
//   tensorgate          batched (max_batch_size 64, dynamic batching, delay 0)
//   tensorgate-nobatch  max_batch_size 1
//   onnxruntime-node    per-request `await session.run`, in its own process
//   ort-raw             C++ Run() at the best fixed batch size <= concurrency, no queue: the limit
// Prints a table and writes bench/results/engine.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Engine, type Model } from '../src/engine/index.js';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { resolveOrtLibrary } from '../src/engine/ort-library.js';
import { machine, ortNodeJob, ROOT, table, writeResults } from './common.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const THREADS = Number(process.env.BENCH_INTRA_THREADS ?? 1);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,64,256').split(',').map(Number);
const MODELS = (process.env.BENCH_MODELS ?? 'tiny,mlp').split(',');
const ROW: Record<string, number> = { tiny: 16, mlp: 256 };
const MAX_BATCH = 64;

interface Measure {
  concurrency: number;
  throughput_per_s: number;
  p50_us: number;
  p99_us: number;
  mean_batch?: number;
  best_batch?: number;
}
interface Row extends Measure {
  model: string;
  system: string;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 1000;
}

/** `concurrency` clients, each with one request outstanding at a time, for SECONDS. */
async function closedLoop(model: Model, rowSize: number, concurrency: number): Promise<Measure> {
  const data = Float32Array.from({ length: rowSize }, (_, i) => Math.sin(i));
  const inputs = { x: { shape: [1, rowSize], data } };
  const warmEnd = performance.now() + 300;
  const latencies: number[] = [];
  let measuring = false;
  let done = 0;
  let end = Infinity;
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
  end = warmEnd + SECONDS * 1000;
  const clients = Array.from({ length: concurrency }, client);
  await new Promise((r) => setTimeout(r, 300));
  const before = model.stats();
  measuring = true;
  const start = performance.now();
  await Promise.all(clients);
  const elapsed = (performance.now() - start) / 1000;
  const after = model.stats();
  latencies.sort((a, b) => a - b);
  const executions = after.executionCount - before.executionCount;
  return {
    concurrency,
    throughput_per_s: done / elapsed,
    p50_us: percentile(latencies, 0.5),
    p99_us: percentile(latencies, 0.99),
    mean_batch: executions ? (after.inferenceCount - before.inferenceCount) / executions : 0,
  };
}

function buildOrtRaw(): string {
  const dir = join(ROOT, 'build-bench');
  const include = execFileSync(process.execPath, [join(ROOT, 'scripts/fetch-ort-headers.mjs')], { encoding: 'utf8' }).trim();
  const cfg = spawnSync('cmake', ['-S', ROOT, '-B', dir, '-DTENSORGATE_BENCH=ON', '-DTENSORGATE_CUDA=OFF', '-DCMAKE_BUILD_TYPE=Release', `-DORT_INCLUDE_DIR=${include}`], { stdio: 'ignore' });
  const build = spawnSync('cmake', ['--build', dir, '--target', 'ort_raw'], { stdio: 'inherit' });
  if (cfg.status !== 0 || build.status !== 0) throw new Error('cannot build the ort_raw benchmark');
  return join(dir, 'ort_raw');
}

function ortRaw(binary: string, path: string, row: number, batches: number[]): Map<number, { samples_per_s: number; run_us_p50: number }> {
  const out = execFileSync(binary, [resolveOrtLibrary(), path, 'x', String(row), String(THREADS), String(Math.max(1, SECONDS / 2)), ...batches.map(String)], { encoding: 'utf8' });
  const result = new Map<number, { samples_per_s: number; run_us_p50: number }>();
  for (const line of out.trim().split('\n')) {
    const r = JSON.parse(line) as { batch: number; samples_per_s: number; run_us_p50: number };
    result.set(r.batch, r);
  }
  return result;
}

const dir = join(ROOT, 'examples', 'models');
await makeExampleModels(dir);
const engine = Engine.create({ intraOpThreads: THREADS, interOpThreads: 1 });
const rawBinary = buildOrtRaw();
const rows: Row[] = [];

for (const name of MODELS) {
  const path = join(dir, name, '1', 'model.onnx');
  const row = ROW[name]!;
  const batched = await engine.load(path, { maxBatchSize: MAX_BATCH, dynamicBatching: true });
  const nobatch = await engine.load(path, { maxBatchSize: 1, dynamicBatching: true });
  const batchSizes = [1, 2, 4, 8, 16, 32, 64, 128, 256];
  const raw = ortRaw(rawBinary, path, row, batchSizes);
  for (const c of CONCURRENCY) {
    rows.push({ model: name, system: 'tensorgate', ...(await closedLoop(batched, row, c)) });
    rows.push({ model: name, system: 'tensorgate-nobatch', ...(await closedLoop(nobatch, row, c)) });
    const ort = await ortNodeJob<{ throughput_per_s: number; p50_us: number; p99_us: number }>({
      kind: 'load',
      model: path,
      inputName: 'x',
      inputShape: [1, row],
      concurrency: c,
      seconds: SECONDS,
      intraOpThreads: THREADS,
    });
    rows.push({ model: name, system: 'onnxruntime-node', concurrency: c, ...ort });
    let best = { batch: 1, samples_per_s: 0, run_us_p50: 0 };
    for (const b of batchSizes.filter((b) => b <= c)) {
      const r = raw.get(b)!;
      if (r.samples_per_s > best.samples_per_s) best = { batch: b, ...r };
    }
    rows.push({
      model: name,
      system: 'ort-raw',
      concurrency: c,
      throughput_per_s: best.samples_per_s,
      p50_us: best.run_us_p50,
      p99_us: NaN,
      best_batch: best.batch,
    });
    console.error(`done: ${name} c=${c}`);
  }
  await batched.unload();
  await nobatch.unload();
}

// Ratios, within this run.
const get = (m: string, s: string, c: number) => rows.find((r) => r.model === m && r.system === s && r.concurrency === c)!;
const ratios = MODELS.flatMap((m) =>
  CONCURRENCY.map((c) => {
    const tg = get(m, 'tensorgate', c);
    const ort = get(m, 'onnxruntime-node', c);
    const raw = get(m, 'ort-raw', c);
    return {
      model: m,
      concurrency: c,
      tg_over_ortnode_throughput: tg.throughput_per_s / ort.throughput_per_s,
      tg_over_ortraw_throughput: tg.throughput_per_s / raw.throughput_per_s,
      tg_over_nobatch_throughput: tg.throughput_per_s / get(m, 'tensorgate-nobatch', c).throughput_per_s,
      tg_over_ortnode_p50: tg.p50_us / ort.p50_us,
    };
  }),
);

const fmt = rows.map((r) => ({
  model: r.model,
  system: r.system,
  c: r.concurrency,
  'req/s': Math.round(r.throughput_per_s),
  p50_us: Number.isNaN(r.p50_us) ? '-' : r.p50_us.toFixed(1),
  p99_us: Number.isNaN(r.p99_us) ? '-' : r.p99_us.toFixed(1),
  batch: r.mean_batch !== undefined ? Number(r.mean_batch).toFixed(1) : r.best_batch !== undefined ? `${r.best_batch} (fixed)` : '1',
}));
console.log(table(fmt));
console.log();
console.log(table(ratios.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : v])))));
const file = writeResults('engine', { machine: machine(), seconds: SECONDS, intra_op_threads: THREADS, max_batch_size: MAX_BATCH, rows, ratios });
console.log(`\nwrote ${file}`);
