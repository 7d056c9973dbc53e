// The facts shared by C++ and TypeScript are written once: the completion descriptor layout (the addon
// exports its numbers; they must equal src/engine/completion-layout.ts) and the datatype table (the
// addon receives it at init and reports model datatypes through it). Per-request engine timings travel
// in the descriptor.
import { describe, expect, it } from 'vitest';
import { nativeBinding } from '../src/engine/binding.js';
import { COMPLETION_LAYOUT, layoutDrift } from '../src/engine/completion-layout.js';
import { BY_ONNX, CACHE_CODE, DATATYPE_TABLE, ONNX_TYPE, TRITON_TYPE, type DataType } from '../src/engine/datatype.js';
import { Engine, type InferTimings } from '../src/engine/index.js';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel, slowBatchModel } from '../src/onnx/models.js';
import { occupy } from './helpers/batching.js';
import { testEngine } from './helpers/engine.js';

describe('completion descriptor layout', () => {
  it('the addon writes the layout TypeScript reads', () => {
    testEngine();
    expect(layoutDrift(nativeBinding().completionLayout)).toEqual([]);
    expect(nativeBinding().completionLayout).toEqual(COMPLETION_LAYOUT);
  });

  it('a drift is reported field by field', () => {
    expect(layoutDrift({ ...COMPLETION_LAYOUT, queueNs: 9 })).toEqual(['queueNs: addon 9, TypeScript 2']);
  });
});

describe('datatype table', () => {
  it('has one row per v2 datatype, with distinct ONNX numbers and cache codes', () => {
    expect(new Set(DATATYPE_TABLE.map((r) => r.onnx)).size).toBe(DATATYPE_TABLE.length);
    expect(new Set(Object.values(CACHE_CODE)).size).toBe(DATATYPE_TABLE.length);
    for (const r of DATATYPE_TABLE) expect(BY_ONNX[r.onnx]).toBe(r.name);
  });

  it.each(DATATYPE_TABLE.map((r) => [r.name, r.onnx]))('%s: a model of ONNX type %i reports it by that name', async (name, onnx) => {
    const model = await testEngine().load(identityModel(onnx as (typeof ElemType)[keyof typeof ElemType], ['n']));
    expect(model.metadata.inputs[0]!.datatype).toBe(name);
    expect(TRITON_TYPE[name as DataType]).toMatch(/^TYPE_/);
    expect(ONNX_TYPE[name as DataType]).toBe(onnx);
    await model.unload();
  });
});

describe('per-request engine timings', () => {
  it('fills queue time, compute time and the batch size of the run', async () => {
    const model = await testEngine().load(slowBatchModel({ ms: 2, size: 256 }), { maxBatchSize: 8, dynamicBatching: { maxQueueDelayMicroseconds: 20_000 } });
    const timings: InferTimings[] = [{ queueNs: -1, computeNs: -1, batchSize: -1 }, { queueNs: -1, computeNs: -1, batchSize: -1 }];
    const x = () => ({ x: { shape: [1, 256], data: new Float32Array(256) } });
    await Promise.all(timings.map((t) => model.infer(x(), { timings: t })));
    for (const t of timings) {
      expect(t.computeNs).toBeGreaterThan(1e6); // the model sleeps ~2 ms per run
      expect(t.queueNs).toBeGreaterThanOrEqual(0);
      expect(t.batchSize).toBe(2); // both rows ran in one batch (20 ms queue delay)
    }
    await model.unload();
  });

  it('a request refused in the queue reports no compute', async () => {
    const model = await testEngine().load(slowBatchModel({ ms: 30, size: 256 }), { maxBatchSize: 8, dynamicBatching: {} });
    const x = () => ({ x: { shape: [1, 256], data: new Float32Array(256) } });
    const { running } = await occupy(model); // the next request queues behind this one
    const t: InferTimings = { queueNs: -1, computeNs: -1, batchSize: -1 };
    await expect(model.infer(x(), { timeoutUs: 1000, timings: t })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(t).toEqual({ queueNs: 0, computeNs: 0, batchSize: 0 });
    await running;
    await model.unload();
  });
});

describe('engine options', () => {
  it('eventLoopSpinMicroseconds is validated and bounded', () => {
    expect(() => Engine.create({ eventLoopSpinMicroseconds: -1 })).toThrow(/eventLoopSpinMicroseconds/);
    expect(() => Engine.create({ eventLoopSpinMicroseconds: 20_000 })).toThrow(/eventLoopSpinMicroseconds/);
  });
});
