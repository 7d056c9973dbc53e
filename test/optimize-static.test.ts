// Static QDQ quantization (src/optimize/static-quantizer.ts, calibration.ts, opset-upgrade.ts): the
// Conv-heavy OCR classifier keeps its top-1 answers, ONNX Runtime fuses the QDQ pattern into int8
// kernels, onnxruntime-node loads the result, the MLP stays within relative RMSE 0.05, percentile
// calibration clips outliers, and old-opset models are raised to opset 13 without changing results.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ElemType, GraphBuilder, attr } from '../src/onnx/builder.js';
import { mlpModel } from '../src/onnx/models.js';
import { calibrate } from '../src/optimize/calibration.js';
import { compareModels } from '../src/optimize/compare.js';
import { readModelBytes, readModelFile } from '../src/optimize/model-file.js';
import { encodeModel, opCounts, opsetVersion } from '../src/optimize/onnx-model.js';
import { upgradeOpset } from '../src/optimize/opset-upgrade.js';
import { quantizeModel } from '../src/optimize/quantize.js';
import { readSamples } from '../src/optimize/samples.js';
import { testEngine } from './helpers/engine.js';
import { decisiveOcrImages, OCR_CLS, OCR_CLS_OUTPUT, relRmse, tempDir, uniformRows, writeJsonl } from './helpers/optimize-kit.js';
import { runReference } from './helpers/ort-reference.js';

const engine = testEngine();

describe('static quantization of the OCR direction classifier (MobileNetV3, 53 Conv, opset 9)', () => {
  let calibration: string;
  let output: string;
  let transform: Record<string, unknown>;
  let drawn = 0;

  beforeAll(async () => {
    const dir = tempDir();
    const images = await decisiveOcrImages(engine, 96, 21);
    drawn = images.drawn;
    calibration = writeJsonl(join(dir, 'calibration.jsonl'), 'x', images.rows);
    output = join(dir, 'cls.int8.onnx');
    ({ transform } = await quantizeModel(engine, { input: OCR_CLS, output, mode: 'static', calibration, perChannel: true }));
  }, 120_000);

  it('keeps >= 98 % of the top-1 answers on text-line images the fp32 model is decisive on', async () => {
    const samples = await readSamples(calibration, [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1], dimNames: [] }]);
    const c = await compareModels(engine, OCR_CLS, output, { samples, sampleSource: 'test', runs: 3, maxBatchSize: 2 });
    const acc = c.accuracy.find((a) => a.output === OCR_CLS_OUTPUT)!;
    expect(acc.top1!.total).toBe(96);
    expect(acc.top1!.rate).toBeGreaterThanOrEqual(0.98);
    expect(drawn).toBeLessThan(96 * 6);
  });

  it('raises the opset to 13 and quantizes every Conv (the Gemm, Adds, Muls and pools too)', () => {
    expect(transform.notes).toEqual(expect.arrayContaining([expect.stringMatching(/opset 9 raised to 13.*Clip.*Softmax/)]));
    const after = transform.opsAfter as Record<string, number>;
    expect(after.QuantizeLinear).toBeGreaterThan(50);
    expect((transform.skipped as unknown[]).length).toBe(0);
    expect((transform.quantized as string[]).filter((n) => /Conv/.test(n))).toHaveLength(53);
  });

  it('is fused by ONNX Runtime into int8 kernels (QLinearConv), not run as float with Q/DQ around it', async () => {
    const fused = join(tempDir(), 'fused.onnx');
    await (await engine.load(output, { graphOptimizationLevel: 'extended', optimizedModelPath: fused })).unload();
    const ops = opCounts((await readModelFile(fused)).model);
    const qlinearConv = Object.entries(ops).filter(([op]) => op.endsWith('QLinearConv')).reduce((n, [, c]) => n + c, 0);
    expect(qlinearConv).toBe(53);
    expect(ops.Conv ?? 0).toBe(0);
  });

  it('loads and runs in onnxruntime-node, which agrees with the engine', async () => {
    const [sample] = await readSamples(calibration, [{ name: 'x', datatype: 'FP32', shape: [-1, 3, -1, -1], dimNames: [] }]);
    const x = sample!.x!;
    const m = await engine.load(output);
    const ours = (await m.infer({ x }))[OCR_CLS_OUTPUT]!.data as Float32Array;
    await m.unload();
    const [ref] = await runReference(output, [{ x: { datatype: 'FP32', shape: [...x.shape], data: x.data as Float32Array } }]);
    expect(relRmse(ref![OCR_CLS_OUTPUT]!.data as Float32Array, ours)).toBeLessThan(1e-4);
  });
});

describe('static quantization of the MLP', () => {
  it('stays within relative RMSE 0.05 of fp32, calibrated on 32 rows', async () => {
    const dir = tempDir();
    const original = join(dir, 'mlp.onnx');
    writeFileSync(original, mlpModel());
    const calibration = writeJsonl(join(dir, 'cal.jsonl'), 'x', uniformRows(32, 256, 4));
    const output = join(dir, 'mlp.int8.onnx');
    const { transform } = await quantizeModel(engine, { input: original, output, mode: 'static', calibration });
    expect(transform.quantized).toHaveLength(3);
    const samples = await readSamples(calibration, [{ name: 'x', datatype: 'FP32', shape: [-1, 256], dimNames: [] }]);
    const c = await compareModels(engine, original, output, { samples, sampleSource: 'test', runs: 3, maxBatchSize: 2 });
    expect(c.accuracy[0]!.relRmse).toBeLessThanOrEqual(0.05);
  });

  it('refuses static mode without calibration data, and calibration bodies that do not fit the model', async () => {
    const dir = tempDir();
    const original = join(dir, 'mlp.onnx');
    writeFileSync(original, mlpModel());
    await expect(quantizeModel(engine, { input: original, output: join(dir, 'o.onnx'), mode: 'static' })).rejects.toThrow(/needs --calibration/);
    const bad = writeJsonl(join(dir, 'bad.jsonl'), 'not_x', uniformRows(2, 256, 1));
    await expect(quantizeModel(engine, { input: original, output: join(dir, 'o.onnx'), mode: 'static', calibration: bad })).rejects.toThrow(/bad\.jsonl:1: .*missing input x/);
  });
});

describe('calibration samples', () => {
  const inputs = [{ name: 'x', datatype: 'FP32' as const, shape: [-1, 4], dimNames: [] }];

  it('reads a directory of v2 request bodies (.json files, in name order) like a JSONL file', async () => {
    const dir = tempDir();
    uniformRows(3, 4, 1).forEach((r, i) => writeFileSync(join(dir, `${i}.json`), JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: r.shape, data: Array.from(r.data) }] })));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const fromDir = await readSamples(dir, inputs);
    const fromFile = await readSamples(writeJsonl(join(tempDir(), 'a.jsonl'), 'x', uniformRows(3, 4, 1)), inputs);
    expect(fromDir.map((s) => Array.from(s.x!.data as Float32Array))).toEqual(fromFile.map((s) => Array.from(s.x!.data as Float32Array)));
  });

  it('says which body is wrong, and refuses an empty source', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.jsonl'), '{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}\n{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2]}]}\n');
    await expect(readSamples(join(dir, 'bad.jsonl'), inputs)).rejects.toThrow(/bad\.jsonl:2: /);
    await expect(readSamples(tempDir(), inputs)).rejects.toThrow(/no \.json request bodies/);
  });
});

describe('calibration', () => {
  // y = x + 0: the activation 'h' (x · 1) is what calibration measures.
  const g = new GraphBuilder();
  g.input('x', ElemType.FLOAT, ['batch', 100]);
  const one = g.initializer('one', ElemType.FLOAT, [], [1]);
  const zero = g.initializer('zero', ElemType.FLOAT, [], [0]);
  g.node('Mul', ['x', one], ['h']);
  g.node('Add', ['h', zero], ['y']);
  g.output('y', ElemType.FLOAT, ['batch', 100]);
  const model = readModelBytes(g.build());
  // Values spread over [-1, 1] plus one outlier of 50 among 10,000.
  const samples = uniformRows(100, 100, 3).map((r, i) => ({ x: { ...r, data: i === 7 ? r.data.map((v, j) => (j === 3 ? 50 : v)) : r.data } }));

  it('min/max spans the outlier; the 99.9 percentile leaves it out', async () => {
    const minmax = (await calibrate(engine, model, ['h'], samples, { kind: 'minmax' })).get('h')!;
    expect(minmax.max).toBe(50);
    const p = (await calibrate(engine, model, ['h'], samples, { kind: 'percentile', percentile: 99.9 })).get('h')!;
    expect(p.max).toBeLessThan(1.1);
    expect(p.min).toBeLessThan(-0.9);
  });

  it('measures graph inputs from the samples themselves', async () => {
    const r = (await calibrate(engine, model, ['x'], samples, { kind: 'minmax' })).get('x')!;
    expect(r.max).toBe(50);
  });
});

describe('opset upgrade to 13', () => {
  it('adapts Clip, Slice, Squeeze and a mid-axis Softmax from opset 9 and computes the same', async () => {
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, [2, 3, 4]);
    g.node('Clip', ['x'], ['c'], { min: attr.float(-0.5), max: attr.float(0.5) });
    g.node('Slice', ['c'], ['s'], { starts: attr.ints([1]), ends: attr.ints([3]), axes: attr.ints([2]) });
    g.node('Softmax', ['s'], ['p'], { axis: attr.int(1) });
    g.node('Unsqueeze', ['p'], ['u'], { axes: attr.ints([0]) });
    g.node('Squeeze', ['u'], ['y'], { axes: attr.ints([0]) });
    g.output('y', ElemType.FLOAT, [2, 3, 2]);
    const bytes = g.build({ opsetImports: [{ domain: '', version: 9 }] });
    const model = readModelBytes(bytes);
    const result = upgradeOpset(model)!;
    expect(result).toMatchObject({ from: 9, to: 13, adapted: { Clip: 1, Slice: 1, Softmax: 1, Unsqueeze: 1, Squeeze: 1 } });
    expect(opsetVersion(model)).toBe(13);
    const x = { datatype: 'FP32' as const, shape: [2, 3, 4], data: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7)) };
    const [a, b] = await Promise.all([runReference(bytes, [{ x }]), runReference(encodeModel(model), [{ x }])]);
    expect(Array.from(b[0]!.y!.data as Float32Array)).toEqual(Array.from(a[0]!.y!.data as Float32Array));
  });

  it('refuses operators whose meaning changed without an adapter, naming them', () => {
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, [1, 1, 2, 2]);
    const scales = g.initializer('scales', ElemType.FLOAT, [4], [1, 1, 2, 2]);
    g.node('Upsample', ['x', scales], ['y']);
    g.output('y', ElemType.FLOAT, [1, 1, 4, 4]);
    const model = readModelBytes(g.build({ opsetImports: [{ domain: '', version: 9 }] }));
    expect(() => upgradeOpset(model)).toThrow(/cannot raise opset 9 to 13: Upsample changed meaning/);
  });

  it('leaves opset 13+ models alone', () => {
    expect(upgradeOpset(readModelBytes(mlpModel()))).toBeUndefined();
  });
});

