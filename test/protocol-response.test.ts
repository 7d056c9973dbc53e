// encodeInferResponse: JSON and binary bodies, parsed back byte for byte; output order; the JSON
// conventions for NaN, FP16, INT64 and BYTES. Pure functions: no engine, no server.
import { describe, expect, it } from 'vitest';
import type { InferOutputs, OutputTensor } from '../src/engine/tensor.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { decodeInferRequest } from '../src/protocol/infer-request.js';
import { encodeInferResponse, type EncodedResponse } from '../src/protocol/infer-response.js';

/** The response's JSON header and the bytes after it, as a client reads them. */
function parse(res: EncodedResponse): { json: any; binary: Buffer; whole: Buffer } {
  const whole = Buffer.concat(res.body);
  expect(whole.length).toBe(res.byteLength);
  const headerValue = res.headers['Inference-Header-Content-Length'];
  const end = headerValue === undefined ? whole.length : Number(headerValue);
  return { json: JSON.parse(whole.toString('utf8', 0, end)), binary: whole.subarray(end), whole };
}

/** Walks the binary outputs in order, as tritonclient does, returning each one's bytes. */
function binaryParts(json: any, binary: Buffer): Record<string, Buffer> {
  const parts: Record<string, Buffer> = {};
  let at = 0;
  for (const o of json.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    parts[o.name] = binary.subarray(at, at + size);
    at += size;
  }
  expect(at).toBe(binary.length);
  return parts;
}

const base = { modelName: 'm', modelVersion: '1', binaryDataOutput: false };

const t = (tensor: OutputTensor): OutputTensor => tensor;

const everyType: InferOutputs = {
  bool: t({ datatype: 'BOOL', shape: [3], data: Uint8Array.of(1, 0, 1) }),
  u8: t({ datatype: 'UINT8', shape: [2], data: Uint8Array.of(0, 255) }),
  u16: t({ datatype: 'UINT16', shape: [2], data: Uint16Array.of(0, 65535) }),
  u32: t({ datatype: 'UINT32', shape: [2], data: Uint32Array.of(0, 4294967295) }),
  u64: t({ datatype: 'UINT64', shape: [2], data: BigUint64Array.of(0n, 2n ** 64n - 1n) }),
  i8: t({ datatype: 'INT8', shape: [2], data: Int8Array.of(-128, 127) }),
  i16: t({ datatype: 'INT16', shape: [2], data: Int16Array.of(-32768, 32767) }),
  i32: t({ datatype: 'INT32', shape: [2], data: Int32Array.of(-(2 ** 31), 2 ** 31 - 1) }),
  i64: t({ datatype: 'INT64', shape: [3], data: BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n) }),
  f16: t({ datatype: 'FP16', shape: [3], data: Uint16Array.of(0x3c00, 0x2e66, 0x0001) }),
  f32: t({ datatype: 'FP32', shape: [2, 2], data: Float32Array.of(1.5, -0.25, 0.1, 3.4e38) }),
  f64: t({ datatype: 'FP64', shape: [2], data: Float64Array.of(Math.PI, 5e-324) }),
  bytes: t({ datatype: 'BYTES', shape: [3], data: [Buffer.from('hello'), Buffer.alloc(0), Buffer.from('wörld ✓')] }),
};
const everyOrder = Object.keys(everyType);

describe('JSON responses', () => {
  it('every datatype: flat data, model order, application/json, no binary header', () => {
    const res = encodeInferResponse({ ...base, id: 'r1', outputs: everyType, order: everyOrder });
    expect(res.headers).toEqual({ 'Content-Type': 'application/json' });
    expect(res.body).toHaveLength(1);
    const { json } = parse(res);
    expect(Object.keys(json)).toEqual(['id', 'model_name', 'model_version', 'outputs']);
    expect(json.id).toBe('r1');
    expect(json.model_name).toBe('m');
    expect(json.model_version).toBe('1');
    expect(json.outputs.map((o: any) => o.name)).toEqual(everyOrder);
    const byName = Object.fromEntries(json.outputs.map((o: any) => [o.name, o]));
    expect(byName.f32).toEqual({ name: 'f32', datatype: 'FP32', shape: [2, 2], data: Array.from(everyType.f32!.data as Float32Array) });
    expect(Object.keys(byName.f32)).toEqual(['name', 'datatype', 'shape', 'data']);
    expect(byName.bool.data).toEqual([true, false, true]);
    expect(byName.u8.data).toEqual([0, 255]);
    expect(byName.u16.data).toEqual([0, 65535]);
    expect(byName.u32.data).toEqual([0, 4294967295]);
    expect(byName.i8.data).toEqual([-128, 127]);
    expect(byName.i16.data).toEqual([-32768, 32767]);
    expect(byName.i32.data).toEqual([-(2 ** 31), 2 ** 31 - 1]);
    expect(byName.f16.data).toEqual([1, 0.0999755859375, 2 ** -24]);
    expect(byName.f64.data).toEqual([Math.PI, 5e-324]);
    expect(byName.bytes.data).toEqual(['hello', '', 'wörld ✓']);
    // 64-bit integers: JSON.parse rounds, but the text carries the exact digits.
    expect(byName.u64.data).toEqual([0, 2 ** 64]);
    expect(byName.i64.datatype).toBe('INT64');
  });

  it('INT64/UINT64 are written as exact decimal digits (bigints never throw)', () => {
    const res = encodeInferResponse({
      ...base,
      outputs: {
        i: { datatype: 'INT64', shape: [3], data: BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n) },
        u: { datatype: 'UINT64', shape: [1], data: BigUint64Array.of(2n ** 64n - 1n) },
      },
      order: ['i', 'u'],
    });
    const text = Buffer.concat(res.body).toString();
    expect(text).toContain('"data":[-9223372036854775808,9007199254740993,9223372036854775807]');
    expect(text).toContain('"data":[18446744073709551615]');
  });

  it('FP32 values are written so that they read back to the same float', () => {
    const values = Float32Array.of(0.1, 1 / 3, 16777217, -1e-40, 3.4028234663852886e38);
    const { json } = parse(encodeInferResponse({ ...base, outputs: { y: { datatype: 'FP32', shape: [5], data: values } }, order: ['y'] }));
    expect(Float32Array.from(json.outputs[0].data)).toEqual(values);
  });

  it('NaN and ±Infinity become null (FP16, FP32, FP64); finite neighbours are untouched', () => {
    const res = encodeInferResponse({
      ...base,
      outputs: {
        f: { datatype: 'FP32', shape: [4], data: Float32Array.of(1, NaN, Infinity, -Infinity) },
        d: { datatype: 'FP64', shape: [2], data: Float64Array.of(NaN, -2) },
        h: { datatype: 'FP16', shape: [3], data: Uint16Array.of(0x7e00, 0x7c00, 0xc000) },
      },
      order: ['f', 'd', 'h'],
    });
    const { json } = parse(res);
    expect(json.outputs[0].data).toEqual([1, null, null, null]);
    expect(json.outputs[1].data).toEqual([null, -2]);
    expect(json.outputs[2].data).toEqual([null, null, -2]);
  });

  it('the JSON a response carries decodes back through the request decoder (null → NaN)', () => {
    const res = encodeInferResponse({ ...base, outputs: { x: { datatype: 'FP32', shape: [1, 3], data: Float32Array.of(1, NaN, 2) } }, order: ['x'] });
    const { json } = parse(res);
    const out = json.outputs[0];
    const req = decodeInferRequest(
      Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: out.datatype, shape: out.shape, data: out.data }] })),
      undefined,
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }] },
    );
    const back = req.inputs.x!.data as Float32Array;
    expect(back[0]).toBe(1);
    expect(back[1]).toBeNaN();
    expect(back[2]).toBe(2);
  });

  it('invalid UTF-8 in BYTES outputs becomes U+FFFD in JSON', () => {
    const res = encodeInferResponse({ ...base, outputs: { s: { datatype: 'BYTES', shape: [1], data: [Buffer.from([0x61, 0xff, 0x62])] } }, order: ['s'] });
    expect(parse(res).json.outputs[0].data).toEqual(['a\ufffdb']);
  });

  it('scalars and zero-size outputs', () => {
    const res = encodeInferResponse({
      ...base,
      outputs: {
        s: { datatype: 'FP32', shape: [], data: Float32Array.of(7) },
        z: { datatype: 'INT32', shape: [0, 4], data: new Int32Array(0) },
        zb: { datatype: 'BYTES', shape: [0], data: [] },
      },
      order: ['s', 'z', 'zb'],
    });
    expect(parse(res).json.outputs).toEqual([
      { name: 's', datatype: 'FP32', shape: [], data: [7] },
      { name: 'z', datatype: 'INT32', shape: [0, 4], data: [] },
      { name: 'zb', datatype: 'BYTES', shape: [0], data: [] },
    ]);
  });

  it('id: echoed when given, left out when absent or empty; names are escaped', () => {
    const outputs: InferOutputs = { 'y"\\': { datatype: 'INT8', shape: [1], data: Int8Array.of(1) } };
    const withId = parse(encodeInferResponse({ ...base, modelName: 'mo"del', id: 'a"b\n', outputs, order: ['y"\\'] })).json;
    expect(withId.id).toBe('a"b\n');
    expect(withId.model_name).toBe('mo"del');
    expect(withId.outputs[0].name).toBe('y"\\');
    expect('id' in parse(encodeInferResponse({ ...base, outputs, order: [] })).json).toBe(false);
    expect('id' in parse(encodeInferResponse({ ...base, id: '', outputs, order: [] })).json).toBe(false);
  });
});

describe('output order and selection', () => {
  const outputs: InferOutputs = {
    c: { datatype: 'INT8', shape: [1], data: Int8Array.of(3) },
    a: { datatype: 'INT8', shape: [1], data: Int8Array.of(1) },
    b: { datatype: 'INT8', shape: [1], data: Int8Array.of(2) },
  };
  const names = (res: EncodedResponse) => parse(res).json.outputs.map((o: any) => o.name);

  it('model order by default; outputs it does not name come last', () => {
    expect(names(encodeInferResponse({ ...base, outputs, order: ['a', 'b', 'c'] }))).toEqual(['a', 'b', 'c']);
    expect(names(encodeInferResponse({ ...base, outputs, order: ['b', 'x'] }))).toEqual(['b', 'c', 'a']);
  });

  it('the requested order when the request lists outputs; only those', () => {
    const res = encodeInferResponse({
      ...base,
      outputs,
      requested: [
        { name: 'b', binary: false },
        { name: 'c', binary: false },
      ],
      order: ['a', 'b', 'c'],
    });
    expect(names(res)).toEqual(['b', 'c']);
  });

  it('a requested output missing from the result is a 500', () => {
    let err: unknown;
    try {
      encodeInferResponse({ ...base, outputs, requested: [{ name: 'zz', binary: false }], order: [] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).status).toBe(500);
  });
});

describe('binary responses', () => {
  it('every datatype as binary: header length, octet-stream, tensors appended in order', () => {
    const res = encodeInferResponse({ ...base, binaryDataOutput: true, outputs: everyType, order: everyOrder });
    expect(res.headers['Content-Type']).toBe('application/octet-stream');
    const { json, binary, whole } = parse(res);
    const headerLength = Number(res.headers['Inference-Header-Content-Length']);
    expect(headerLength).toBe(res.body[0]!.length);
    expect(whole.subarray(0, headerLength).toString()).toBe(JSON.stringify(json));
    for (const o of json.outputs) {
      expect(Object.keys(o)).toEqual(['name', 'datatype', 'shape', 'parameters']);
      expect(o.data).toBeUndefined();
    }
    const parts = binaryParts(json, binary);
    for (const name of everyOrder) {
      const tensor = everyType[name]!;
      if (tensor.datatype === 'BYTES') continue;
      const data = tensor.data as ArrayBufferView;
      expect(parts[name]).toEqual(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    }
    // BYTES: 4-byte little-endian length + bytes per element.
    const b = parts.bytes!;
    expect(b.readUInt32LE(0)).toBe(5);
    expect(b.subarray(4, 9).toString()).toBe('hello');
    expect(b.readUInt32LE(9)).toBe(0);
    expect(b.readUInt32LE(13)).toBe(Buffer.byteLength('wörld ✓'));
    expect(b.subarray(17).toString()).toBe('wörld ✓');
    expect(json.outputs.find((o: any) => o.name === 'bytes').parameters.binary_data_size).toBe(b.length);
  });

  it('numeric binary chunks are views on the output tensors (no copy)', () => {
    const data = Float32Array.of(1, 2, 3, 4);
    const res = encodeInferResponse({ ...base, binaryDataOutput: true, outputs: { y: { datatype: 'FP32', shape: [4], data } }, order: ['y'] });
    expect(res.body).toHaveLength(2);
    expect(res.body[1]!.buffer).toBe(data.buffer);
    expect(res.byteLength).toBe(res.body[0]!.length + 16);
  });

  it('mixed: per-output binary flags from the request; JSON outputs carry data, binary ones parameters', () => {
    const res = encodeInferResponse({
      ...base,
      outputs: {
        a: { datatype: 'INT32', shape: [2], data: Int32Array.of(1, 2) },
        b: { datatype: 'FP64', shape: [1], data: Float64Array.of(0.5) },
        c: { datatype: 'INT16', shape: [1], data: Int16Array.of(-3) },
      },
      requested: [
        { name: 'c', binary: true },
        { name: 'b', binary: false },
        { name: 'a', binary: true },
      ],
      order: ['a', 'b', 'c'],
    });
    const { json, binary } = parse(res);
    expect(json.outputs).toEqual([
      { name: 'c', datatype: 'INT16', shape: [1], parameters: { binary_data_size: 2 } },
      { name: 'b', datatype: 'FP64', shape: [1], data: [0.5] },
      { name: 'a', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } },
    ]);
    const parts = binaryParts(json, binary);
    expect(parts.c!.readInt16LE(0)).toBe(-3);
    expect([parts.a!.readInt32LE(0), parts.a!.readInt32LE(4)]).toEqual([1, 2]);
  });

  it('zero-size binary outputs: binary_data_size 0, no bytes, still the binary headers', () => {
    const res = encodeInferResponse({ ...base, binaryDataOutput: true, outputs: { z: { datatype: 'FP32', shape: [0], data: new Float32Array(0) } }, order: ['z'] });
    const { json, binary } = parse(res);
    expect(json.outputs[0].parameters).toEqual({ binary_data_size: 0 });
    expect(binary.length).toBe(0);
    expect(res.headers['Inference-Header-Content-Length']).toBe(String(res.byteLength));
    expect(res.body).toHaveLength(1);
  });

  it('a binary response reads back through the binary request decoder (same wire format)', () => {
    const outputs: InferOutputs = {
      x: { datatype: 'FP16', shape: [2], data: Uint16Array.of(0x3c00, 0x7e00) },
      s: { datatype: 'BYTES', shape: [2], data: [Buffer.from('a'), Buffer.from('bc')] },
    };
    const res = encodeInferResponse({ ...base, binaryDataOutput: true, outputs, order: ['x', 's'] });
    const { json, whole } = parse(res);
    const asRequest = {
      inputs: json.outputs.map((o: any) => ({ name: o.name, datatype: o.datatype, shape: o.shape, parameters: o.parameters })),
    };
    const header = Buffer.from(JSON.stringify(asRequest));
    const body = Buffer.concat([header, whole.subarray(Number(res.headers['Inference-Header-Content-Length']))]);
    const req = decodeInferRequest(body, header.length, {
      inputs: [
        { name: 'x', datatype: 'FP16', shape: [-1] },
        { name: 's', datatype: 'BYTES', shape: [-1] },
      ],
    });
    expect(Array.from(req.inputs.x!.data as Uint16Array)).toEqual([0x3c00, 0x7e00]);
    expect((req.inputs.s!.data as Buffer[]).map(String)).toEqual(['a', 'bc']);
  });
});
