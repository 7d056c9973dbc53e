// Every v2 datatype round-trips through an Identity model bit for bit: extreme values, scalars,
// zero-size tensors and symbolic dimensions, with the metadata each model reports. Also BF16's
// refusal at load, and that dynamically batched concurrent requests each get their own data back.
import { describe, expect, it } from 'vitest';
import { TensorgateError, type DataType, type InputTensor, type OutputTensor } from '../src/engine/index.js';
import { CARRIER, type AnyTypedArray, type NumericDataType } from '../src/engine/datatype.js';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel } from '../src/onnx/models.js';
import { testEngine } from './helpers/engine.js';

// ---------------------------------------------------------------------------------------------
// Values per datatype: the edges of each type's range, in its carrier.

const fromBits32 = (...bits: number[]): Float32Array => new Float32Array(Uint32Array.from(bits).buffer);
const fromBits64 = (...bits: bigint[]): Float64Array => new Float64Array(BigUint64Array.from(bits).buffer);

const NUMERIC: Record<NumericDataType, { elem: ElemType; values: AnyTypedArray }> = {
  BOOL: { elem: ElemType.BOOL, values: Uint8Array.of(0, 1, 1, 0, 1) },
  UINT8: { elem: ElemType.UINT8, values: Uint8Array.of(0, 1, 127, 128, 254, 255) },
  UINT16: { elem: ElemType.UINT16, values: Uint16Array.of(0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff) },
  UINT32: { elem: ElemType.UINT32, values: Uint32Array.of(0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff) },
  UINT64: {
    elem: ElemType.UINT64,
    values: BigUint64Array.of(0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n),
  },
  INT8: { elem: ElemType.INT8, values: Int8Array.of(-128, -127, -1, 0, 1, 127) },
  INT16: { elem: ElemType.INT16, values: Int16Array.of(-32768, -32767, -1, 0, 1, 32767) },
  INT32: { elem: ElemType.INT32, values: Int32Array.of(-(2 ** 31), -(2 ** 31) + 1, -1, 0, 1, 2 ** 31 - 1) },
  INT64: {
    elem: ElemType.INT64,
    values: BigInt64Array.of(-(2n ** 63n), -(2n ** 63n) + 1n, -(2n ** 53n) - 1n, -1n, 0n, 1n, 2n ** 53n + 1n, 2n ** 63n - 1n),
  },
  // Raw IEEE half bits: ±0, smallest and largest subnormal, smallest normal, 1, largest finite,
  // ±Inf, a quiet NaN, a NaN with a payload, a negative signalling-pattern NaN.
  FP16: {
    elem: ElemType.FLOAT16,
    values: Uint16Array.of(0x0000, 0x8000, 0x0001, 0x03ff, 0x8001, 0x0400, 0x3c00, 0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0x7d5a, 0xfc01),
  },
  // Built from bits: a NaN read into a JS number may lose its payload, so no number round trip.
  FP32: {
    elem: ElemType.FLOAT,
    values: fromBits32(
      0x00000000, // +0
      0x80000000, // -0
      0x3f800000, // 1
      0xbfc00000, // -1.5
      0x00000001, // smallest subnormal
      0x007fffff, // largest subnormal
      0x80000001, // -smallest subnormal
      0x00800000, // smallest normal
      0x7f7fffff, // largest finite
      0xff7fffff, // -largest finite
      0x7f800000, // +Inf
      0xff800000, // -Inf
      0x7fc00000, // quiet NaN
      0x7fa00001, // signalling-pattern NaN with a payload
      0xffc12345, // negative NaN with a payload
    ),
  },
  FP64: {
    elem: ElemType.DOUBLE,
    values: fromBits64(
      0x0000000000000000n, // +0
      0x8000000000000000n, // -0
      0x3ff0000000000000n, // 1
      0x0000000000000001n, // smallest subnormal
      0x000fffffffffffffn, // largest subnormal
      0x0010000000000000n, // smallest normal
      0x7fefffffffffffffn, // largest finite
      0xffefffffffffffffn, // -largest finite
      0x3cb0000000000000n, // epsilon
      0x7ff0000000000000n, // +Inf
      0xfff0000000000000n, // -Inf
      0x7ff8000000000000n, // quiet NaN
      0x7ff4000000000001n, // signalling-pattern NaN with a payload
      0xfff8deadbeef0001n, // negative NaN with a payload
    ),
  },
};

/** Strings (ASCII, accents, CJK, astral emoji, empty) and raw byte elements, even invalid UTF-8. */
const BYTES_VALUES: Array<string | Uint8Array> = [
  'hello',
  '',
  'héllo wörld',
  '日本語のテキスト',
  'emoji 🎉🚀 astral',
  Uint8Array.of(0xff, 0xfe, 0x80, 0xc3), // not UTF-8
  new Uint8Array(0),
  new TextEncoder().encode('bytes as a Uint8Array'),
];

const ELEM: Record<DataType, ElemType> = {
  ...(Object.fromEntries(Object.entries(NUMERIC).map(([dt, { elem }]) => [dt, elem])) as Record<NumericDataType, ElemType>),
  BYTES: ElemType.STRING,
};
const ALL = Object.keys(ELEM) as DataType[];

/** `n` elements of `datatype`, cycling through its edge values from `offset`. */
function sample(datatype: DataType, n: number, offset = 0): AnyTypedArray | Array<string | Uint8Array> {
  if (datatype === 'BYTES') return Array.from({ length: n }, (_, i) => BYTES_VALUES[(i + offset) % BYTES_VALUES.length]!);
  const { values } = NUMERIC[datatype];
  const out = new CARRIER[datatype](n) as unknown as Array<number | bigint>;
  const from = values as unknown as ArrayLike<number | bigint>;
  for (let i = 0; i < n; i++) out[i] = from[(i + offset) % from.length]!;
  return out as unknown as AnyTypedArray;
}

function input(datatype: DataType, shape: number[], data: ReturnType<typeof sample>): InputTensor {
  return { datatype, shape, data } as InputTensor;
}

function bytesOf(v: ArrayBufferView): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** The output is `sent`, bit for bit, with the datatype's carrier (Buffer[] for BYTES). */
function expectRoundTrip(out: OutputTensor | undefined, datatype: DataType, shape: number[], sent: ReturnType<typeof sample>): void {
  expect(out).toBeDefined();
  expect(out!.datatype).toBe(datatype);
  expect(out!.shape).toEqual(shape);
  if (datatype === 'BYTES') {
    const got = out!.data as Buffer[];
    expect(Array.isArray(got)).toBe(true);
    for (const b of got) expect(Buffer.isBuffer(b)).toBe(true);
    const want = (sent as Array<string | Uint8Array>).map((v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v)));
    // Compare as hex: readable, and exact for empty elements.
    expect(got.map((b) => b.toString('hex'))).toEqual(want.map((b) => b.toString('hex')));
    return;
  }
  const got = out!.data as AnyTypedArray;
  expect(got).toBeInstanceOf(CARRIER[datatype]);
  expect(got.buffer).not.toBe((sent as AnyTypedArray).buffer); // a real result, not the input handed back
  expect(got.length).toBe((sent as AnyTypedArray).length);
  // Bitwise: distinguishes -0 from 0 and keeps NaN payloads.
  expect(bytesOf(got).toString('hex')).toBe(bytesOf(sent as AnyTypedArray).toString('hex'));
}

// ---------------------------------------------------------------------------------------------

describe('every datatype round-trips', () => {
  describe.each(ALL)('%s', (datatype) => {
    const elem = ELEM[datatype];

    it('round-trips its extreme values bit for bit', async () => {
      const n = datatype === 'BYTES' ? BYTES_VALUES.length : NUMERIC[datatype].values.length;
      const model = await testEngine().load(identityModel(elem, [n]));
      const data = sample(datatype, n);
      const out = await model.infer({ x: input(datatype, [n], data) });
      expectRoundTrip(out.y, datatype, [n], data);
      await model.unload();
    });

    it('round-trips a scalar (shape [])', async () => {
      const model = await testEngine().load(identityModel(elem, []));
      expect(model.metadata.inputs).toEqual([{ name: 'x', datatype, shape: [], dimNames: [] }]);
      for (const offset of [0, 1, 2]) {
        const data = sample(datatype, 1, offset);
        const out = await model.infer({ x: input(datatype, [], data) });
        expectRoundTrip(out.y, datatype, [], data);
      }
      await model.unload();
    });

    it('round-trips zero-size tensors ([0, 4] and [3, 0])', async () => {
      const model = await testEngine().load(identityModel(elem, ['rows', 'cols']));
      for (const shape of [
        [0, 4],
        [3, 0],
      ]) {
        const data = sample(datatype, 0);
        const out = await model.infer({ x: input(datatype, shape, data) });
        expectRoundTrip(out.y, datatype, shape, data);
      }
      await model.unload();
    });

    it('runs two different sizes of its symbolic dims on one loaded model', async () => {
      const model = await testEngine().load(identityModel(elem, ['rows', 'cols']));
      for (const [shape, offset] of [
        [[2, 3], 0],
        [[5, 1], 3],
      ] as const) {
        const data = sample(datatype, shape[0] * shape[1], offset);
        const out = await model.infer({ x: input(datatype, [...shape], data) });
        expectRoundTrip(out.y, datatype, [...shape], data);
      }
      await model.unload();
    });

    it('reports its v2 datatype, -1 for dynamic dims and the symbolic names', async () => {
      const model = await testEngine().load(identityModel(elem, ['batch', 4, null]));
      const expected = { datatype, shape: [-1, 4, -1], dimNames: ['batch', null, null] };
      expect(model.metadata.inputs).toEqual([{ name: 'x', ...expected }]);
      expect(model.metadata.outputs).toEqual([{ name: 'y', ...expected }]);
      await model.unload();
    });
  });

  describe('large tensors', () => {
    it('returns a result that does not share memory with the caller\'s input (FP32, 256 KiB)', async () => {
      const model = await testEngine().load(identityModel(ElemType.FLOAT, ['n']));
      const data = Float32Array.from({ length: 65536 }, (_, k) => k + 0.5);
      const expected = Float32Array.from(data);
      const out = await model.infer({ x: { datatype: 'FP32', shape: [data.length], data } });
      data.fill(0);
      expect(bytesOf(out.y!.data as Float32Array).equals(bytesOf(expected))).toBe(true);
      await model.unload();
    });
  });

  describe('BYTES specifics', () => {
    it('returns each BYTES element as its own Buffer, not views of one shared buffer that alias', async () => {
      const model = await testEngine().load(identityModel(ElemType.STRING, ['n']));
      const out = await model.infer({ x: { datatype: 'BYTES', shape: [2], data: ['first', 'second'] } });
      const [a, b] = out.y!.data as Buffer[];
      a!.fill(0x78);
      expect(b!.toString()).toBe('second');
      await model.unload();
    });

    // ORT strings can hold NULs; the engine passes every element with its length.
    it('keeps BYTES elements with embedded NUL bytes intact', async () => {
      const model = await testEngine().load(identityModel(ElemType.STRING, ['n']));
      const data = [Uint8Array.of(0x61, 0x00, 0x62), 'a\u0000b', Uint8Array.of(0x00), '\u0000\u0000'];
      const out = await model.infer({ x: { datatype: 'BYTES', shape: [4], data } });
      await model.unload();
      expectRoundTrip(out.y, 'BYTES', [4], data);
    });
  });

  describe('BF16', () => {
    it('refuses to load a BF16 model with MODEL_LOAD_FAILED and a message naming BF16', async () => {
      const err = await testEngine()
        .load(identityModel(ElemType.BFLOAT16, ['n']))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(TensorgateError);
      expect((err as TensorgateError).code).toBe('MODEL_LOAD_FAILED');
      expect((err as TensorgateError).message).toMatch(/BF16/);
    });
  });
});

describe('dynamic batching keeps requests apart', () => {
  const batchedLoad = { maxBatchSize: 8, dynamicBatching: true } as const;

  /** Request i's rows: 1 to 3 rows of 4 floats, every value unique to (i, row, column). */
  function rowsFor(i: number): Float32Array {
    const rows = 1 + (i % 3);
    return Float32Array.from({ length: rows * 4 }, (_, k) => i * 1000 + k + 0.25);
  }

  it('gives each of 50 concurrent FP32 requests exactly its own data', async () => {
    const model = await testEngine().load(identityModel(ElemType.FLOAT, ['batch', 4]), batchedLoad);
    const sent = Array.from({ length: 50 }, (_, i) => rowsFor(i));
    const outs = await Promise.all(sent.map((data) => model.infer({ x: { datatype: 'FP32', shape: [data.length / 4, 4], data } })));
    outs.forEach((out, i) => {
      expect(out.y!.shape, `request ${i}`).toEqual([sent[i]!.length / 4, 4]);
      expect(Array.from(out.y!.data as Float32Array), `request ${i}`).toEqual(Array.from(sent[i]!));
    });
    await model.unload();
  });

  it('gives each of 50 concurrent BYTES requests exactly its own strings', async () => {
    const model = await testEngine().load(identityModel(ElemType.STRING, ['batch', 2]), batchedLoad);
    const sent = Array.from({ length: 50 }, (_, i) =>
      Array.from({ length: 2 * (1 + (i % 3)) }, (_, k) => (k % 3 === 2 ? '' : `req ${i} elem ${k} ✓`)),
    );
    const outs = await Promise.all(sent.map((data) => model.infer({ x: { datatype: 'BYTES', shape: [data.length / 2, 2], data } })));
    outs.forEach((out, i) => {
      expect(out.y!.shape, `request ${i}`).toEqual([sent[i]!.length / 2, 2]);
      expect((out.y!.data as Buffer[]).map((b) => b.toString('utf8')), `request ${i}`).toEqual(sent[i]);
    });
    await model.unload();
  });

  it('gives each of 50 concurrent requests its own rows when outputs exceed the 4 KiB copy threshold (views of one batch tensor)', async () => {
    const width = 2048; // 8 KiB per row: results are views into ORT's batch output, not copies
    const model = await testEngine().load(identityModel(ElemType.FLOAT, ['batch', width]), batchedLoad);
    const sent = Array.from({ length: 50 }, (_, i) =>
      Float32Array.from({ length: (1 + (i % 3)) * width }, (_, k) => i * 1e6 + k),
    );
    const outs = await Promise.all(sent.map((data) => model.infer({ x: { shape: [data.length / width, width], data } })));
    // Scribble over every result: no write may show through in another request's result.
    const copies = outs.map((out) => Float32Array.from(out.y!.data as Float32Array));
    for (const out of outs) (out.y!.data as Float32Array).fill(-1);
    copies.forEach((copy, i) => {
      expect(outs[i]!.y!.shape, `request ${i}`).toEqual([sent[i]!.length / width, width]);
      expect(bytesOf(copy).equals(bytesOf(sent[i]!)), `request ${i} data`).toBe(true);
      expect((outs[i]!.y!.data as Float32Array).every((v) => v === -1), `request ${i} view`).toBe(true);
    });
    await model.unload();
  });

  it('really batches such a burst (fewer executions than requests), so the tests above are not vacuous', async () => {
    const model = await testEngine().load(identityModel(ElemType.FLOAT, ['batch', 4]), batchedLoad);
    expect(model.metadata.maxBatchSize).toBe(8);
    const sent = Array.from({ length: 50 }, (_, i) => rowsFor(i));
    await Promise.all(sent.map((data) => model.infer({ x: { shape: [data.length / 4, 4], data } })));
    const stats = model.stats();
    // Triton's counters: inferences count rows, executions count ORT runs.
    expect(stats.inferenceCount).toBe(sent.reduce((rows, data) => rows + data.length / 4, 0));
    expect(stats.executionCount).toBeLessThan(50);
    expect(stats.batches.some((b) => b.batchSize > 3)).toBe(true);
    await model.unload();
  });
});
