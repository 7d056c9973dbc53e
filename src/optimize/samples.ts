// Input samples for calibration and for the comparison report: v2 inference request bodies (a JSONL
// file, one JSON body per line, or a directory of .json bodies), or seeded random inputs shaped by
// the model's signature. Also the batching helpers the latency runs need.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CARRIER } from '../engine/datatype.js';
import type { InputTensor, TensorMetadata } from '../engine/tensor.js';
import { seededRandom } from '../onnx/sample-data.js';
import { fromHalfBits, toHalfBits } from '../protocol/half.js';
import { decodeInferRequest } from '../protocol/infer-request.js';
import type { Sample } from './calibration.js';

/** Parses repeated `--shape NAME:D1xD2x...` flags. */
export function parseShapes(specs: readonly string[]): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const spec of specs) {
    const m = /^(.+):(\d+(?:x\d+)*)$/.exec(spec);
    if (!m) throw new Error(`--shape ${spec}: expected NAME:D1xD2x... (e.g. x:1x3x48x192)`);
    shapes.set(m[1]!, m[2]!.split('x').map(Number));
  }
  return shapes;
}

/** Reads request bodies from a JSONL file or a directory of .json files, decoded for `inputs`. */
export async function readSamples(path: string, inputs: readonly TensorMetadata[]): Promise<Sample[]> {
  const info = await stat(path);
  const bodies: Array<{ where: string; body: Buffer }> = [];
  if (info.isDirectory()) {
    const files = (await readdir(path)).filter((f) => f.endsWith('.json')).sort();
    for (const f of files) bodies.push({ where: join(path, f), body: await readFile(join(path, f)) });
    if (bodies.length === 0) throw new Error(`${path}: no .json request bodies in this directory`);
  } else {
    const lines = (await readFile(path, 'utf8')).split('\n');
    lines.forEach((line, i) => line.trim() && bodies.push({ where: `${path}:${i + 1}`, body: Buffer.from(line, 'utf8') }));
    if (bodies.length === 0) throw new Error(`${path}: no request bodies (expected one JSON body per line)`);
  }
  return bodies.map(({ where, body }) => {
    try {
      const decoded = decodeInferRequest(body, undefined, { inputs });
      const missing = inputs.filter((t) => !(t.name in decoded.inputs)).map((t) => t.name);
      if (missing.length > 0) throw new Error(`missing input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
      return { ...decoded.inputs };
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
  });
}

/**
 * `count` seeded random samples of batch 1: floats uniform in [-1, 1), integers in [0, 10), bytes in
 * [0, 255]. A dynamic first dimension is the batch (1 here); other dynamic dims need `shapes`.
 */
export function randomSamples(inputs: readonly TensorMetadata[], count: number, seed: number, shapes: ReadonlyMap<string, number[]>): Sample[] {
  const rng = seededRandom(seed);
  const resolved = inputs.map((t) => ({ meta: t, shape: resolveShape(t, shapes.get(t.name)) }));
  return Array.from({ length: count }, () => Object.fromEntries(resolved.map(({ meta, shape }) => [meta.name, randomTensor(meta, shape, rng)])));
}

function resolveShape(meta: TensorMetadata, given: number[] | undefined): number[] {
  if (given) {
    const fits = given.length === meta.shape.length && given.every((d, i) => meta.shape[i] === -1 || meta.shape[i] === d);
    if (!fits) throw new Error(`--shape ${meta.name}: [${given}] does not fit the model's [${meta.shape}]`);
    return given;
  }
  const shape = meta.shape.map((d, i) => (d === -1 && i === 0 ? 1 : d));
  const open = shape.flatMap((d, i) => (d === -1 ? [i] : []));
  if (open.length > 0) {
    throw new Error(`input '${meta.name}' has dynamic dims [${meta.shape}]: pass --shape ${meta.name}:${shape.map((d) => (d === -1 ? 'N' : d)).join('x')} or --calibration samples`);
  }
  return shape;
}

function randomTensor(meta: TensorMetadata, shape: number[], rng: () => number): InputTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (meta.datatype === 'BYTES') throw new Error(`input '${meta.name}' is BYTES: random inputs cannot be made for it; pass --calibration samples`);
  const dt = meta.datatype;
  const Ctor = CARRIER[dt];
  const data = new Ctor(n);
  for (let i = 0; i < n; i++) {
    const u = rng();
    switch (dt) {
      case 'FP32':
      case 'FP64':
        data[i] = u * 2 - 1;
        break;
      case 'FP16':
        data[i] = toHalfBits(u * 2 - 1);
        break;
      case 'INT64':
      case 'UINT64':
        data[i] = BigInt(Math.floor(u * 10));
        break;
      case 'BOOL':
        data[i] = u < 0.5 ? 0 : 1;
        break;
      case 'UINT8':
        data[i] = Math.floor(u * 256);
        break;
      default:
        data[i] = Math.floor(u * 10);
    }
  }
  return { datatype: dt, shape, data } as InputTensor;
}

/** The sample with each input converted to what `inputs` declare (FP32 ↔ FP16 for fp16 models). */
export function adaptSample(sample: Sample, inputs: readonly TensorMetadata[]): Sample {
  const out: Sample = {};
  for (const meta of inputs) {
    const t = sample[meta.name];
    if (!t) throw new Error(`sample has no input '${meta.name}'`);
    const from = t.datatype ?? meta.datatype;
    if (from === meta.datatype) out[meta.name] = t;
    else if (from === 'FP32' && meta.datatype === 'FP16') out[meta.name] = { datatype: 'FP16', shape: t.shape, data: Uint16Array.from(t.data as Float32Array, toHalfBits) };
    else if (from === 'FP16' && meta.datatype === 'FP32') out[meta.name] = { datatype: 'FP32', shape: t.shape, data: Float32Array.from(t.data as Uint16Array, fromHalfBits) };
    else throw new Error(`input '${meta.name}': the sample is ${from}, the model takes ${meta.datatype}`);
  }
  return out;
}

/** The first row of each input (the sample's batch dimension cut to 1). */
export function firstRow(sample: Sample): Sample {
  return mapInputs(sample, (t) => {
    const rows = t.shape[0] ?? 1;
    if (rows <= 1) return t;
    const per = (t.data as ArrayLike<unknown>).length / rows;
    return { ...t, shape: [1, ...t.shape.slice(1)], data: (t.data as unknown as { slice(a: number, b: number): unknown }).slice(0, per) } as InputTensor;
  });
}

/** The sample's single row repeated `batch` times. */
export function tileRows(sample: Sample, batch: number): Sample {
  return mapInputs(firstRow(sample), (t) => {
    const row = t.data as unknown as { length: number; constructor: new (n: number) => { set(a: unknown, at: number): void } };
    if (Array.isArray(t.data)) return { ...t, shape: [batch, ...t.shape.slice(1)], data: Array.from({ length: batch }, () => t.data as unknown[]).flat() } as InputTensor;
    const out = new row.constructor(row.length * batch);
    for (let b = 0; b < batch; b++) out.set(row, b * row.length);
    return { ...t, shape: [batch, ...t.shape.slice(1)], data: out } as unknown as InputTensor;
  });
}

function mapInputs(sample: Sample, f: (t: InputTensor) => InputTensor): Sample {
  return Object.fromEntries(Object.entries(sample).map(([k, v]) => [k, f(v)]));
}

/** Numeric output values as doubles (FP16 bits decoded); undefined for BYTES. */
export function numericValues(datatype: string, data: unknown): Float64Array | undefined {
  if (datatype === 'BYTES' || !ArrayBuffer.isView(data)) return undefined;
  if (datatype === 'FP16') return Float64Array.from(data as Uint16Array, fromHalfBits);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Float64Array.from(data, Number);
  return Float64Array.from(data as unknown as ArrayLike<number>);
}
