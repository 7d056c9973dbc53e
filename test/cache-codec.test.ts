// The cached value's binary format: every datatype, BYTES, scalars, zero-size tensors; views in place.
import { describe, expect, it } from 'vitest';
import { CodecError, decodeValue, encodeValue } from '../src/cache/codec.js';
import type { InferOutputs } from '../src/engine/index.js';

const META = { check0: 0xdeadbeef, check1: 0x01020304, length: 4096, expiresAt: 1_900_000_000_123 };

function allTypes(): InferOutputs {
  return {
    bool: { datatype: 'BOOL', shape: [4], data: Uint8Array.of(1, 0, 1, 1) },
    u8: { datatype: 'UINT8', shape: [3], data: Uint8Array.of(0, 127, 255) },
    u16: { datatype: 'UINT16', shape: [2], data: Uint16Array.of(0, 65535) },
    u32: { datatype: 'UINT32', shape: [2], data: Uint32Array.of(1, 0xffffffff) },
    u64: { datatype: 'UINT64', shape: [2], data: BigUint64Array.of(0n, 0xffffffffffffffffn) },
    i8: { datatype: 'INT8', shape: [3], data: Int8Array.of(-128, 0, 127) },
    i16: { datatype: 'INT16', shape: [1, 3], data: Int16Array.of(-32768, 1, 32767) },
    i32: { datatype: 'INT32', shape: [2, 2], data: Int32Array.of(-1, 2, -3, 4) },
    i64: { datatype: 'INT64', shape: [2], data: BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n) },
    f16: { datatype: 'FP16', shape: [2], data: Uint16Array.of(0x3c00, 0xc000) },
    f32: { datatype: 'FP32', shape: [2, 3], data: Float32Array.of(0.5, -1.25, Infinity, -0, 3.4e38, 1e-45) },
    f64: { datatype: 'FP64', shape: [3], data: Float64Array.of(Math.PI, NaN, -Number.MAX_VALUE) },
    bytes: { datatype: 'BYTES', shape: [4], data: [Buffer.from('héllo'), Buffer.alloc(0), Buffer.from([0, 255, 10]), Buffer.from('x'.repeat(300))] },
    scalar: { datatype: 'FP32', shape: [], data: Float32Array.of(42) },
    scalarBytes: { datatype: 'BYTES', shape: [], data: [Buffer.from('one')] },
    empty: { datatype: 'FP64', shape: [0, 5], data: new Float64Array(0) },
    emptyBytes: { datatype: 'BYTES', shape: [2, 0], data: [] },
    'naïve name ✓': { datatype: 'INT8', shape: [1], data: Int8Array.of(7) },
  };
}

function expectSame(actual: InferOutputs, expected: InferOutputs): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [name, want] of Object.entries(expected)) {
    const got = actual[name]!;
    expect(got.datatype, name).toBe(want.datatype);
    expect(got.shape, name).toEqual(want.shape);
    if (want.datatype === 'BYTES') {
      expect((got.data as Buffer[]).map((b) => Buffer.from(b).toString('hex')), name).toEqual((want.data as Buffer[]).map((b) => Buffer.from(b).toString('hex')));
    } else {
      expect(got.data.constructor, name).toBe(want.data.constructor);
      const a = got.data as ArrayBufferView;
      const b = want.data as ArrayBufferView;
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), name).toBe(true);
    }
  }
}

describe('cache value codec', () => {
  it('round-trips every datatype, BYTES, scalars and zero-size tensors, with the header fields', () => {
    const outputs = allTypes();
    const value = encodeValue(outputs, META);
    expect(value.readUInt32LE(0)).toBe(0x31434754);
    const decoded = decodeValue(value);
    expect(decoded.check0).toBe(META.check0);
    expect(decoded.check1).toBe(META.check1);
    expect(decoded.length).toBe(META.length);
    expect(decoded.expiresAt).toBe(META.expiresAt);
    expectSame(decoded.outputs, outputs);
  });

  it('is binary and compact: raw tensor bytes, no JSON or base64', () => {
    const data = new Float32Array(1024).map((_, i) => i * 0.25);
    const value = encodeValue({ y: { datatype: 'FP32', shape: [1, 1024], data } }, META);
    // 36 fixed + name/type/dims/size ~ 20, padded to 8, + 4096 data bytes
    expect(value.length).toBeLessThan(4096 + 80);
    expect(value.includes(Buffer.from(data.buffer))).toBe(true);
    expect(value.includes(Buffer.from('"datatype"'))).toBe(false);
  });

  it('decodes numeric tensors as views on the value buffer when aligned, copies otherwise', () => {
    const outputs = allTypes();
    const value = encodeValue(outputs, META);
    const inPlace = decodeValue(value).outputs;
    for (const name of ['u64', 'i32', 'f32', 'f64', 'i64', 'f16']) {
      expect((inPlace[name]!.data as ArrayBufferView).buffer, name).toBe(value.buffer);
    }
    expect((inPlace.bytes!.data as Buffer[])[0]!.buffer).toBe(value.buffer);

    // The same bytes at an odd offset (as a socket read can deliver them): still correct, via copies.
    const shifted = Buffer.alloc(value.length + 3);
    value.copy(shifted, 3);
    const odd = decodeValue(shifted.subarray(3));
    expectSame(odd.outputs, outputs);
    expect((odd.outputs.f64!.data as Float64Array).buffer).not.toBe(shifted.buffer);
  });

  it('accepts BYTES given as strings and encodes them as UTF-8', () => {
    const value = encodeValue({ s: { datatype: 'BYTES', shape: [2], data: ['ab', 'ç'] as unknown as Buffer[] } }, META);
    const out = decodeValue(value).outputs.s!.data as Buffer[];
    expect(out.map((b) => b.toString('utf8'))).toEqual(['ab', 'ç']);
  });

  it('refuses inconsistent outputs and malformed values with CodecError', () => {
    expect(() => encodeValue({ y: { datatype: 'FP32', shape: [3], data: new Float32Array(2) } }, META)).toThrow(CodecError);
    expect(() => encodeValue({ y: { datatype: 'BYTES', shape: [3], data: [Buffer.from('a')] } }, META)).toThrow(CodecError);
    expect(() => encodeValue({ y: { datatype: 'FP32', shape: [-1], data: new Float32Array(0) } }, META)).toThrow(CodecError);
    const value = encodeValue(allTypes(), META);
    expect(() => decodeValue(value.subarray(0, 20))).toThrow(CodecError);
    expect(() => decodeValue(value.subarray(0, value.length - 9))).toThrow(CodecError);
    const bad = Buffer.from(value);
    bad.writeUInt32LE(0x12345678, 0);
    expect(() => decodeValue(bad)).toThrow(CodecError);
    expect(() => decodeValue(Buffer.from('{"outputs":[]}'))).toThrow(CodecError);
  });
});
