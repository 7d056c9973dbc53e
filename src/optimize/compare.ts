// The comparison behind every optimization report: the original and the new model run through the
// engine on the same inputs. Accuracy per output (max absolute and relative error, relative RMSE,
// top-1 agreement for class scores, exact matches for integer outputs), p50 latency at batch 1 and
// at the max batch size with the two models interleaved, and load times.
import type { Engine, LoadOptions, Model } from '../engine/index.js';
import type { TensorMetadata } from '../engine/tensor.js';
import type { Sample } from './calibration.js';
import { adaptSample, firstRow, numericValues, tileRows } from './samples.js';

export interface CompareOptions {
  samples: readonly Sample[];
  /** Where the samples came from, for the report. */
  sampleSource: string;
  /** Timed runs of each model at each batch size (after 3 warm-up runs). */
  runs: number;
  /** Batch size of the second latency row (when the model batches); 0 or 1: batch 1 only. */
  maxBatchSize: number;
  baselineLoad?: LoadOptions;
  candidateLoad?: LoadOptions;
}

export interface OutputAccuracy {
  output: string;
  datatype: string;
  elements: number;
  maxAbsError: number;
  /** max |a − b| / max(|a|, 0.01 · max|a| of that sample's output): relative, without blowing up near 0. */
  maxRelError: number;
  /** sqrt(Σ(a − b)² / Σa²) over every sample. */
  relRmse: number;
  /** Argmax agreement over the last axis, for outputs that look like class scores. */
  top1?: { agree: number; total: number; rate: number };
  /** Integer and bool outputs: the share of elements that are equal. */
  exactMatch?: number;
  /** Elements where the new model gives NaN/Infinity and the original does not. */
  nonFinite: number;
}

export interface LatencyRow {
  batch: number;
  baselineP50Ms: number;
  candidateP50Ms: number;
  /** baseline p50 / candidate p50. */
  speedup: number;
  baselineMinMaxMs: [number, number];
  candidateMinMaxMs: [number, number];
}

export interface Comparison {
  samples: number;
  sampleSource: string;
  accuracy: OutputAccuracy[];
  latency: LatencyRow[];
  runs: number;
  loadMs: { baseline: number; candidate: number };
  /** Whether the models take a dynamic batch dimension (else latency is measured at the samples' shape). */
  batchable: boolean;
}

export async function compareModels(engine: Engine, baselinePath: string, candidatePath: string, options: CompareOptions): Promise<Comparison> {
  // A first session pays ONNX Runtime's one-time set-up: load once untimed so both loads compare fairly.
  await (await engine.load(baselinePath, options.baselineLoad)).unload();
  const t0 = performance.now();
  const baseline = await engine.load(baselinePath, options.baselineLoad);
  const t1 = performance.now();
  const candidate = await engine.load(candidatePath, options.candidateLoad);
  const t2 = performance.now();
  try {
    const accuracy = await measureAccuracy(baseline, candidate, options.samples);
    const batchable = [...baseline.metadata.inputs, ...baseline.metadata.outputs].every((t) => t.shape[0] === -1);
    const latency: LatencyRow[] = [];
    const first = options.samples[0]!;
    const sizes = batchable ? [1, ...(options.maxBatchSize > 1 ? [options.maxBatchSize] : [])] : [0];
    for (const batch of sizes) {
      const input = batch === 0 ? first : batch === 1 ? firstRow(first) : tileRows(first, batch);
      latency.push(await measureLatency(baseline, candidate, input, options.runs, batch === 0 ? Number(first[Object.keys(first)[0]!]?.shape[0] ?? 1) : batch));
    }
    return {
      samples: options.samples.length,
      sampleSource: options.sampleSource,
      accuracy,
      latency,
      runs: options.runs,
      loadMs: { baseline: t1 - t0, candidate: t2 - t1 },
      batchable,
    };
  } finally {
    await Promise.all([baseline.unload(), candidate.unload()]);
  }
}

async function measureAccuracy(baseline: Model, candidate: Model, samples: readonly Sample[]): Promise<OutputAccuracy[]> {
  const acc = new Map<string, Accumulator>();
  for (const sample of samples) {
    const a = await baseline.infer(adaptSample(sample, baseline.metadata.inputs));
    const b = await candidate.infer(adaptSample(sample, candidate.metadata.inputs));
    for (const meta of baseline.metadata.outputs) {
      const ref = a[meta.name]!;
      const got = b[meta.name];
      if (!got) throw new Error(`the new model has no output '${meta.name}'`);
      if (got.shape.join('x') !== ref.shape.join('x')) throw new Error(`output '${meta.name}': shape [${got.shape}] differs from the original's [${ref.shape}]`);
      let entry = acc.get(meta.name);
      if (!entry) acc.set(meta.name, (entry = new Accumulator(meta, classLike(meta, ref.shape, ref.data))));
      entry.add(ref.datatype, ref.data, got.datatype, got.data, ref.shape);
    }
  }
  return [...acc.values()].map((a) => a.result());
}

const CLASS_NAME = /prob|logit|score|class|label|softmax|cls/i;

/**
 * Class scores: a float output of rank ≥ 2 with ≥ 2 entries on the last axis that is named like
 * scores (prob, logit, score, class, label, softmax, cls) or holds probabilities (rows in [0, 1]
 * summing to 1). Regressors and hidden states are left out: argmax over them means nothing.
 */
function classLike(meta: TensorMetadata, shape: number[], data: unknown): boolean {
  if (!['FP32', 'FP16', 'FP64'].includes(meta.datatype) || shape.length < 2 || shape.at(-1)! < 2) return false;
  if (CLASS_NAME.test(meta.name)) return true;
  const v = numericValues(meta.datatype, data);
  if (!v) return false;
  const k = shape.at(-1)!;
  for (let row = 0; row + k <= v.length; row += k) {
    let sum = 0;
    for (let j = 0; j < k; j++) {
      const p = v[row + j]!;
      if (!(p >= 0 && p <= 1)) return false;
      sum += p;
    }
    if (Math.abs(sum - 1) > 1e-3) return false;
  }
  return v.length > 0;
}

class Accumulator {
  readonly #meta: TensorMetadata;
  readonly #classes: boolean;
  #elements = 0;
  #maxAbs = 0;
  #maxRel = 0;
  #sqErr = 0;
  #sqRef = 0;
  #agree = 0;
  #rows = 0;
  #equal = 0;
  #nonFinite = 0;
  readonly #float: boolean;

  constructor(meta: TensorMetadata, classes: boolean) {
    this.#meta = meta;
    this.#classes = classes;
    this.#float = ['FP32', 'FP16', 'FP64'].includes(meta.datatype);
  }

  add(refType: string, refData: unknown, gotType: string, gotData: unknown, shape: number[]): void {
    const a = numericValues(refType, refData);
    const b = numericValues(gotType, gotData);
    if (!a || !b) {
      // BYTES: exact comparison of each element.
      const ra = refData as Buffer[];
      const rb = gotData as Buffer[];
      ra.forEach((v, i) => (this.#equal += v.equals(rb[i]!) ? 1 : 0));
      this.#elements += ra.length;
      return;
    }
    let scale = 0;
    for (const v of a) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    const floor = Math.max(scale * 1e-2, Number.MIN_VALUE);
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      if (x === y) this.#equal++;
      if (!Number.isFinite(y) && Number.isFinite(x)) {
        this.#nonFinite++;
        continue;
      }
      const err = Math.abs(x - y);
      if (!Number.isFinite(err)) continue;
      if (err > this.#maxAbs) this.#maxAbs = err;
      const rel = err / Math.max(Math.abs(x), floor);
      if (rel > this.#maxRel) this.#maxRel = rel;
      this.#sqErr += err * err;
      this.#sqRef += x * x;
    }
    this.#elements += a.length;
    if (this.#classes) {
      const k = shape.at(-1)!;
      for (let row = 0; row + k <= a.length; row += k) {
        this.#rows++;
        if (argmax(a, row, k) === argmax(b, row, k)) this.#agree++;
      }
    }
  }

  result(): OutputAccuracy {
    const out: OutputAccuracy = {
      output: this.#meta.name,
      datatype: this.#meta.datatype,
      elements: this.#elements,
      maxAbsError: this.#nonFinite > 0 ? Infinity : this.#maxAbs,
      maxRelError: this.#nonFinite > 0 ? Infinity : this.#maxRel,
      relRmse: this.#nonFinite > 0 ? Infinity : this.#sqRef > 0 ? Math.sqrt(this.#sqErr / this.#sqRef) : this.#sqErr > 0 ? Infinity : 0,
      nonFinite: this.#nonFinite,
    };
    if (this.#classes && this.#rows > 0) out.top1 = { agree: this.#agree, total: this.#rows, rate: this.#agree / this.#rows };
    if (!this.#float) out.exactMatch = this.#elements > 0 ? this.#equal / this.#elements : 1;
    return out;
  }
}

function argmax(v: Float64Array, start: number, k: number): number {
  let best = 0;
  for (let j = 1; j < k; j++) if (v[start + j]! > v[start + best]!) best = j;
  return best;
}

async function measureLatency(baseline: Model, candidate: Model, sample: Sample, runs: number, batch: number): Promise<LatencyRow> {
  const inputs = [adaptSample(sample, baseline.metadata.inputs), adaptSample(sample, candidate.metadata.inputs)] as const;
  const models = [baseline, candidate] as const;
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < 3; i++) for (const m of [0, 1] as const) await models[m].infer(inputs[m]);
  // Interleave: rounds alternate which model goes first, so drift in machine load hits both alike.
  const rounds = Math.max(1, Math.min(runs, 5));
  const perRound = Math.ceil(runs / rounds);
  for (let r = 0; r < rounds; r++) {
    for (const m of r % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const)) {
      for (let i = 0; i < perRound; i++) {
        const start = performance.now();
        await models[m].infer(inputs[m]);
        times[m].push(performance.now() - start);
      }
    }
  }
  const [a, b] = times.map((t) => t.sort((x, y) => x - y)) as [number[], number[]];
  const p50 = (t: number[]) => t[Math.floor((t.length - 1) / 2)]!;
  return {
    batch,
    baselineP50Ms: p50(a),
    candidateP50Ms: p50(b),
    speedup: p50(a) / p50(b),
    baselineMinMaxMs: [a[0]!, a.at(-1)!],
    candidateMinMaxMs: [b[0]!, b.at(-1)!],
  };
}
