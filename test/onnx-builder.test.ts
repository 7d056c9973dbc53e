import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import type { DataType } from '../src/engine/datatype.js';
import { ElemType, GraphBuilder, attr, mulberry32, uniform } from '../src/onnx/builder.js';
import {
  addModel,
  identityModel,
  mlpLayers,
  mlpModel,
  slowModel,
  tinyModel,
  transformerEncoderModel,
  treeEnsembleModel,
  treeEnsembleParams,
  treeEnsembleReference,
  type DenseLayer,
} from '../src/onnx/models.js';
import { EXAMPLE_MODELS, makeExampleModels } from '../src/tools/make-example-models.js';
import { runReference, type RefTensor } from './helpers/ort-reference.js';

const { onnx } = onnxProto;

/** Decodes model bytes; decode() builds class instances, whose repeated fields are never null. */
function decodeGraph(bytes: Uint8Array): { model: OnnxTypes.ModelProto; graph: OnnxTypes.GraphProto } {
  const model = onnx.ModelProto.decode(bytes);
  return { model, graph: model.graph as OnnxTypes.GraphProto };
}

const fp32 = (shape: number[], data: ArrayLike<number>): RefTensor => ({
  datatype: 'FP32',
  shape,
  data: Float32Array.from(data),
});

/** Runs one input set and returns its single output's data. */
async function runOne(model: Uint8Array | string, inputs: Record<string, RefTensor>, output = 'y'): Promise<RefTensor> {
  const [result] = await runReference(model, [inputs]);
  const tensor = result?.[output];
  if (!tensor) throw new Error(`no output ${output}`);
  return tensor;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!));
    worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
  }
  expect(worst).toBeLessThan(tol);
}

function dense(x: Float64Array, rows: number, layer: DenseLayer): Float64Array {
  const y = new Float64Array(rows * layer.fanOut);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < layer.fanOut; o++) {
      let s = layer.bias[o]!;
      for (let i = 0; i < layer.fanIn; i++) s += x[r * layer.fanIn + i]! * layer.weight[i * layer.fanOut + o]!;
      y[r * layer.fanOut + o] = layer.relu ? Math.max(0, s) : s;
    }
  }
  return y;
}

describe('GraphBuilder', () => {
  it('encodes symbolic, anonymous and fixed dims, sorted attributes and int64 initializers', () => {
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, ['batch', null, -1, 4]);
    g.initializer('big', ElemType.INT64, [2], [1n << 40n, -3n]);
    g.node('Identity', ['x'], ['y'], { zeta: attr.int(2n ** 40n), alpha: attr.floats([0.5]), mid: attr.strings(['a']) });
    g.output('y', ElemType.FLOAT, ['batch', null, -1, 4]);
    const { model, graph } = decodeGraph(g.build());

    expect(model.producerName).toBe('tensorgate-builder');
    expect(Number(model.irVersion)).toBe(8);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([
      ['', 17],
      ['ai.onnx.ml', 3],
    ]);
    const dims = graph.input[0]?.type?.tensorType?.shape?.dim ?? [];
    expect(dims.map((d) => d.dimParam || (d.dimValue ? Number(d.dimValue) : null))).toEqual(['batch', null, null, 4]);
    const attributes = graph.node[0]?.attribute ?? [];
    expect(attributes.map((a) => a.name)).toEqual(['alpha', 'mid', 'zeta']);
    expect(String(attributes[2]?.i)).toBe(String(2 ** 40));
    const raw = graph.initializer[0]?.rawData ?? new Uint8Array();
    expect(Array.from(new BigInt64Array(Uint8Array.from(raw).buffer))).toEqual([1n << 40n, -3n]);
  });

  it('rejects duplicate names and mismatched initializer sizes', () => {
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, [1]);
    expect(() => g.initializer('x', ElemType.FLOAT, [1], [0])).toThrow(/already defined/);
    expect(() => g.initializer('w', ElemType.FLOAT, [2, 2], [0, 1, 2])).toThrow(/3 values/);
  });

  it('mulberry32 is deterministic per seed', () => {
    expect(uniform(mulberry32(7), 5)).toEqual(uniform(mulberry32(7), 5));
    expect(uniform(mulberry32(7), 5)).not.toEqual(uniform(mulberry32(8), 5));
  });
});

describe('model factories', () => {
  const factories: Record<string, () => Uint8Array> = {
    tiny: tinyModel,
    identity: () => identityModel(ElemType.STRING, ['batch', null]),
    add: () => addModel(ElemType.INT64),
    mlp: () => mlpModel(),
    encoder: () => transformerEncoderModel(),
    trees: () => treeEnsembleModel(),
    slow: () => slowModel(),
  };

  it.each(Object.entries(factories))('%s builds identical bytes twice', (_name, build) => {
    expect(Buffer.from(build()).equals(Buffer.from(build()))).toBe(true);
  });

  it('different seeds give different weights', () => {
    expect(Buffer.from(mlpModel({ seed: 1 })).equals(Buffer.from(mlpModel({ seed: 2 })))).toBe(false);
  });

  it('tiny: y = x + 1', async () => {
    const x = Array.from({ length: 3 * 16 }, (_, i) => i * 0.25 - 4);
    const y = await runOne(tinyModel(), { x: fp32([3, 16], x) });
    expect(y.shape).toEqual([3, 16]);
    expect(Array.from(y.data as Float32Array)).toEqual(x.map((v) => v + 1));
  });

  const addCases: Array<[DataType, ElemType, ArrayBufferView, ArrayBufferView, Array<number | bigint>]> = [
    ['FP32', ElemType.FLOAT, Float32Array.of(1.5, -2, 3, 0.25, 8, -9), Float32Array.of(1, 1, -3, 0.5, 0, 9), [2.5, -1, 0, 0.75, 8, 0]],
    ['FP64', ElemType.DOUBLE, Float64Array.of(0.1, -2, 3, 0, 8, -9), Float64Array.of(0.2, 1, -3, 0, 0, 9), [0.1 + 0.2, -1, 0, 0, 8, 0]],
    ['INT32', ElemType.INT32, Int32Array.of(1, -2, 3, 2 ** 30, 8, -9), Int32Array.of(1, 1, 1, 2 ** 30 - 1, 0, 0), [2, -1, 4, 2 ** 31 - 1, 8, -9]],
    ['INT64', ElemType.INT64, BigInt64Array.of(1n, -2n, 3n, 1n << 40n, 8n, -9n), BigInt64Array.of(1n, 1n, 1n, 1n << 40n, 0n, 0n), [2n, -1n, 4n, 1n << 41n, 8n, -9n]],
  ];

  it.each(addCases)('add %s: sum = a + b', async (datatype, elemType, a, b, expected) => {
    const sum = await runOne(addModel(elemType), { a: { datatype, shape: [2, 3], data: a }, b: { datatype, shape: [2, 3], data: b } }, 'sum');
    expect(sum.datatype).toBe(datatype);
    expect(sum.shape).toEqual([2, 3]);
    expect(Array.from(sum.data as unknown as ArrayLike<number | bigint>)).toEqual(expected);
  });

  const identityCases: Array<[DataType, ElemType, RefTensor['data']]> = [
    ['BOOL', ElemType.BOOL, Uint8Array.from([1, 0, 0, 1, 1, 0])],
    ['UINT8', ElemType.UINT8, Uint8Array.from([0, 1, 127, 128, 254, 255])],
    ['UINT16', ElemType.UINT16, Uint16Array.from([0, 1, 2, 3, 65534, 65535])],
    ['UINT32', ElemType.UINT32, Uint32Array.from([0, 1, 2, 3, 2 ** 31, 2 ** 32 - 1])],
    ['UINT64', ElemType.UINT64, BigUint64Array.from([0n, 1n, 2n, 3n, 1n << 63n, (1n << 64n) - 1n])],
    ['INT8', ElemType.INT8, Int8Array.from([-128, -1, 0, 1, 2, 127])],
    ['INT16', ElemType.INT16, Int16Array.from([-32768, -1, 0, 1, 2, 32767])],
    ['INT32', ElemType.INT32, Int32Array.from([-(2 ** 31), -1, 0, 1, 2, 2 ** 31 - 1])],
    ['INT64', ElemType.INT64, BigInt64Array.from([-(1n << 63n), -1n, 0n, 1n, 2n, (1n << 63n) - 1n])],
    // Half bits: 1, -2, +inf, smallest subnormal, 65504, -0.
    ['FP16', ElemType.FLOAT16, Uint16Array.from([0x3c00, 0xc000, 0x7c00, 0x0001, 0x7bff, 0x8000])],
    ['FP32', ElemType.FLOAT, Float32Array.from([1.5, -0, Infinity, -Infinity, 1e-40, 3.4e38])],
    ['FP64', ElemType.DOUBLE, Float64Array.from([1.5, -0, Infinity, 5e-324, 1e308, Math.PI])],
    ['BYTES', ElemType.STRING, ['', 'a', 'héllo', '日本語', 'with\nnewline', Uint8Array.from([0x62, 0x79, 0x74, 0x65, 0x73])]],
  ];

  it.each(identityCases)('identity %s round-trips', async (datatype, elemType, data) => {
    const model = identityModel(elemType, ['batch', null]);
    const y = await runOne(model, { x: { datatype, shape: [2, 3], data } });
    expect(y.datatype).toBe(datatype);
    expect(y.shape).toEqual([2, 3]);
    if (datatype === 'BYTES') {
      const expected = (data as Array<string | Uint8Array>).map((v) => Buffer.from(v));
      expect((y.data as Buffer[]).map((b) => Buffer.from(b).toString('hex'))).toEqual(expected.map((b) => b.toString('hex')));
    } else {
      const view = data as ArrayBufferView;
      const bytes = (v: ArrayBufferView): string => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
      expect(y.data.constructor).toBe(view.constructor);
      expect(bytes(y.data as ArrayBufferView)).toBe(bytes(view));
    }
  });

  it('identity BFLOAT16 declares element type 16', () => {
    const { graph } = decodeGraph(identityModel(ElemType.BFLOAT16, [2]));
    expect(graph.input[0]?.type?.tensorType?.elemType).toBe(16);
    expect(graph.output[0]?.type?.tensorType?.elemType).toBe(16);
  });

  it('mlp 256-1024-1024-16 matches a JS forward pass', async () => {
    const layers = mlpLayers();
    expect(layers.map((l) => [l.fanIn, l.fanOut])).toEqual([
      [256, 1024],
      [1024, 1024],
      [1024, 16],
    ]);
    const rows = 4;
    const x = uniform(mulberry32(99), rows * 256);
    const y = await runOne(mlpModel(), { x: fp32([rows, 256], x) });
    const expected = layers.reduce<Float64Array>((h, layer) => dense(h, rows, layer), Float64Array.from(x));
    expect(y.shape).toEqual([rows, 16]);
    // Activations stay O(1), so a relative+absolute tolerance is meaningful.
    expect(Math.max(...Array.from(expected, Math.abs))).toBeGreaterThan(0.1);
    expect(Math.max(...Array.from(expected, Math.abs))).toBeLessThan(100);
    expectClose(y.data as Float32Array, expected, 1e-4);
  });

  it('tree ensemble matches the JS evaluator', async () => {
    const ensemble = treeEnsembleParams();
    const rows = 64;
    const x = uniform(mulberry32(5), rows * ensemble.features, 1.2);
    const y = await runOne(treeEnsembleModel(), { x: fp32([rows, ensemble.features], x) });
    expect(y.shape).toEqual([rows, 1]);
    const expected = treeEnsembleReference(ensemble, x);
    expect(new Set(expected).size).toBeGreaterThan(10);
    expectClose(y.data as Float32Array, expected, 1e-5);
  });

  it('encoder runs for two sequence lengths and ends in a unit LayerNorm', async () => {
    const model = transformerEncoderModel();
    const inputSets = [5, 11].map((seq) => ({ x: fp32([2, seq, 64], uniform(mulberry32(seq), 2 * seq * 64, 2)) }));
    const results = await runReference(model, inputSets);
    [5, 11].forEach((seq, i) => {
      const y = results[i]?.['y'];
      expect(y?.shape).toEqual([2, seq, 64]);
      const data = y?.data as Float32Array;
      expect(data.every(Number.isFinite)).toBe(true);
      for (let row = 0; row < 2 * seq; row++) {
        const v = data.subarray(row * 64, (row + 1) * 64);
        const mean = v.reduce((s, a) => s + a, 0) / 64;
        const variance = v.reduce((s, a) => s + (a - mean) ** 2, 0) / 64;
        expect(Math.abs(mean)).toBeLessThan(1e-4);
        expect(Math.abs(variance - 1)).toBeLessThan(1e-3);
      }
    });
  });

  it('encoder attention mixes positions', async () => {
    const x = uniform(mulberry32(1), 4 * 64);
    const changed = Float32Array.from(x);
    changed[3 * 64] = changed[3 * 64]! + 1; // perturb the last token only
    const [a, b] = await runReference(transformerEncoderModel({ seqLen: 4 }), [
      { x: fp32([1, 4, 64], x) },
      { x: fp32([1, 4, 64], changed) },
    ]);
    const first = (r: typeof a): Float32Array => (r?.['y']?.data as Float32Array).subarray(0, 64);
    expect(Buffer.from(first(a).buffer).equals(Buffer.from(first(b).buffer))).toBe(false);
  });

  it('slow model: layer count follows ms, values stay exact', async () => {
    const matmuls = (bytes: Uint8Array): number =>
      decodeGraph(bytes).graph.node.filter((n) => n.opType === 'MatMul').length;
    expect(matmuls(slowModel({ ms: 50 }))).toBe(35);
    expect(matmuls(slowModel({ ms: 5 }))).toBe(4);
    // Thousands of layers: the signed-permutation weight keeps y a signed permutation of x.
    const x = uniform(mulberry32(6), 64);
    const y = await runOne(slowModel({ ms: 5, size: 64 }), { x: fp32([1, 64], x) });
    expect(y.shape).toEqual([1, 64]);
    const sortedAbs = (v: Float32Array): number[] => Array.from(v, Math.abs).sort((p, q) => p - q);
    // Only ReduceMean's float sum of equal rows rounds.
    expectClose(sortedAbs(y.data as Float32Array), sortedAbs(x), 1e-5);
  });

  it('reference runner rejects with the child error', async () => {
    await expect(runReference(tinyModel(), [{ nope: fp32([1, 16], new Float32Array(16)) }])).rejects.toThrow(
      /^onnxruntime-node reference: .*'x'/,
    );
  });
});

describe('makeExampleModels', () => {
  it('writes the four models once, then rewrites nothing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tensorgate-models-'));
    try {
      const names = ['tiny', 'mlp', 'encoder', 'trees'];
      const files = names.map((n) => path.join(dir, n, '1', 'model.onnx'));
      expect(await makeExampleModels(dir)).toEqual(files);
      for (const [i, name] of names.entries()) {
        const bytes = await readFile(files[i]!);
        expect(bytes.equals(Buffer.from(EXAMPLE_MODELS[name]!()))).toBe(true);
      }
      const before = await Promise.all(files.map((f) => stat(f)));
      expect(await makeExampleModels(dir)).toEqual([]);
      const after = await Promise.all(files.map((f) => stat(f)));
      expect(after.map((s) => [s.ino, s.mtimeMs])).toEqual(before.map((s) => [s.ino, s.mtimeMs]));

      // A model given by path runs too.
      const y = await runOne(files[0]!, { x: fp32([1, 16], new Float32Array(16)) });
      expect(Array.from(y.data as Float32Array)).toEqual(new Array(16).fill(1));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
