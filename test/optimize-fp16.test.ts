// fp16 conversion (src/optimize/fp16-converter.ts): the MLP, the encoder and the OCR classifier stay
// close to fp32 and load in onnxruntime-node; --keep-io-types keeps FP32 at the edges; blocked ops
// compute in fp32 behind Casts; constants beyond fp16's range are clamped, not turned into infinity.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ElemType, GraphBuilder } from '../src/onnx/builder.js';
import { mlpModel, transformerEncoderModel } from '../src/onnx/models.js';
import { compareModels } from '../src/optimize/compare.js';
import { convertModelToFp16 } from '../src/optimize/convert-fp16.js';
import { convertToFp16 } from '../src/optimize/fp16-converter.js';
import { readModelBytes, readModelFile } from '../src/optimize/model-file.js';
import { opCounts } from '../src/optimize/onnx-model.js';
import { randomSamples } from '../src/optimize/samples.js';
import { fromHalfBits } from '../src/protocol/half.js';
import { testEngine } from './helpers/engine.js';
import { OCR_CLS, OCR_CLS_OUTPUT, tempDir } from './helpers/optimize-kit.js';
import { runReference } from './helpers/ort-reference.js';

const engine = testEngine();

function file(bytes: Uint8Array): string {
  const path = join(tempDir(), 'model.onnx');
  writeFileSync(path, bytes);
  return path;
}

async function convert(input: string, options: { keepIoTypes?: boolean; blockOps?: string[] } = {}) {
  const output = join(tempDir(), 'fp16.onnx');
  const result = await convertModelToFp16(engine, { input, output, ...options });
  return { output, result };
}

async function accuracy(original: string, converted: string, shapes: Map<string, number[]>) {
  const m = await engine.load(original);
  const samples = randomSamples(m.metadata.inputs, 8, 3, shapes);
  await m.unload();
  return (await compareModels(engine, original, converted, { samples, sampleSource: 'test', runs: 2, maxBatchSize: 2 })).accuracy;
}

describe('fp16 conversion', () => {
  it.each([
    ['MLP', () => file(mlpModel()), new Map<string, number[]>(), 'y'],
    ['transformer encoder', () => file(transformerEncoderModel()), new Map([['x', [1, 8, 64]]]), 'y'],
    ['OCR classifier', () => OCR_CLS, new Map([['x', [1, 3, 48, 192]]]), OCR_CLS_OUTPUT],
  ] as const)('%s: FP16 inputs and outputs, relative RMSE <= 0.01, and onnxruntime-node runs it', async (_name, make, shapes, out) => {
    const original = make();
    const { output, result } = await convert(original);
    expect(result.transform.convertedInitializers).toBeGreaterThan(0);
    const m = await engine.load(output);
    expect(m.metadata.inputs.every((t) => t.datatype === 'FP16')).toBe(true);
    expect(m.metadata.outputs.find((t) => t.name === out)!.datatype).toBe('FP16');
    const shape = shapes.get('x') ?? [1, ...m.metadata.inputs[0]!.shape.slice(1)];
    const x = Uint16Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => (i % 7 === 0 ? 0x3800 : 0xb400)); // ±0.5, -0.25
    const ours = (await m.infer({ x: { shape, data: x } }))[out]!.data as Uint16Array;
    await m.unload();
    const [ref] = await runReference(output, [{ x: { datatype: 'FP16', shape, data: x } }]);
    expect(Array.from(ref![out]!.data as Uint16Array)).toEqual(Array.from(ours));
    const [acc] = await accuracy(original, output, shapes);
    expect(acc!.relRmse).toBeLessThanOrEqual(0.01);
    expect(acc!.datatype).toBe('FP32');
  });

  it('--keep-io-types keeps FP32 inputs and outputs with Casts at the edges', async () => {
    const original = file(mlpModel({ hidden: [64], inputSize: 32 }));
    const { output } = await convert(original, { keepIoTypes: true });
    const m = await engine.load(output);
    expect([...m.metadata.inputs, ...m.metadata.outputs].map((t) => t.datatype)).toEqual(['FP32', 'FP32']);
    await m.unload();
    const ops = opCounts((await readModelFile(output)).model);
    expect(ops.Cast).toBe(2);
    const [acc] = await accuracy(original, output, new Map());
    expect(acc!.relRmse).toBeLessThanOrEqual(0.01);
  });

  it('--block-ops keeps those nodes in fp32, casting at the borders of the fp16 region', async () => {
    const original = file(mlpModel({ hidden: [64], inputSize: 32 }));
    const { output, result } = await convert(original, { blockOps: ['Relu'] });
    expect(result.transform.blocked).toEqual({ Relu: 1 });
    const { model } = await readModelFile(output);
    const relu = model.graph!.node!.find((n) => n.op_type === 'Relu')!;
    const casts = model.graph!.node!.filter((n) => n.op_type === 'Cast');
    // One Cast to fp32 before the Relu, one back to fp16 after it.
    expect(casts).toHaveLength(2);
    expect(casts.some((c) => c.output![0] === relu.input![0])).toBe(true);
    expect(casts.some((c) => c.input![0] === relu.output![0])).toBe(true);
    const [acc] = await accuracy(original, output, new Map());
    expect(acc!.relRmse).toBeLessThanOrEqual(0.01);
  });

  it('clamps constants beyond ±65504 to the largest half instead of infinity', async () => {
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, ['batch', 2]);
    const big = g.initializer('big', ElemType.FLOAT, [2], [1e6, -3]);
    g.node('Add', ['x', big], ['y']);
    g.output('y', ElemType.FLOAT, ['batch', 2]);
    const model = readModelBytes(g.build());
    const summary = convertToFp16(model);
    expect(summary.clampedValues).toBe(1);
    expect(summary.notes.join('\n')).toMatch(/1 constant values beyond fp16's ±65504 were clamped/);
    const t = model.graph!.initializer![0]!;
    const bits = new Uint16Array(Uint8Array.from(t.raw_data!).buffer);
    expect(Array.from(bits, fromHalfBits)).toEqual([65504, -3]);
  });

  it('refuses unknown --block-nodes', () => {
    expect(() => convertToFp16(readModelBytes(mlpModel()), { blockNodes: ['missing'] })).toThrow(/no node named 'missing'/);
  });

  it('says it is meant for GPU providers', async () => {
    const { result } = await convert(file(mlpModel({ hidden: [16], inputSize: 8 })));
    expect(result.lines.join('\n')).toMatch(/for GPU providers.*slower on CPU/);
  });
});

