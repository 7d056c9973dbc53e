// The engine's public surface: runtime info, loading from a path or bytes, metadata, session options,
// execution providers, output selection, statistics and unload.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine, TensorgateError } from '../src/engine/index.js';
import { ElemType } from '../src/onnx/builder.js';
import { addModel, tinyModel, transformerEncoderModel } from '../src/onnx/models.js';
import { examplePath, testEngine } from './helpers/engine.js';

const ones = (n: number) => new Float32Array(n).fill(1);

describe('Engine', () => {
  it('loads the ONNX Runtime bundled with onnxruntime-node and requests the headers API version', () => {
    const engine = testEngine();
    expect(engine.runtime.ortVersion).toMatch(/^1\.\d+\.\d+/);
    expect(engine.runtime.apiVersion).toBe(21);
    expect(engine.runtime.library).toMatch(/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/libonnxruntime\.so\.1$/);
  });

  it('returns the same process runtime to every Engine.create', () => {
    const a = testEngine();
    const b = Engine.create();
    expect(b.runtime).toEqual(a.runtime);
  });

  it('refuses to change the process-wide thread pools after creation', () => {
    testEngine();
    expect(() => Engine.create({ intraOpThreads: 7 })).toThrow(/thread pools already exist/);
  });

  it('refuses a second ONNX Runtime library in the same process', () => {
    testEngine();
    const other = join(mkdtempSync(join(tmpdir(), 'tg-ort-')), 'libonnxruntime.so.1');
    expect(() => Engine.create({ ortLibrary: other })).toThrow(/not found/);
    const err = (() => {
      try {
        Engine.create({ ortLibrary: '/proc/self/exe' });
      } catch (e) {
        return e as TensorgateError;
      }
      return undefined;
    })();
    expect(err?.message).toMatch(/already loaded from/);
  });

  it('validates engine options', () => {
    expect(() => Engine.create({ intraOpThreads: -1 })).toThrow(/invalid engine options: intraOpThreads/);
  });
});

describe('loading and metadata', () => {
  it('loads from a path and from bytes with the same metadata', async () => {
    const fromPath = await testEngine().load(examplePath('tiny'));
    const fromBytes = await testEngine().load(readFileSync(examplePath('tiny')));
    expect(fromPath.metadata).toEqual(fromBytes.metadata);
    expect(fromPath.metadata.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 16], dimNames: ['batch', null] }]);
    expect(fromPath.metadata.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [-1, 16], dimNames: ['batch', null] }]);
    expect(fromPath.metadata.producer).toBe('tensorgate-builder');
    expect(fromPath.handle).not.toBe(fromBytes.handle);
  });

  it('reports -1 for every symbolic dimension', async () => {
    const model = await testEngine().load(transformerEncoderModel());
    expect(model.metadata.inputs[0]!.shape).toEqual([-1, -1, 64]);
    expect(model.metadata.inputs[0]!.dimNames).toEqual(['batch', 'seq', null]);
  });

  it('runs inference off the event loop and returns typed outputs', async () => {
    const model = await testEngine().load(tinyModel());
    const x = Float32Array.from({ length: 32 }, (_, i) => i);
    const out = await model.infer({ x: { datatype: 'FP32', shape: [2, 16], data: x } });
    expect(out.y!.datatype).toBe('FP32');
    expect(out.y!.shape).toEqual([2, 16]);
    expect(Array.from(out.y!.data as Float32Array)).toEqual(Array.from(x, (v) => v + 1));
  });

  it('returns only the requested outputs', async () => {
    const model = await testEngine().load(transformerEncoderModel());
    expect(model.metadata.outputs.map((o) => o.name)).toEqual(['y']);
    const out = await model.infer({ x: { shape: [1, 3, 64], data: ones(192) } }, { outputs: ['y'] });
    expect(Object.keys(out)).toEqual(['y']);
  });
});

describe('session options', () => {
  it('writes the optimized model when asked', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'tg-opt-')), 'optimized.onnx');
    await testEngine().load(examplePath('mlp'), { optimizedModelPath: path, graphOptimizationLevel: 'extended' });
    expect(existsSync(path)).toBe(true);
    const model = await testEngine().load(path);
    expect(model.metadata.inputs[0]!.name).toBe('x');
  });

  it('gives the same results with every optimization level, arena off and per-model threads', async () => {
    const x = Float32Array.from({ length: 256 * 3 }, (_, i) => Math.sin(i));
    const results: Float32Array[] = [];
    for (const options of [
      { graphOptimizationLevel: 'disabled' as const },
      { graphOptimizationLevel: 'basic' as const, memoryArena: false },
      { graphOptimizationLevel: 'all' as const, intraOpThreads: 2, interOpThreads: 1 },
    ]) {
      const model = await testEngine().load(examplePath('mlp'), options);
      const out = await model.infer({ x: { shape: [3, 256], data: x } });
      results.push(out.y!.data as Float32Array);
      await model.unload();
    }
    for (const r of results.slice(1)) {
      for (let i = 0; i < r.length; i++) expect(r[i]).toBeCloseTo(results[0]![i]!, 4);
    }
  });

  it('passes raw session config entries to ORT', async () => {
    // Telling ORT the file is in its own ORT format makes it reject our .onnx file: the entry arrived.
    const err = await testEngine()
      .load(examplePath('tiny'), { sessionConfigEntries: { 'session.load_model_format': 'ORT' } })
      .catch((e: TensorgateError) => e);
    expect(err).toBeInstanceOf(TensorgateError);
    expect((err as TensorgateError).message).toMatch(/ORT model verification failed/);
  });
});

describe('execution providers', () => {
  it('skips a GPU provider that cannot load, says why in metadata and logs it', async () => {
    const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const engine = Engine.create({ logger: { warn: (fields, message) => warnings.push({ fields, message }) } });
    const model = await engine.load(tinyModel(), {
      executionProviders: ['tensorrt', { name: 'cuda', options: { device_id: 0 } }, 'cpu'],
    });
    const [trt, cuda, cpu] = model.metadata.providers;
    expect(trt).toMatchObject({ name: 'tensorrt', active: false });
    expect(cuda).toMatchObject({ name: 'cuda', active: false });
    expect(trt!.reason).toMatch(/\S/);
    expect(cuda!.reason).toMatch(/\S/);
    expect(cpu).toEqual({ name: 'cpu', active: true });
    expect(warnings.map((w) => w.fields.provider)).toEqual(['tensorrt', 'cuda']);
    expect(warnings[0]!.message).toBe("execution provider 'tensorrt' skipped");
    // ...and the model still runs on the CPU provider.
    const out = await model.infer({ x: { shape: [1, 16], data: ones(16) } });
    expect(out.y!.data[0]).toBe(2);
  });

  it('names an unknown provider as skipped with ORT reason', async () => {
    const engine = Engine.create({ logger: { warn: () => {} } });
    const model = await engine.load(tinyModel(), { executionProviders: ['no-such-provider'] });
    expect(model.metadata.providers[0]).toMatchObject({ name: 'no-such-provider', active: false });
    expect(model.metadata.providers.at(-1)).toEqual({ name: 'cpu', active: true });
  });
});

describe('statistics and unload', () => {
  it('counts successes, executions and phases', async () => {
    const model = await testEngine().load(addModel(ElemType.FLOAT));
    for (let i = 0; i < 5; i++) {
      await model.infer({ a: { shape: [1, 4], data: ones(4) }, b: { shape: [1, 4], data: ones(4) } });
    }
    const s = model.stats();
    expect(s.success.count).toBe(5);
    expect(s.executionCount).toBe(5);
    expect(s.inferenceCount).toBe(5);
    expect(s.pending).toBe(0);
    expect(s.computeInfer.count).toBe(5);
    expect(s.computeInfer.ns).toBeGreaterThan(0);
    expect(s.queue.count).toBe(5);
    expect(s.histograms.request.reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('completes accepted requests on unload, then rejects new ones', async () => {
    const model = await testEngine().load(examplePath('mlp'));
    const x = ones(256);
    const accepted = Array.from({ length: 50 }, () => model.infer({ x: { shape: [1, 256], data: x } }));
    const unloaded = model.unload();
    expect(model.accepting).toBe(false);
    const late = await model.infer({ x: { shape: [1, 256], data: x } }).catch((e: TensorgateError) => e);
    expect(late).toBeInstanceOf(TensorgateError);
    expect((late as TensorgateError).code).toBe('UNAVAILABLE');
    const results = await Promise.all(accepted);
    expect(results).toHaveLength(50);
    await unloaded;
    await model.unload(); // idempotent
    expect(model.stats().success.count).toBe(50);
    expect(model.stats().failures.unavailable).toBe(1);
  });
});
