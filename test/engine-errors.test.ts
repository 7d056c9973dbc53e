// Bad input is rejected before ORT with a message naming the input and expected vs given; ORT's own
// failures carry ORT's message and code; broken model files fail to load clearly. Nothing crashes.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TensorgateError, type Model } from '../src/engine/index.js';
import { ElemType } from '../src/onnx/builder.js';
import { addModel, identityModel, tinyModel } from '../src/onnx/models.js';
import { examplePath, testEngine, writeTempModel } from './helpers/engine.js';

async function rejection(promise: Promise<unknown>): Promise<TensorgateError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TensorgateError);
    return err as TensorgateError;
  }
  throw new Error('expected a rejection');
}

describe('input validation', () => {
  let tiny: Model;
  let add: Model;
  let fixed: Model;
  beforeAll(async () => {
    tiny = await testEngine().load(tinyModel());
    add = await testEngine().load(addModel(ElemType.FLOAT));
    fixed = await testEngine().load(identityModel(ElemType.INT32, [2, 3]));
  });
  const x = new Float32Array(16);

  it('rejects an unknown input name, listing the model inputs', async () => {
    const err = await rejection(tiny.infer({ x: { shape: [1, 16], data: x }, z: { shape: [1], data: x } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe("unknown input 'z' (model inputs: x)");
  });

  it('rejects a missing input, naming it', async () => {
    const err = await rejection(add.infer({ a: { shape: [1, 2], data: new Float32Array(2) } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe("missing input 'b'");
  });

  it('rejects a datatype that differs from the model input', async () => {
    const err = await rejection(tiny.infer({ x: { shape: [1, 16], data: new Float64Array(16) } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe("input 'x': expected datatype FP32 (Float32Array), got a Float64Array");
  });

  it('rejects a declared datatype that differs from the model input', async () => {
    const err = await rejection(tiny.infer({ x: { datatype: 'INT32', shape: [1, 16], data: new Int32Array(16) } }));
    expect(err.message).toBe("input 'x': expected datatype FP32, got INT32");
  });

  it('rejects a plain array where a typed array is expected', async () => {
    const data = new Array(16).fill(0) as unknown as Float32Array;
    const err = await rejection(tiny.infer({ x: { shape: [1, 16], data } }));
    expect(err.message).toBe("input 'x': expected datatype FP32 as a Float32Array, got a plain array");
  });

  it('rejects a wrong rank with expected and given shapes', async () => {
    const err = await rejection(tiny.infer({ x: { shape: [16], data: x } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe("input 'x': expected rank 2 (shape [-1,16]), got rank 1 (shape [16])");
  });

  it('rejects a fixed dimension of the wrong size', async () => {
    const err = await rejection(tiny.infer({ x: { shape: [2, 8], data: x } }));
    expect(err.message).toBe("input 'x': expected shape [-1,16], got [2,8] (dim 1 must be 16)");
    const err2 = await rejection(fixed.infer({ x: { shape: [3, 2], data: new Int32Array(6) } }));
    expect(err2.message).toBe("input 'x': expected shape [2,3], got [3,2] (dim 0 must be 2)");
  });

  it('rejects data whose element count does not match the shape', async () => {
    const err = await rejection(tiny.infer({ x: { shape: [2, 16], data: x } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe("input 'x': shape [2,16] has 32 elements but data has 16");
  });

  it('rejects negative or fractional dimensions', async () => {
    const err = await rejection(tiny.infer({ x: { shape: [-1, 16], data: x } }));
    expect(err.message).toBe("input 'x': shape must be an array of non-negative integers, got -1 at dim 0");
    const err2 = await rejection(tiny.infer({ x: { shape: [1.5, 16], data: x } }));
    expect(err2.message).toContain('got 1.5 at dim 0');
  });

  it('rejects an unknown requested output', async () => {
    const err = await rejection(tiny.infer({ x: { shape: [1, 16], data: x } }, { outputs: ['nope'] }));
    expect(err.message).toBe("unknown output 'nope' (model outputs: y)");
  });

  it('keeps serving after rejected requests', async () => {
    const out = await tiny.infer({ x: { shape: [1, 16], data: x } });
    expect(Array.from(out.y!.data as Float32Array)).toEqual(new Array(16).fill(1));
    expect(tiny.stats().pending).toBe(0);
  });
});

describe('ORT failures', () => {
  it('carries ORT message and error code when a run fails', async () => {
    const add = await testEngine().load(addModel(ElemType.FLOAT));
    // Both inputs are ['batch','n'] but n differs: shapes pass our checks, ORT's Add cannot broadcast.
    const err = await rejection(
      add.infer({ a: { shape: [1, 3], data: new Float32Array(3) }, b: { shape: [1, 4], data: new Float32Array(4) } }),
    );
    expect(err.code).toBe('ORT_ERROR');
    expect(err.ortCode).toMatch(/^ORT_/);
    expect(err.message).toMatch(/broadcast/i);
    expect(add.stats().failures.backend).toBe(1);
  });
});

describe('model files', () => {
  const engine = () => testEngine();
  const dir = mkdtempSync(join(tmpdir(), 'tensorgate-bad-models-'));

  it('reports a missing file', async () => {
    const path = join(dir, 'absent.onnx');
    const err = await rejection(engine().load(path));
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.message).toBe(`model file '${path}' does not exist`);
  });

  it('reports an empty file', async () => {
    const path = join(dir, 'empty.onnx');
    writeFileSync(path, '');
    const err = await rejection(engine().load(path));
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.message).toBe(`model file '${path}' is empty`);
  });

  it('reports a truncated file with ORT details', async () => {
    const bytes = readFileSync(examplePath('mlp'));
    const path = join(dir, 'truncated.onnx');
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const err = await rejection(engine().load(path));
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.message).toContain(`cannot load model '${path}':`);
    expect(err.ortCode).toBeDefined();
  });

  it('reports a corrupt file', async () => {
    const path = writeTempModel(Buffer.from('this is not an onnx model, just some text\n'.repeat(20)));
    const err = await rejection(engine().load(path));
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.message).toContain('cannot load model');
  });

  it('reports corrupt bytes', async () => {
    const err = await rejection(engine().load(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])));
    expect(err.code).toBe('MODEL_LOAD_FAILED');
    expect(err.message).toMatch(/^cannot load model bytes: /);
  });

  it('reports a directory given as a model file', async () => {
    const err = await rejection(engine().load(dir));
    expect(err.message).toBe(`model path '${dir}' is not a regular file`);
  });

  it('refuses batching for a model without a dynamic first dimension', async () => {
    const err = await rejection(engine().load(identityModel(ElemType.FLOAT, [2, 3]), { maxBatchSize: 4 }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain("needs every input and output to have a dynamic first (batch) dimension, but 'x'");
  });

  it('validates load options with the path of the bad field', async () => {
    const err = await rejection(engine().load(tinyModel(), { maxBatchSize: 4, dynamicBatching: { preferredBatchSize: [8] } }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('invalid load options: dynamicBatching.preferredBatchSize.0: 8 exceeds maxBatchSize 4');
    const err2 = await rejection(engine().load(tinyModel(), { graphOptimizationLevel: 'max' as 'all' }));
    expect(err2.message).toMatch(/^invalid load options: graphOptimizationLevel: /);
  });

  it('keeps working after failed loads', async () => {
    const model = await engine().load(examplePath('tiny'));
    const out = await model.infer({ x: { shape: [1, 16], data: new Float32Array(16).fill(2) } });
    expect(out.y!.data[0]).toBe(3);
  });
});
