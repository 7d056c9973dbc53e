// Dynamic int8 quantization (src/optimize/dynamic-quantizer.ts through quantizeModel): the example MLP
// and the transformer encoder stay within relative RMSE 0.05 of fp32, the graphs are valid for
// onnxruntime-node (an independent loader, in a child process), node selection works and fails loudly,
// Gemm's alpha/beta/transB are honoured, and the u8×s8 saturation case is demonstrated.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ElemType, GraphBuilder, attr, mulberry32, uniform } from '../src/onnx/builder.js';
import { mlpModel, transformerEncoderModel } from '../src/onnx/models.js';
import type { Sample } from '../src/optimize/calibration.js';
import { compareModels } from '../src/optimize/compare.js';
import { chooseWeightBits, detectCpuFeatures, INT8_DOT_FLAGS } from '../src/optimize/cpu-features.js';
import { readModelFile } from '../src/optimize/model-file.js';
import { opCounts } from '../src/optimize/onnx-model.js';
import { quantizeModel, type QuantizeRequest } from '../src/optimize/quantize.js';
import { accuracyFlags } from '../src/optimize/report.js';
import { randomSamples } from '../src/optimize/samples.js';
import { floatValues } from '../src/optimize/tensor-data.js';
import { testEngine } from './helpers/engine.js';
import { relRmse, saturationModel, tempDir, uniformRows } from './helpers/optimize-kit.js';
import { runReference } from './helpers/ort-reference.js';

const engine = testEngine();
const here = detectCpuFeatures();
const hasInt8Dot = INT8_DOT_FLAGS.some((f) => here.flags.has(f));

function modelFile(bytes: Uint8Array, name = 'model.onnx'): string {
  const path = join(tempDir(), name);
  writeFileSync(path, bytes);
  return path;
}

async function quantize(input: string, options: Partial<QuantizeRequest> = {}) {
  const output = join(tempDir(), 'q.onnx');
  const result = await quantizeModel(engine, { input, output, mode: 'dynamic', ...options });
  return { output, result, ops: opCounts((await readModelFile(output)).model) };
}

async function compare(original: string, quantized: string, samples: Sample[]) {
  return compareModels(engine, original, quantized, { samples, sampleSource: 'test', runs: 3, maxBatchSize: 4 });
}

async function signatureSamples(path: string, count: number, shapes: Map<string, number[]> = new Map()): Promise<Sample[]> {
  const m = await engine.load(path);
  const inputs = m.metadata.inputs;
  await m.unload();
  return randomSamples(inputs, count, 5, shapes);
}

describe('dynamic quantization of the example models', () => {
  it('MLP 256-1024-1024-16: every Gemm becomes MatMulInteger, relative RMSE <= 0.05, a quarter of the size', async () => {
    const original = modelFile(mlpModel());
    const { output, result, ops } = await quantize(original);
    expect(ops).toMatchObject({ MatMulInteger: 3, DynamicQuantizeLinear: 3 });
    expect(ops.Gemm).toBeUndefined();
    expect(result.transform.weightBits).toBe(chooseWeightBits(here).bits);
    const c = await compare(original, output, await signatureSamples(original, 32));
    expect(c.accuracy[0]!.relRmse).toBeLessThanOrEqual(0.05);
    expect(c.accuracy[0]!.relRmse).toBeGreaterThan(0); // it did change the model
    expect(result.written.bytes / readFileSync(original).length).toBeLessThan(0.3);
    expect(c.latency.map((l) => l.batch)).toEqual([1, 4]);
  });

  it('transformer encoder: the six weight MatMuls are quantized, the two activation×activation ones kept, relative RMSE <= 0.05', async () => {
    const original = modelFile(transformerEncoderModel());
    const { output, result } = await quantize(original);
    const skipped = result.transform.skipped as Array<{ node: string; reason: string }>;
    expect((result.transform.quantized as string[]).length).toBe(6);
    expect(skipped).toHaveLength(2);
    for (const s of skipped) expect(s.reason).toMatch(/not a constant float tensor/);
    const c = await compare(original, output, await signatureSamples(original, 16, new Map([['x', [1, 12, 64]]])));
    expect(c.accuracy[0]!.relRmse).toBeLessThanOrEqual(0.05);
  });

  it('the quantized graphs load and run in onnxruntime-node, which agrees with the engine', async () => {
    for (const bytes of [mlpModel({ hidden: [256] }), transformerEncoderModel()]) {
      const { output } = await quantize(modelFile(bytes));
      const m = await engine.load(output);
      const x = m.metadata.inputs[0]!.shape.length === 3 ? { shape: [2, 5, 64], data: uniformRows(1, 640, 2)[0]!.data } : { shape: [3, 256], data: uniformRows(1, 768, 2)[0]!.data };
      const ours = (await m.infer({ x })).y!.data as Float32Array;
      await m.unload();
      const [ref] = await runReference(output, [{ x: { datatype: 'FP32', ...x } }]);
      expect(relRmse(ref!.y!.data as Float32Array, ours)).toBeLessThan(1e-5);
    }
  });

  it('per-channel weight scales beat one scale per tensor when output columns differ in magnitude', async () => {
    // Column j of W spans ±10^(j/16 − 1): one tensor-wide scale leaves the small columns a few levels.
    const rng = mulberry32(12);
    const w = uniform(rng, 64 * 32, 1).map((v, i) => v * 10 ** ((i % 32) / 16 - 1));
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, ['batch', 64]);
    g.node('MatMul', ['x', g.initializer('w', ElemType.FLOAT, [64, 32], w)], ['y']);
    g.output('y', ElemType.FLOAT, ['batch', 32]);
    const original = modelFile(g.build());
    const samples = await signatureSamples(original, 16);
    const [tensor, channel] = [await quantize(original, { weightBits: 7 }), await quantize(original, { weightBits: 7, perChannel: true })];
    const worstColumn = async (path: string) => {
      const [a, b] = [await engine.load(original), await engine.load(path)];
      let worst = 0;
      for (const s of samples) {
        const [ya, yb] = [(await a.infer(s)).y!.data as Float32Array, (await b.infer(s)).y!.data as Float32Array];
        worst = Math.max(worst, relRmse(ya.subarray(0, 4), yb.subarray(0, 4))); // the four smallest columns
      }
      return worst;
    };
    expect(await worstColumn(channel.output)).toBeLessThan((await worstColumn(tensor.output)) / 2);
  });
});

describe('node selection', () => {
  const original = modelFile(mlpModel({ hidden: [64], inputSize: 32 }));

  it('--exclude-nodes keeps the named node in float', async () => {
    const { ops, result } = await quantize(original, { excludeNodes: ['Gemm_0'] });
    expect(ops).toMatchObject({ Gemm: 1, MatMulInteger: 1 });
    expect(result.transform.quantized).toEqual(['Gemm_2']);
  });

  it('refuses op types the mode cannot quantize, unknown node names, and a selection that quantizes nothing', async () => {
    await expect(quantize(original, { opTypes: ['Conv'] })).rejects.toThrow(/dynamic quantization supports MatMul, Gemm; not Conv/);
    await expect(quantize(original, { excludeNodes: ['nope'] })).rejects.toThrow(/no node named 'nope'/);
    await expect(quantize(original, { opTypes: ['MatMul'] })).rejects.toThrow(/nothing to quantize/);
  });
});

describe('Gemm and old opsets', () => {
  it('honours transB, alpha and beta (with a constant and with a computed C)', async () => {
    const rng = mulberry32(4);
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, ['batch', 48]);
    const w = g.initializer('w', ElemType.FLOAT, [32, 48], uniform(rng, 32 * 48, 0.3)); // [N, K]: transB
    const c = g.initializer('c', ElemType.FLOAT, [32], uniform(rng, 32, 1));
    g.node('Gemm', ['x', w, c], ['h'], { transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) });
    const w2 = g.initializer('w2', ElemType.FLOAT, [32, 32], uniform(rng, 32 * 32, 0.3));
    g.node('Gemm', ['h', w2, 'h'], ['y'], { beta: attr.float(-1.5) });
    g.output('y', ElemType.FLOAT, ['batch', 32]);
    const original = modelFile(g.build());
    const { output, ops } = await quantize(original);
    expect(ops.MatMulInteger).toBe(2);
    const c2 = await compare(original, output, await signatureSamples(original, 16));
    expect(c2.accuracy[0]!.relRmse).toBeLessThanOrEqual(0.05);
  });

  it('models below opset 11 get ONNX Runtime’s DynamicQuantizeMatMul, and the summary says so', async () => {
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, ['batch', 64]);
    const w = g.initializer('w', ElemType.FLOAT, [64, 16], uniform(mulberry32(6), 64 * 16, 0.3));
    g.node('MatMul', ['x', w], ['y']);
    g.output('y', ElemType.FLOAT, ['batch', 16]);
    const original = modelFile(g.build({ opsetImports: [{ domain: '', version: 10 }] }));
    const { output, ops, result } = await quantize(original);
    expect(ops['com.microsoft:DynamicQuantizeMatMul']).toBe(1);
    expect(result.lines.join('\n')).toMatch(/opset 10 < 11.*ONNX Runtime only/);
    const c = await compare(original, output, await signatureSamples(original, 8));
    expect(c.accuracy[0]!.relRmse).toBeLessThanOrEqual(0.05);
  });
});

describe('u8×s8 saturation (x86 without VNNI)', () => {
  // The model is built so that full-range 8-bit weights drive pairs of u8×s8 products past int16 (the
  // vpmaddubsw lane ONNX Runtime's AVX2 kernel adds them in), and 7-bit weights cannot.
  const { bytes } = saturationModel();
  const original = modelFile(bytes);
  const samples: Sample[] = uniformRows(24, 256, 8, 0, 1).map((r) => ({ x: r }));

  /** Share of adjacent product pairs beyond int16 under the quantized weights, over all samples. */
  async function saturatingPairs(path: string): Promise<number> {
    const { model } = await readModelFile(path);
    const wq = model.graph!.initializer!.find((t) => t.data_type === 3 && t.dims!.length === 2)!;
    const q = new Int8Array(Uint8Array.from(wq.raw_data!).buffer);
    const [k, n] = wq.dims!.map(Number) as [number, number];
    let over = 0;
    let pairs = 0;
    for (const s of samples) {
      const x = s.x!.data as Float32Array;
      const max = Math.max(...x);
      const a = Array.from(x, (v) => Math.round((v / max) * 255)); // DynamicQuantizeLinear: [0, max] -> 0..255, zero point 0
      for (let col = 0; col < n; col++) {
        for (let i = 0; i + 1 < k; i += 2) {
          pairs++;
          if (Math.abs(a[i]! * q[i * n + col]! + a[i + 1]! * q[(i + 1) * n + col]!) > 32767) over++;
        }
      }
    }
    return over / pairs;
  }

  it('7-bit weights: no product pair can leave int16, and the report raises no flag', async () => {
    const { output } = await quantize(original, { weightBits: 7 });
    expect(await saturatingPairs(output)).toBe(0);
    const c = await compare(original, output, samples);
    expect(c.accuracy[0]!.relRmse).toBeLessThanOrEqual(0.05);
    expect(accuracyFlags(c)).toEqual([]);
  });

  it(`8-bit weights forced: many pairs leave int16; ${hasInt8Dot ? 'this CPU has VNNI, so the result stays accurate' : 'without VNNI the report flags the error'}`, async () => {
    const { output, result } = await quantize(original, { weightBits: 8 });
    expect(await saturatingPairs(output)).toBeGreaterThan(0.1);
    const c = await compare(original, output, samples);
    const flags = [...result.flags, ...accuracyFlags(c)];
    if (hasInt8Dot || process.arch !== 'x64') {
      // vpdpbusd accumulates in 32 bits: exact products, no warning either.
      expect(c.accuracy[0]!.relRmse).toBeLessThanOrEqual(0.05);
      expect(flags).toEqual([]);
    } else {
      // Measured on an AVX2-only EPYC: relative RMSE ~0.3; the warning of the forced choice is flagged too.
      expect(c.accuracy[0]!.relRmse).toBeGreaterThan(0.05);
      expect(flags.join('\n')).toMatch(/can saturate/);
      expect(flags.join('\n')).toMatch(/relative RMSE .* exceeds 0\.05/);
    }
  });

  it('the weights really are full-range at 8 bits and half-range at 7', async () => {
    for (const [bits, max] of [[8, 127], [7, 63]] as const) {
      const { output } = await quantize(original, { weightBits: bits });
      const { model } = await readModelFile(output);
      const wq = model.graph!.initializer!.find((t) => t.data_type === 3 && t.dims!.length === 2)!;
      const q = new Int8Array(Uint8Array.from(wq.raw_data!).buffer);
      expect(Math.max(...q)).toBe(max);
      const scale = floatValues(model.graph!.initializer!.find((t) => t.name === 'w_scale')!)![0]!;
      expect(scale).toBeCloseTo(1 / max, 3);
    }
  });
});
