// Triton's model_warmup: run the configured requests before a model version is READY, so the first
// real request does not pay for lazy initialisation (arena growth, kernel selection, TensorRT builds).
//
// A config can arrive through the load API, so warmup reads nothing outside the version's warmup/
// directory (symlinks resolved before the check) and allocates nothing unbounded: batch_size within
// the model's max_batch_size, elements within the server's per-request limit, count within
// MAX_WARMUP_COUNT, and a data file's size checked before it is read.
import { realpathSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { CARRIER, ELEMENT_SIZE, FROM_TRITON_TYPE, type NumericDataType } from '../engine/datatype.js';
import type { InferInputs, InputTensor } from '../engine/index.js';
import { parseBytes } from '../protocol/binary-tensors.js';
import { DEFAULT_DECODE_LIMITS } from '../protocol/limits.js';
import type { Servable } from './backend.js';
import type { WarmupConfig } from './config-schema.js';
import { RepositoryError } from './errors.js';

/** Repetitions of one warmup sample (TF Serving caps its warmup records at 1,000 too). */
export const MAX_WARMUP_COUNT = 1000;

interface Where {
  /** The config's name for messages ("<model>/config.json"). */
  where: string;
  sample: WarmupConfig;
  index: number;
}

function invalid(at: Where, message: string): RepositoryError {
  return new RepositoryError('INVALID', `${at.where}: model_warmup[${at.index}] ('${at.sample.name}'): ${message}`);
}

/** The bytes of an input_data_file, which must resolve (symlinks included) inside `versionDir`/warmup. */
function readDataFile(at: Where, inputName: string, file: string, versionDir: string, expectedBytes: number | undefined): Buffer {
  const field = `inputs.${inputName}.input_data_file`;
  if (isAbsolute(file)) throw invalid(at, `${field}: '${file}' resolves outside the version's warmup/ directory (give a path inside it)`);
  const dir = join(versionDir, 'warmup');
  let real: string;
  let realDir: string;
  try {
    realDir = realpathSync(dir);
    real = realpathSync(join(dir, file));
  } catch {
    throw invalid(at, `${field}: '${file}' is not a file in the version's warmup/ directory`);
  }
  const rel = relative(realDir, real);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) {
    throw invalid(at, `${field}: '${file}' resolves outside the version's warmup/ directory`);
  }
  const size = statSync(real).size;
  if (expectedBytes !== undefined && size !== expectedBytes) {
    throw invalid(at, `${field}: ${file} has ${size} bytes, expected ${expectedBytes}`);
  }
  if (size > DEFAULT_DECODE_LIMITS.maxElements * 8) throw invalid(at, `${field}: ${file} has ${size} bytes, more than a warmup input may`);
  return readFileSync(real);
}

function warmupTensor(at: Where, inputName: string, spec: WarmupConfig['inputs'][string], batched: boolean, versionDir: string): InputTensor {
  const datatype = FROM_TRITON_TYPE[spec.data_type];
  if (datatype === 'BF16') throw invalid(at, `inputs.${inputName}: unsupported ${spec.data_type}`);
  const shape = batched ? [at.sample.batch_size, ...spec.dims] : [...spec.dims];
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count) || count > DEFAULT_DECODE_LIMITS.maxElements) {
    throw invalid(at, `inputs.${inputName}: shape [${shape.join(',')}] has more than ${DEFAULT_DECODE_LIMITS.maxElements} elements`);
  }
  if (datatype === 'BYTES') {
    if (spec.input_data_file) {
      // Triton's serialized form: each element a 4-byte little-endian length and its bytes.
      const file = readDataFile(at, inputName, spec.input_data_file, versionDir, undefined);
      try {
        return { datatype, shape, data: parseBytes(inputName, file, 0, file.length, count, 'input_data_file') };
      } catch (err) {
        throw invalid(at, `inputs.${inputName}.input_data_file: ${(err as Error).message}`);
      }
    }
    return { datatype, shape, data: new Array<string>(count).fill(spec.random_data ? 'warmup' : '') };
  }
  const Ctor = CARRIER[datatype as NumericDataType];
  const data = new Ctor(count);
  if (spec.random_data) {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24; // deterministic noise
    if (datatype === 'FP32' || datatype === 'FP64') (data as Float32Array).forEach((_, i, a) => (a[i] = Math.sin(i)));
  } else if (spec.input_data_file) {
    // Triton: the file lives in the version's warmup/ directory and holds the raw tensor bytes.
    const file = readDataFile(at, inputName, spec.input_data_file, versionDir, count * ELEMENT_SIZE[datatype as NumericDataType]);
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(file);
  }
  return { datatype, shape, data } as InputTensor;
}

/**
 * A freshly loaded servable, warmed up with its config's samples; when warmup fails it is unloaded (a
 * copy that failed never serves) and the failure thrown.
 */
export async function warmedUp<S extends Servable>(servable: S, samples: WarmupConfig[], versionDir: string): Promise<S> {
  try {
    await runWarmup(servable, samples, versionDir);
  } catch (err) {
    await servable.unload();
    throw err;
  }
  return servable;
}

/** Runs the config's warmup samples; `where` names the config in messages. */
export async function runWarmup(model: Servable, samples: WarmupConfig[], versionDir: string, where = 'config'): Promise<void> {
  const maxBatch = model.metadata.maxBatchSize;
  const batched = maxBatch > 0;
  for (const [index, sample] of samples.entries()) {
    const at: Where = { where, sample, index };
    if (batched && (sample.batch_size < 1 || sample.batch_size > maxBatch)) {
      throw invalid(at, `batch_size: ${sample.batch_size} is outside 1..${maxBatch} (the model's max_batch_size)`);
    }
    if (!batched && sample.batch_size > 1) throw invalid(at, `batch_size: ${sample.batch_size}, but the model does not batch (1 at most)`);
    if (sample.count > MAX_WARMUP_COUNT) throw invalid(at, `count: ${sample.count} exceeds ${MAX_WARMUP_COUNT}`);
    const inputs: Record<string, InputTensor> = {};
    for (const [name, spec] of Object.entries(sample.inputs)) inputs[name] = warmupTensor(at, name, spec, batched, versionDir);
    for (let i = 0; i < Math.max(1, sample.count); i++) {
      try {
        await model.infer(inputs as InferInputs);
      } catch (err) {
        throw new RepositoryError('LOAD_FAILED', `model_warmup '${sample.name}' failed: ${(err as Error).message}`);
      }
    }
  }
}
