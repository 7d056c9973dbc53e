// npm run bench:engine — throughput and latency of the engine in-process, closed loop with N requests
// outstanding (N = 1, 8, 64, 256), on tiny (x + 1 on 16 floats: overhead-bound), mlp (256-1024-1024-16:
// compute-bound) and encoder (one transformer encoder layer, [1, 32, 64]). Systems, all with the same
// ORT thread settings, interleaved over rounds (median and min–max reported):
//   tensorgate          batched (max_batch_size 64, dynamic batching, delay 0)
//   tensorgate-nobatch  max_batch_size 1
//   onnxruntime-node    per-request `await session.run`, in its own process
//   ort-raw             C++ Run() at the best fixed batch size <= N, no queue: the limit
// Besides req/s and latency, each system reports the voluntary context switches per request of its
// whole process: at N = 1 a thread that sleeps while it waits pays a wake-up (tens of µs on a VM),
// so this is the structural, timing-independent side of the c=1 latency (0 means nobody slept).
// Targets (ratios within one run): N = 1 p50 <= 1.1x onnxruntime-node on every model; N >= 64 >= 90 %
// of ort-raw's best batched throughput on mlp.
// Env: BENCH_SECONDS (3), BENCH_ROUNDS (5), BENCH_CONCURRENCY, BENCH_MODELS, BENCH_SYSTEMS,
// BENCH_INTRA_THREADS (1). Prints tables and writes bench/results/engine.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Engine, type Model } from '../src/engine/index.js';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { resolveOrtLibrary } from '../src/engine/ort-library.js';
import { ortNodeJob, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave, spreadText } from './lib/rounds.js';
import { closedLoop, type ClosedLoopMeasure } from './lib/closed-loop.js';
import { kilo } from './lib/report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const THREADS = Number(process.env.BENCH_INTRA_THREADS ?? 1);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,64,256').split(',').map(Number);
const MODELS = (process.env.BENCH_MODELS ?? 'tiny,mlp,encoder').split(',');
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? 'tensorgate,tensorgate-nobatch,onnxruntime-node,ort-raw').split(',');
/** One row's dims (without the batch dim) per model. */
const ROW: Record<string, number[]> = { tiny: [16], mlp: [256], encoder: [32, 64] };
const MAX_BATCH = 64;
const BATCHES = [1, 2, 4, 8, 16, 32, 64, 128, 256];

type Measure = ClosedLoopMeasure;

function buildOrtRaw(): string {
  const dir = join(ROOT, 'build-bench');
  const include = execFileSync(process.execPath, [join(ROOT, 'scripts/fetch-ort-headers.mjs')], { encoding: 'utf8' }).trim();
  const cfg = spawnSync('cmake', ['-S', ROOT, '-B', dir, '-DTENSORGATE_BENCH=ON', '-DTENSORGATE_CUDA=OFF', '-DCMAKE_BUILD_TYPE=Release', `-DORT_INCLUDE_DIR=${include}`], { stdio: 'ignore' });
  const build = spawnSync('cmake', ['--build', dir, '--target', 'ort_raw'], { stdio: 'inherit' });
  if (cfg.status !== 0 || build.status !== 0) throw new Error('cannot build the ort_raw benchmark');
  return join(dir, 'ort_raw');
}

type RawRun = Map<number, { samples_per_s: number; run_us_p50: number }>;

function ortRaw(binary: string, path: string, dims: number[], batches: number[]): RawRun {
  const out = execFileSync(binary, [resolveOrtLibrary(), path, 'x', dims.join('x'), String(THREADS), String(Math.max(0.5, SECONDS / 3)), ...batches.map(String)], { encoding: 'utf8' });
  const result: RawRun = new Map();
  for (const line of out.trim().split('\n')) {
    const r = JSON.parse(line) as { batch: number; samples_per_s: number; run_us_p50: number };
    result.set(r.batch, r);
  }
  return result;
}

const dir = join(ROOT, 'examples', 'models');
await makeExampleModels(dir);
const recorder = machineRecorder(ROOT);
const engine = Engine.create({ intraOpThreads: THREADS, interOpThreads: 1 });
const rawBinary = SYSTEMS.includes('ort-raw') ? buildOrtRaw() : '';
const path = (m: string) => join(dir, m, '1', 'model.onnx');
const batched = new Map<string, Model>();
const nobatch = new Map<string, Model>();
for (const m of MODELS) {
  batched.set(m, await engine.load(path(m), { maxBatchSize: MAX_BATCH, dynamicBatching: true }));
  nobatch.set(m, await engine.load(path(m), { maxBatchSize: 1, dynamicBatching: true }));
}
// ort-raw runs every batch size once per model and round; each cell takes the best size <= N.
const rawRuns = new Map<string, RawRun>();
const maxC = Math.max(...CONCURRENCY);

const cells = MODELS.flatMap((model) => CONCURRENCY.map((concurrency) => ({ model, concurrency })));
const results = await interleave(
  ROUNDS,
  SYSTEMS,
  cells,
  async (system, { model, concurrency }, round): Promise<Measure> => {
    const dims = ROW[model]!;
    if (system === 'tensorgate') return closedLoop(batched.get(model)!, dims, concurrency, SECONDS);
    if (system === 'tensorgate-nobatch') return closedLoop(nobatch.get(model)!, dims, concurrency, SECONDS);
    if (system === 'onnxruntime-node') {
      const r = await ortNodeJob<{ throughput_per_s: number; p50_us: number; p99_us: number; vcsw_per_req: number }>({
        kind: 'load',
        model: path(model),
        inputName: 'x',
        inputShape: [1, ...dims],
        concurrency,
        seconds: SECONDS,
        intraOpThreads: THREADS,
      });
      return { rps: r.throughput_per_s, p50_us: r.p50_us, p99_us: r.p99_us, mean_batch: 1, vcsw_per_req: r.vcsw_per_req };
    }
    const key = `${model}:${round}`;
    let raw = rawRuns.get(key);
    if (!raw) rawRuns.set(key, (raw = ortRaw(rawBinary, path(model), dims, BATCHES.filter((b) => b <= maxC))));
    let best = { batch: 1, samples_per_s: 0, run_us_p50: 0 };
    for (const b of BATCHES.filter((b) => b <= concurrency)) {
      const r = raw.get(b)!;
      if (r.samples_per_s > best.samples_per_s) best = { batch: b, ...r };
    }
    return { rps: best.samples_per_s, p50_us: best.run_us_p50, p99_us: NaN, mean_batch: best.batch, vcsw_per_req: NaN };
  },
  (text) => console.error(text),
);
for (const m of [...batched.values(), ...nobatch.values()]) await m.unload();

const one = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(1));
const two = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(2));
console.log(
  table(
    results.map((r) => ({
      model: r.cell.model,
      c: r.cell.concurrency,
      system: r.system,
      'req/s': spreadText(r.metrics.rps, kilo),
      p50_us: spreadText(r.metrics.p50_us, one),
      p99_us: spreadText(r.metrics.p99_us, one),
      batch: r.system === 'ort-raw' ? `${r.metrics.mean_batch.median} (fixed)` : two(r.metrics.mean_batch.median),
      'vcsw/req': two(r.metrics.vcsw_per_req.median),
    })),
  ),
);
const median = (s: string, m: string, c: number, metric: keyof Measure) => results.find((r) => r.system === s && r.cell.model === m && r.cell.concurrency === c)?.metrics[metric].median ?? NaN;
const ratios = cells.map(({ model, concurrency: c }) => ({
  model,
  concurrency: c,
  tg_over_ortnode_p50: median('tensorgate', model, c, 'p50_us') / median('onnxruntime-node', model, c, 'p50_us'),
  tg_over_ortnode_rps: median('tensorgate', model, c, 'rps') / median('onnxruntime-node', model, c, 'rps'),
  tg_share_of_ortraw: median('tensorgate', model, c, 'rps') / median('ort-raw', model, c, 'rps'),
  tg_over_nobatch_rps: median('tensorgate', model, c, 'rps') / median('tensorgate-nobatch', model, c, 'rps'),
}));
console.log();
console.log(table(ratios.map((r) => Object.fromEntries(Object.entries(r).map(([key, v]) => [key, typeof v === 'number' && !Number.isInteger(v) ? (Number.isNaN(v) ? '-' : v.toFixed(2)) : v])))));
const targets = {
  c1_p50_within_1_1x_of_onnxruntime_node: Object.fromEntries(MODELS.map((m) => [m, median('tensorgate', m, 1, 'p50_us') / median('onnxruntime-node', m, 1, 'p50_us') <= 1.1])),
  mlp_c64_plus_at_least_90pct_of_ort_raw: CONCURRENCY.filter((c) => c >= 64).every((c) => median('tensorgate', 'mlp', c, 'rps') / median('ort-raw', 'mlp', c, 'rps') >= 0.9),
};
console.log('\ntargets:', JSON.stringify(targets));
const file = writeResults('engine', {
  machine: recorder.record(),
  seconds: SECONDS,
  rounds: ROUNDS,
  intra_op_threads: THREADS,
  max_batch_size: MAX_BATCH,
  results: results.map((r) => ({ system: r.system, ...r.cell, ...r.metrics })),
  ratios,
  targets,
});
console.log(`\nwrote ${file}`);
