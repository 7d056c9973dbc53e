// Triton's model_warmup: run the configured requests before a model version is READY, so the first
// real request does not pay for lazy initialisation (arena growth, kernel selection, TensorRT builds).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CARRIER, ELEMENT_SIZE, FROM_TRITON_TYPE, type NumericDataType } from '../engine/datatype.js';
import type { InferInputs, InputTensor } from '../engine/index.js';
import type { Servable } from './backend.js';
import type { WarmupConfig } from './config-schema.js';
import { RepositoryError } from './errors.js';

function warmupTensor(
  sample: WarmupConfig,
  inputName: string,
  spec: WarmupConfig['inputs'][string],
  batched: boolean,
  versionDir: string,
): InputTensor {
  const datatype = FROM_TRITON_TYPE[spec.data_type];
  if (datatype === 'BF16') throw new RepositoryError('INVALID', `model_warmup '${sample.name}': input '${inputName}' has unsupported ${spec.data_type}`);
  const shape = batched ? [sample.batch_size, ...spec.dims] : [...spec.dims];
  const count = shape.reduce((a, b) => a * b, 1);
  if (datatype === 'BYTES') {
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
    const file = readFileSync(join(versionDir, 'warmup', spec.input_data_file));
    const expected = count * ELEMENT_SIZE[datatype as NumericDataType];
    if (file.length !== expected) {
      throw new RepositoryError('INVALID', `model_warmup '${sample.name}': ${spec.input_data_file} has ${file.length} bytes, expected ${expected}`);
    }
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(file);
  }
  return { datatype, shape, data } as InputTensor;
}

export async function runWarmup(model: Servable, samples: WarmupConfig[], versionDir: string): Promise<void> {
  const batched = model.metadata.maxBatchSize > 0;
  for (const sample of samples) {
    const inputs: Record<string, InputTensor> = {};
    for (const [name, spec] of Object.entries(sample.inputs)) inputs[name] = warmupTensor(sample, name, spec, batched, versionDir);
    for (let i = 0; i < Math.max(1, sample.count); i++) {
      try {
        await model.infer(inputs as InferInputs);
      } catch (err) {
        throw new RepositoryError('LOAD_FAILED', `model_warmup '${sample.name}' failed: ${(err as Error).message}`);
      }
    }
  }
}
