// The optimizer's ONNX reader/writer (src/optimize/onnx-model.ts, model-file.ts): models survive a
// read and write unchanged (checked with onnx-proto, an independent decoder, and by running them in
// onnxruntime-node), 64-bit values stay exact, and external data is read, written and refused as it
// should be.
import { existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { ElemType, GraphBuilder, attr } from '../src/onnx/builder.js';
import { mlpModel, transformerEncoderModel, treeEnsembleModel } from '../src/onnx/models.js';
import { readModelBytes, readModelFile, writeModelFile } from '../src/optimize/model-file.js';
import { decodeModel, encodeModel, opCounts } from '../src/optimize/onnx-model.js';
import { floatValues } from '../src/optimize/tensor-data.js';
import { testEngine } from './helpers/engine.js';
import { OCR_CLS, OCR_CLS_OUTPUT, tempDir, uniformRows } from './helpers/optimize-kit.js';
import { runReference } from './helpers/ort-reference.js';

const { onnx } = onnxProto;

/** The model as onnx-proto sees it, as plain JSON (longs as strings, bytes as base64). */
function independent(bytes: Uint8Array): unknown {
  return onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: String, bytes: String, enums: Number, defaults: false, arrays: false });
}

describe('reading and writing models', () => {
  it.each([
    ['mlp', () => mlpModel({ hidden: [64], inputSize: 32 })],
    ['encoder', () => transformerEncoderModel()],
    ['tree ensemble (ai.onnx.ml, string and float-list attributes)', () => treeEnsembleModel()],
  ])('a %s model decoded and encoded again is the same model to onnx-proto', (_name, build) => {
    const bytes = build();
    const again = encodeModel(decodeModel(bytes));
    expect(independent(again)).toEqual(independent(bytes));
  });

  it('round-trips the third-party OCR classifier (Constant nodes, opset 9) to a model onnxruntime-node runs identically', async () => {
    const bytes = readFileSync(OCR_CLS);
    const again = encodeModel(decodeModel(bytes));
    expect(independent(again)).toEqual(independent(bytes));
    const input = { x: { datatype: 'FP32' as const, shape: [1, 3, 48, 192], data: Float32Array.from({ length: 3 * 48 * 192 }, (_, i) => Math.sin(i) * 0.9) } };
    const [a, b] = await Promise.all([runReference(bytes, [input]), runReference(again, [input])]);
    expect(Buffer.from((b[0]![OCR_CLS_OUTPUT]!.data as Float32Array).buffer)).toEqual(Buffer.from((a[0]![OCR_CLS_OUTPUT]!.data as Float32Array).buffer));
  });

  it('keeps 64-bit integers exact (INT64_MAX in an attribute, int64 tensor data)', () => {
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, [4, 8]);
    const starts = g.initializer('starts', ElemType.INT64, [1], [1n]);
    const ends = g.initializer('ends', ElemType.INT64, [1], [9223372036854775807n]);
    g.node('Slice', ['x', starts, ends], ['y']);
    g.node('Constant', [], ['c'], { value_ints: attr.ints([9223372036854775807n, -9223372036854775808n]) });
    g.output('y', ElemType.FLOAT, [3, 8]);
    g.output('c', ElemType.INT64, [2]);
    const bytes = g.build();
    const model = decodeModel(bytes);
    const ints = model.graph!.node!.find((n) => n.op_type === 'Constant')!.attribute![0]!.ints;
    expect(ints).toEqual(['9223372036854775807', '-9223372036854775808']);
    expect(independent(encodeModel(model))).toEqual(independent(bytes));
  });

  it('counts nodes by op type, naming domains other than the standard one', () => {
    expect(opCounts(decodeModel(treeEnsembleModel()))).toEqual({ 'ai.onnx.ml:TreeEnsembleRegressor': 1 });
    expect(opCounts(decodeModel(mlpModel()))).toEqual({ Gemm: 3, Relu: 2 });
  });

  it('refuses bytes that are not a model', () => {
    expect(() => decodeModel(Buffer.from('definitely not protobuf'))).toThrow(/not an ONNX model/);
  });
});

describe('external data', () => {
  const bytes = mlpModel({ hidden: [128], inputSize: 64, outputSize: 8 });
  const input = { x: { shape: [2, 64], data: uniformRows(1, 128, 3)[0]!.data } };

  it('writes large tensors to <file>.data when asked, and the engine runs the result like the original', async () => {
    const dir = tempDir();
    const written = await writeModelFile(readModelBytes(bytes), join(dir, 'model.onnx'), { externalData: 'always' });
    expect(written.files).toEqual([join(dir, 'model.onnx'), join(dir, 'model.onnx.data')]);
    expect(statSync(join(dir, 'model.onnx')).size).toBeLessThan(2048);
    const engine = testEngine();
    const [a, b] = [await engine.load(bytes), await engine.load(join(dir, 'model.onnx'))];
    expect((await b.infer(input)).y!.data).toEqual((await a.infer(input)).y!.data);
    const back = await readModelFile(join(dir, 'model.onnx'));
    expect(back.externalFiles).toEqual(['model.onnx.data']);
    const w = (m: typeof back.model) => floatValues(m.graph!.initializer!.find((t) => t.name === 'w0')!);
    expect(w(back.model)).toEqual(w(readModelBytes(bytes)));
  });

  it("goes external by itself above the size where one protobuf message would not fit ('auto')", async () => {
    const dir = tempDir();
    const small = await writeModelFile(readModelBytes(bytes), join(dir, 'a.onnx'), { autoThreshold: 1 << 30 });
    expect(small.files).toHaveLength(1);
    const big = await writeModelFile(readModelBytes(bytes), join(dir, 'b.onnx'), { autoThreshold: 1000 });
    expect(big.files).toEqual([join(dir, 'b.onnx'), join(dir, 'b.onnx.data')]);
  });

  it('refuses external data outside the model directory, missing files and out-of-range offsets', async () => {
    const dir = tempDir();
    await writeModelFile(readModelBytes(bytes), join(dir, 'model.onnx'), { externalData: 'always' });
    const model = decodeModel(readFileSync(join(dir, 'model.onnx')));
    const t = model.graph!.initializer!.find((x) => x.data_location === 1)!;
    const set = (key: string, value: string) => (t.external_data!.find((e) => e.key === key)!.value = value);
    const attempt = async (key: string, value: string) => {
      const copy = structuredClone(model);
      const tc = copy.graph!.initializer!.find((x) => x.name === t.name)!;
      tc.external_data!.find((e) => e.key === key)!.value = value;
      writeFileSync(join(dir, 'bad.onnx'), encodeModel(copy));
      return readModelFile(join(dir, 'bad.onnx'));
    };
    await expect(attempt('location', '../secret.bin')).rejects.toThrow(/outside the model's directory/);
    await expect(attempt('location', '/etc/passwd')).rejects.toThrow(/outside the model's directory/);
    await expect(attempt('location', 'missing.data')).rejects.toThrow(/does not exist/);
    await expect(attempt('offset', '99999999')).rejects.toThrow(/lies outside/);
    set('location', 'model.onnx.data');
    expect(() => readModelBytes(readFileSync(join(dir, 'model.onnx')))).toThrow(/external data: load the model from its file/);
  });

  it('refuses a single .onnx file over protobuf’s 2 GiB limit with a message that says why', async () => {
    const dir = tempDir();
    const path = join(dir, 'huge.onnx');
    writeFileSync(path, '');
    truncateSync(path, 2 ** 31); // sparse: no disk space used
    await expect(readModelFile(path)).rejects.toThrow(/cannot exceed 2 GiB.*external data/);
    expect(existsSync(path)).toBe(true);
  });
});
