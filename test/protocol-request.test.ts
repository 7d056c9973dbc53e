// decodeInferRequest: the JSON, binary and raw binary body forms, every datatype, every 400 case.
// Pure functions: no engine, no server.
//
// Perf notes (measured by hand with tsx on Node 20, not asserted): decoding a 64-element FP32 JSON
// request ≈ 6 µs, of which JSON.parse ≈ 5 µs (the typed-array fill is a tight flat loop); encoding
// the 64-element FP32 response ≈ 3 µs as JSON, ≈ 2 µs as binary. A 600 KB binary FP32 input decodes
// as a view in ~1 µs when aligned; misaligned (an unpadded header) it is copied, ≈ 60 µs.
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeBody } from '../src/server/compression.js';
import type { DataType, NumericDataType } from '../src/engine/datatype.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { InputSpec } from '../src/engine/input-check.js';
import { TensorgateError } from '../src/engine/errors.js';
import { fromHalfBits } from '../src/protocol/half.js';
import {
  alignmentPad,
  decodeInferRequest,
  parseInferenceHeaderLength,
  type DecodeModel,
  type DecodedInferRequest,
} from '../src/protocol/infer-request.js';

// ---------------------------------------------------------------------------------------------
// Helpers

function modelOf(...inputs: Array<[name: string, datatype: DataType, shape: number[]]>): DecodeModel {
  return { inputs: inputs.map(([name, datatype, shape]) => ({ name, datatype, shape })) };
}

function jsonBody(request: unknown): Buffer {
  return Buffer.from(JSON.stringify(request), 'utf8');
}

/**
 * A binary-form body on a fresh ArrayBuffer (byteOffset 0): the JSON header padded with spaces to a
 * multiple of `pad` bytes (JSON allows trailing whitespace), so tests control alignment, then the tensors.
 */
function binaryBody(request: unknown, tensors: ReadonlyArray<ArrayBufferView>, pad = 8): { body: Buffer; headerLength: number } {
  let header = JSON.stringify(request);
  while (Buffer.byteLength(header) % pad !== 0) header += ' ';
  const headerBytes = Buffer.from(header, 'utf8');
  const total = headerBytes.length + tensors.reduce((n, t) => n + t.byteLength, 0);
  const body = Buffer.from(new ArrayBuffer(total));
  headerBytes.copy(body, 0);
  let at = headerBytes.length;
  for (const t of tensors) {
    body.set(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), at);
    at += t.byteLength;
  }
  return { body, headerLength: headerBytes.length };
}

/** BYTES elements in the binary form: 4-byte little-endian length + bytes each. */
function bytesTensor(elements: ReadonlyArray<string | Uint8Array>): Buffer {
  const parts = elements.map((e) => (typeof e === 'string' ? Buffer.from(e, 'utf8') : Buffer.from(e)));
  const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.length, at);
    p.copy(out, at + 4);
    at += 4 + p.length;
  }
  return out;
}

function decodeJson(model: DecodeModel, request: unknown): DecodedInferRequest {
  return decodeInferRequest(jsonBody(request), undefined, model);
}

/**
 * Decoding does not check the request against the model: the engine does, once, with these messages
 * (src/engine/input-check.ts). Runs that check on a decoded request.
 */
function expectEngine(model: DecodeModel, decoded: DecodedInferRequest, message: string): void {
  const spec = new InputSpec(model.inputs.map((t) => ({ ...t, dimNames: t.shape.map(() => null) })));
  let thrown: unknown;
  try {
    for (const [name, tensor] of Object.entries(decoded.inputs)) spec.check(name, tensor);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(TensorgateError);
  expect((thrown as TensorgateError).message).toBe(message);
}

/** The ProtocolError a call throws (fails the test when it does not throw one). */
function rejection(fn: () => unknown): ProtocolError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a ProtocolError, nothing was thrown');
}

function expect400(fn: () => unknown, message: string | RegExp): void {
  const err = rejection(fn);
  expect(err.status).toBe(400);
  if (typeof message === 'string') expect(err.message).toBe(message);
  else expect(err.message).toMatch(message);
}

const one = (name: string, datatype: string, shape: unknown, data: unknown, extra: Record<string, unknown> = {}) => ({
  inputs: [{ name, datatype, shape, data, ...extra }],
});

// ---------------------------------------------------------------------------------------------
// JSON form: every datatype

describe('JSON form: datatypes', () => {
  const cases: Array<{ datatype: NumericDataType; json: unknown[]; expected: ArrayLike<number | bigint>; ctor: Function }> = [
    { datatype: 'BOOL', json: [true, false, 1, 0], expected: [1, 0, 1, 0], ctor: Uint8Array },
    { datatype: 'UINT8', json: [0, 1, 255], expected: [0, 1, 255], ctor: Uint8Array },
    { datatype: 'UINT16', json: [0, 65535], expected: [0, 65535], ctor: Uint16Array },
    { datatype: 'UINT32', json: [0, 4294967295], expected: [0, 4294967295], ctor: Uint32Array },
    { datatype: 'INT8', json: [-128, 0, 127], expected: [-128, 0, 127], ctor: Int8Array },
    { datatype: 'INT16', json: [-32768, 32767], expected: [-32768, 32767], ctor: Int16Array },
    { datatype: 'INT32', json: [-2147483648, 2147483647], expected: [-2147483648, 2147483647], ctor: Int32Array },
    {
      datatype: 'INT64',
      json: [-1, 9007199254740991, '-9223372036854775808', '9223372036854775807', '9007199254740993'],
      expected: [-1n, 9007199254740991n, -(2n ** 63n), 2n ** 63n - 1n, 9007199254740993n],
      ctor: BigInt64Array,
    },
    {
      datatype: 'UINT64',
      json: [0, 9007199254740991, '18446744073709551615'],
      expected: [0n, 9007199254740991n, 2n ** 64n - 1n],
      ctor: BigUint64Array,
    },
    { datatype: 'FP16', json: [1, -2, 0.5, 65504, 0], expected: [0x3c00, 0xc000, 0x3800, 0x7bff, 0], ctor: Uint16Array },
    { datatype: 'FP32', json: [1.5, -0.25, 3.4e38, 1e-45], expected: Float32Array.of(1.5, -0.25, 3.4e38, 1e-45), ctor: Float32Array },
    { datatype: 'FP64', json: [Math.PI, -1e308, 5e-324], expected: [Math.PI, -1e308, 5e-324], ctor: Float64Array },
  ];

  for (const c of cases) {
    it(`${c.datatype}: flat JSON data becomes its carrier`, () => {
      const model = modelOf(['x', c.datatype, [-1]]);
      const req = decodeJson(model, one('x', c.datatype, [c.json.length], c.json));
      const t = req.inputs.x!;
      expect(t.datatype).toBe(c.datatype);
      expect(t.shape).toEqual([c.json.length]);
      expect(t.data).toBeInstanceOf(c.ctor);
      expect(Array.from(t.data as ArrayLike<number | bigint>)).toEqual(Array.from(c.expected));
    });
  }

  it('BYTES: JSON strings (UTF-8 text) pass through as strings', () => {
    const model = modelOf(['s', 'BYTES', [-1]]);
    const req = decodeJson(model, one('s', 'BYTES', [3], ['hello', '', 'héllo ✓']));
    expect(req.inputs.s!.data).toEqual(['hello', '', 'héllo ✓']);
  });

  it('nested data is flattened row-major', () => {
    const model = modelOf(['x', 'INT32', [-1, -1, -1]]);
    const nested = [
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      [
        [7, 8, 9],
        [10, 11, 12],
      ],
    ];
    const req = decodeJson(model, one('x', 'INT32', [2, 2, 3], nested));
    expect(Array.from(req.inputs.x!.data as Int32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // Flat and nested give the same tensor.
    const flat = decodeJson(model, one('x', 'INT32', [2, 2, 3], nested.flat(2)));
    expect(flat.inputs.x!.data).toEqual(req.inputs.x!.data);
  });

  it('nested BYTES and BOOL data', () => {
    const model = modelOf(['s', 'BYTES', [2, 2]], ['b', 'BOOL', [2, 2]]);
    const req = decodeJson(model, {
      inputs: [
        { name: 's', datatype: 'BYTES', shape: [2, 2], data: [['a', 'b'], ['c', 'd']] },
        { name: 'b', datatype: 'BOOL', shape: [2, 2], data: [[true, false], [false, true]] },
      ],
    });
    expect(req.inputs.s!.data).toEqual(['a', 'b', 'c', 'd']);
    expect(Array.from(req.inputs.b!.data as Uint8Array)).toEqual([1, 0, 0, 1]);
  });

  it('a scalar (shape []) takes one element, flat or bare', () => {
    const model = modelOf(['x', 'FP32', []]);
    expect(Array.from(decodeJson(model, one('x', 'FP32', [], [2.5])).inputs.x!.data as Float32Array)).toEqual([2.5]);
    expect(Array.from(decodeJson(model, one('x', 'FP32', [], 2.5)).inputs.x!.data as Float32Array)).toEqual([2.5]);
    expect(decodeJson(model, one('x', 'FP32', [], [2.5])).inputs.x!.shape).toEqual([]);
  });

  it('zero-size tensors take empty data', () => {
    const model = modelOf(['x', 'FP32', [-1, 3]], ['s', 'BYTES', [-1]]);
    const req = decodeJson(model, {
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [0, 3], data: [] },
        { name: 's', datatype: 'BYTES', shape: [0], data: [] },
      ],
    });
    expect(req.inputs.x!.data).toEqual(new Float32Array(0));
    expect(req.inputs.x!.shape).toEqual([0, 3]);
    expect(req.inputs.s!.data).toEqual([]);
  });

  it('null stands for NaN in float inputs', () => {
    const model = modelOf(['x', 'FP32', [3]], ['h', 'FP16', [1]], ['d', 'FP64', [1]]);
    const req = decodeJson(model, {
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [3], data: [1, null, 2] },
        { name: 'h', datatype: 'FP16', shape: [1], data: [null] },
        { name: 'd', datatype: 'FP64', shape: [1], data: [null] },
      ],
    });
    const x = req.inputs.x!.data as Float32Array;
    expect(x[0]).toBe(1);
    expect(x[1]).toBeNaN();
    expect(fromHalfBits((req.inputs.h!.data as Uint16Array)[0]!)).toBeNaN();
    expect((req.inputs.d!.data as Float64Array)[0]).toBeNaN();
  });

  it('FP16 from JSON numbers rounds to the nearest half', () => {
    const model = modelOf(['h', 'FP16', [-1]]);
    const values = [0.1, 1e6, -1e6, 2 ** -24, 2 ** -25, 2 ** -26, 65519, 65520, 1 + 2 ** -11, 1 + 3 * 2 ** -11];
    const req = decodeJson(model, one('h', 'FP16', [values.length], values));
    expect(Array.from(req.inputs.h!.data as Uint16Array)).toEqual([
      0x2e66, // 0.1 → 0.0999755859375
      0x7c00, // overflow → +Inf
      0xfc00, // → -Inf
      0x0001, // smallest subnormal
      0x0000, // half of it: tie → even (zero)
      0x0000, // below: zero
      0x7bff, // 65519 rounds down to 65504
      0x7c00, // 65520 is the tie to Inf
      0x3c00, // 1 + 2^-11: tie → even (1)
      0x3c02, // 1 + 3*2^-11: tie → even (1 + 2^-9)
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// JSON form: request fields and parameters

describe('JSON form: request fields', () => {
  const model = modelOf(['x', 'FP32', [-1]]);
  const input = { name: 'x', datatype: 'FP32', shape: [2], data: [1, 2] };

  it('defaults: no id, all outputs, JSON outputs, no priority or timeout', () => {
    const req = decodeJson(model, { inputs: [input] });
    expect(req).toEqual({
      inputs: { x: { datatype: 'FP32', shape: [2], data: Float32Array.of(1, 2) } },
      binaryDataOutput: false,
      parameters: {},
    });
    expect('id' in req).toBe(false);
    expect(req.outputs).toBeUndefined();
  });

  it('reads id, priority, timeout, binary_data_output and keeps every parameter', () => {
    const parameters = { priority: 2, timeout: 1500, binary_data_output: true, sequence_id: 7, custom: 'yes' };
    const req = decodeJson(model, { id: 'req-1', parameters, inputs: [input], model_name: 'ignored' });
    expect(req.id).toBe('req-1');
    expect(req.priority).toBe(2);
    expect(req.timeoutUs).toBe(1500);
    expect(req.binaryDataOutput).toBe(true);
    expect(req.parameters).toEqual(parameters);
  });

  it('requested outputs: binary_data overrides binary_data_output, per output, in request order', () => {
    const req = decodeJson(model, {
      parameters: { binary_data_output: true },
      inputs: [input],
      outputs: [
        { name: 'b' },
        { name: 'a', parameters: { binary_data: false } },
        { name: 'c', parameters: { binary_data: true } },
      ],
    });
    expect(req.outputs).toEqual([
      { name: 'b', binary: true },
      { name: 'a', binary: false },
      { name: 'c', binary: true },
    ]);
    const plain = decodeJson(model, { inputs: [input], outputs: [{ name: 'a' }, { name: 'b', parameters: { binary_data: true } }] });
    expect(plain.outputs).toEqual([
      { name: 'a', binary: false },
      { name: 'b', binary: true },
    ]);
  });

  it('an empty outputs list means every output', () => {
    expect(decodeJson(model, { inputs: [input], outputs: [] }).outputs).toBeUndefined();
  });

  it('priority 0 and timeout 0 are kept (0 = defaults)', () => {
    const req = decodeJson(model, { parameters: { priority: 0, timeout: 0 }, inputs: [input] });
    expect(req.priority).toBe(0);
    expect(req.timeoutUs).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// JSON form: 400s

describe('JSON form: rejections', () => {
  const model = modelOf(['x', 'FP32', [-1, 16]], ['s', 'BYTES', [-1]]);
  const x = (over: Record<string, unknown> = {}) => ({ name: 'x', datatype: 'FP32', shape: [1, 16], data: new Array(16).fill(0), ...over });

  it('element count against the shape', () => {
    expect400(
      () => decodeJson(model, { inputs: [x({ shape: [2, 16], data: new Array(30).fill(1) })] }),
      "input 'x': expected 32 elements for shape [2,16], got 30",
    );
    expect400(
      () => decodeJson(model, { inputs: [x({ shape: [2, 16], data: [new Array(16).fill(1)] })] }),
      "input 'x': expected 32 elements for shape [2,16], got 16",
    );
    expect400(
      () => decodeJson(model, { inputs: [x({ shape: [1, 16], data: new Array(17).fill(1) })] }),
      "input 'x': expected 16 elements for shape [1,16], got 17",
    );
  });

  it('malformed JSON and non-object requests', () => {
    expect400(() => decodeInferRequest(Buffer.from('{"inputs": ['), undefined, model), /^malformed JSON: /);
    expect400(() => decodeInferRequest(Buffer.from(''), undefined, model), /^malformed JSON: /);
    expect400(() => decodeInferRequest(Buffer.from('[1,2]'), undefined, model), /^malformed JSON: the request must be an object/);
    expect400(() => decodeInferRequest(Buffer.from('null'), undefined, model), /^malformed JSON: the request must be an object/);
  });

  it('inputs must be an array of objects with a name', () => {
    expect400(() => decodeJson(model, {}), "'inputs' must be an array, got nothing");
    expect400(() => decodeJson(model, { inputs: {} }), "'inputs' must be an array, got {}");
    expect400(() => decodeJson(model, { inputs: [3] }), 'inputs[0] must be an object, got 3');
    expect400(() => decodeJson(model, { inputs: [{ datatype: 'FP32' }] }), "inputs[0]: 'name' must be a string, got nothing");
  });

  it('datatypes: BF16, unknown names; a mismatch with the model is the engine check', () => {
    expect400(() => decodeJson(model, { inputs: [x({ datatype: 'BF16' })] }), "input 'x': BF16 is not supported");
    expect400(() => decodeJson(model, { inputs: [x({ datatype: 'FLOAT32' })] }), "input 'x': unknown datatype 'FLOAT32'");
    expect400(() => decodeJson(model, { inputs: [x({ datatype: 'fp32' })] }), "input 'x': unknown datatype 'fp32'");
    expect400(() => decodeJson(model, { inputs: [x({ datatype: 3 })] }), "input 'x': 'datatype' must be a string, got 3");
    expectEngine(model, decodeJson(model, { inputs: [x({ datatype: 'FP64' })] }), "input 'x': expected datatype FP32, got FP64");
  });

  it('duplicate inputs; an unknown input is the engine check', () => {
    expectEngine(model, decodeJson(model, { inputs: [x({ name: 'y' })] }), "unknown input 'y' (model inputs: x, s)");
    expect400(() => decodeJson(model, { inputs: [x(), x()] }), "duplicate input 'x'");
  });

  it('shapes: non-integer, negative, not an array, too many elements; the rank is the engine check', () => {
    expect400(() => decodeJson(model, { inputs: [x({ shape: [1, -16] })] }), "input 'x': shape must be non-negative integers, got [1,-16]");
    expect400(() => decodeJson(model, { inputs: [x({ shape: [1, 1.5] })] }), "input 'x': shape must be non-negative integers, got [1,1.5]");
    expect400(() => decodeJson(model, { inputs: [x({ shape: [1, '16'] })] }), /^input 'x': shape must be non-negative integers/);
    expect400(() => decodeJson(model, { inputs: [x({ shape: '1,16' })] }), `input 'x': 'shape' must be an array, got "1,16"`);
    expectEngine(model, decodeJson(model, { inputs: [x({ shape: [16] })] }), "input 'x': expected rank 2 (shape [-1,16]), got rank 1 (shape [16])");
    expectEngine(
      model,
      decodeJson(model, { inputs: [x({ shape: new Array(100_000).fill(1), data: [1] })] }),
      `input 'x': expected rank 2 (shape [-1,16]), got rank 100000 (shape [${new Array(16).fill(1).join(',')},...])`,
    );
    expect400(
      () => decodeJson(model, { inputs: [x({ shape: [2 ** 30, 2 ** 30] })] }),
      "input 'x': shape [1073741824,1073741824] has too many elements",
    );
  });

  it('element values per datatype', () => {
    const m = modelOf(['i8', 'INT8', [1]], ['u8', 'UINT8', [1]], ['i32', 'INT32', [1]], ['b', 'BOOL', [1]], ['f', 'FP32', [1]]);
    const single = (name: string, datatype: string, v: unknown) => decodeJson(m, one(name, datatype, [1], [v]));
    expect400(() => single('i8', 'INT8', 128), "input 'i8': element 0 must be an integer in [-128, 127], got 128");
    expect400(() => single('u8', 'UINT8', -1), "input 'u8': element 0 must be an integer in [0, 255], got -1");
    expect400(() => single('i32', 'INT32', 1.5), "input 'i32': element 0 must be an integer in [-2147483648, 2147483647], got 1.5");
    expect400(() => single('i32', 'INT32', '7'), `input 'i32': element 0 must be an integer in [-2147483648, 2147483647], got "7"`);
    expect400(() => single('b', 'BOOL', 2), "input 'b': element 0 must be a boolean (or 0/1), got 2");
    expect400(() => single('b', 'BOOL', 'true'), `input 'b': element 0 must be a boolean (or 0/1), got "true"`);
    expect400(() => single('f', 'FP32', '1.0'), `input 'f': element 0 must be a number, got "1.0"`);
    expect400(() => single('f', 'FP32', { v: 1 }), `input 'f': element 0 must be a number, got {"v":1}`);
    expect400(() => decodeJson(m, one('f', 'FP32', [1], { v: 1 })), `input 'f': 'data' must be an array, got {"v":1}`);
    expect400(() => decodeJson(model, one('x', 'FP32', [1, 16], 0)), "input 'x': 'data' must be an array, got 0");
    expect400(() => decodeJson(model, one('s', 'BYTES', [2], ['a', 5])), "input 's': element 1 must be a string, got 5");
    // Index of the failing element in row-major order, also through nesting.
    expect400(
      () => decodeJson(modelOf(['x', 'FP32', [2, 2]]), one('x', 'FP32', [2, 2], [[1, 2], [3, 'four']])),
      `input 'x': element 3 must be a number, got "four"`,
    );
  });

  it('INT64/UINT64: unsafe JSON numbers, bad strings, out of range', () => {
    const m = modelOf(['i', 'INT64', [1]], ['u', 'UINT64', [1]]);
    expect400(
      () => decodeInferRequest(Buffer.from('{"inputs":[{"name":"i","datatype":"INT64","shape":[1],"data":[9007199254740993]}]}'), undefined, m),
      /^input 'i': element 0 \(9007199254740992\) is beyond 2\^53 .*decimal string/,
    );
    expect400(() => decodeJson(m, one('i', 'INT64', [1], ['9223372036854775808'])), /^input 'i': element 0 must be an integer in \[-9223372036854775808, 9223372036854775807\]/);
    expect400(() => decodeJson(m, one('u', 'UINT64', [1], ['-1'])), /^input 'u': element 0 must be an integer in \[0, 18446744073709551615\]/);
    expect400(() => decodeJson(m, one('u', 'UINT64', [1], [-1])), /^input 'u': element 0 must be an integer in \[0, 18446744073709551615\]/);
    expect400(() => decodeJson(m, one('i', 'INT64', [1], ['12abc'])), /^input 'i': element 0 must be an integer .*decimal string/);
    expect400(() => decodeJson(m, one('i', 'INT64', [1], [1.5])), /^input 'i': element 0 must be an integer/);
  });

  it('data nested deeper than the rank', () => {
    const m = modelOf(['x', 'FP32', [-1]]);
    expect400(() => decodeJson(m, one('x', 'FP32', [2], [[[1]], [[2]]])), "input 'x': 'data' is nested deeper than the shape's rank");
  });

  it('data and binary_data_size: exactly one of them', () => {
    expect400(
      () => decodeJson(model, { inputs: [x({ parameters: { binary_data_size: 64 } })] }),
      "input 'x': set only one of 'data' and 'binary_data_size'",
    );
    expect400(() => decodeJson(model, { inputs: [x({ data: undefined })] }), "input 'x': needs 'data' or parameters.binary_data_size");
    expect400(
      () => decodeJson(model, { inputs: [x({ data: undefined, parameters: { binary_data_size: 64 } })] }),
      "input 'x': binary_data_size needs the Inference-Header-Content-Length header",
    );
    expect400(
      () => decodeJson(model, { inputs: [x({ data: undefined, parameters: { shared_memory_region: 'r' } })] }),
      "input 'x': shared memory is not supported",
    );
    expect400(() => decodeJson(model, { inputs: [x({ parameters: [] })] }), "input 'x': 'parameters' must be an object, got []");
  });

  it('request fields and parameters of the wrong type', () => {
    expect400(() => decodeJson(model, { id: 5, inputs: [x()] }), "'id' must be a string, got 5");
    expect400(() => decodeJson(model, { parameters: 'p', inputs: [x()] }), `request: 'parameters' must be an object, got "p"`);
    expect400(() => decodeJson(model, { parameters: { priority: -1 }, inputs: [x()] }), "parameter 'priority' must be a non-negative integer, got -1");
    expect400(() => decodeJson(model, { parameters: { priority: 1.5 }, inputs: [x()] }), "parameter 'priority' must be a non-negative integer, got 1.5");
    expect400(() => decodeJson(model, { parameters: { priority: '1' }, inputs: [x()] }), `parameter 'priority' must be a non-negative integer, got "1"`);
    expect400(
      () => decodeJson(model, { parameters: { timeout: -5 }, inputs: [x()] }),
      "parameter 'timeout' (microseconds) must be a non-negative integer, got -5",
    );
    expect400(
      () => decodeJson(model, { parameters: { binary_data_output: 'true' }, inputs: [x()] }),
      `parameter 'binary_data_output' must be a boolean, got "true"`,
    );
  });

  it('outputs: shape of the list, duplicates, classification, shared memory, binary_data type', () => {
    expect400(() => decodeJson(model, { inputs: [x()], outputs: 'y' }), `'outputs' must be an array, got "y"`);
    expect400(() => decodeJson(model, { inputs: [x()], outputs: ['y'] }), `outputs[0] must be an object, got "y"`);
    expect400(() => decodeJson(model, { inputs: [x()], outputs: [{}] }), "outputs[0]: 'name' must be a string, got nothing");
    expect400(() => decodeJson(model, { inputs: [x()], outputs: [{ name: 'y' }, { name: 'y' }] }), "duplicate output 'y'");
    expect400(
      () => decodeJson(model, { inputs: [x()], outputs: [{ name: 'y', parameters: { classification: 3 } }] }),
      'classification extension is not supported',
    );
    expect400(() => decodeJson(model, { parameters: { classification: 3 }, inputs: [x()] }), 'classification extension is not supported');
    expect400(
      () => decodeJson(model, { inputs: [x()], outputs: [{ name: 'y', parameters: { shared_memory_region: 'r' } }] }),
      "output 'y': shared memory is not supported",
    );
    expect400(
      () => decodeJson(model, { inputs: [x()], outputs: [{ name: 'y', parameters: { binary_data: 1 } }] }),
      "output 'y': parameter 'binary_data' must be a boolean, got 1",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Binary form

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

describe('binary form', () => {
  const numeric: Array<[NumericDataType, ArrayBufferView & ArrayLike<number | bigint>]> = [
    ['BOOL', Uint8Array.of(1, 0, 1)],
    ['UINT8', Uint8Array.of(0, 128, 255)],
    ['UINT16', Uint16Array.of(0, 1, 65535)],
    ['UINT32', Uint32Array.of(0, 1, 4294967295)],
    ['UINT64', BigUint64Array.of(0n, 2n ** 53n + 1n, 2n ** 64n - 1n)],
    ['INT8', Int8Array.of(-128, 0, 127)],
    ['INT16', Int16Array.of(-32768, 0, 32767)],
    ['INT32', Int32Array.of(-(2 ** 31), 0, 2 ** 31 - 1)],
    ['INT64', BigInt64Array.of(-(2n ** 63n), 2n ** 53n + 1n, 2n ** 63n - 1n)],
    ['FP16', Uint16Array.of(0x3c00, 0x7e00, 0xfc00)],
    ['FP32', Float32Array.of(1.5, NaN, -Infinity)],
    ['FP64', Float64Array.of(Math.PI, -0, 5e-324)],
  ];

  for (const [datatype, values] of numeric) {
    it(`${datatype}: raw little-endian bytes decode bit for bit, as a view on the body`, () => {
      const model = modelOf(['x', datatype, [-1]]);
      const { body, headerLength } = binaryBody(
        { inputs: [{ name: 'x', datatype, shape: [3], parameters: { binary_data_size: values.byteLength } }] },
        [values],
      );
      const req = decodeInferRequest(body, headerLength, model);
      const data = req.inputs.x!.data as ArrayBufferView;
      expect(data.constructor).toBe(values.constructor);
      expect(bytesOf(data)).toEqual(bytesOf(values));
      // Zero copy: the header is padded to 8 bytes, so every element size is aligned.
      expect(data.buffer).toBe(body.buffer);
      expect(data.byteOffset).toBe(body.byteOffset + headerLength);
    });
  }

  it('views share memory with the body (writes show through)', () => {
    const model = modelOf(['x', 'FP32', [-1]]);
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } }] },
      [Float32Array.of(1, 2)],
    );
    const data = decodeInferRequest(body, headerLength, model).inputs.x!.data as Float32Array;
    body.writeFloatLE(42, headerLength + 4);
    expect(data[1]).toBe(42);
  });

  it('misaligned tensors are copied, with the same values', () => {
    const model = modelOf(['a', 'UINT8', [-1]], ['x', 'FP32', [-1]], ['d', 'FP64', [-1]]);
    const { body, headerLength } = binaryBody(
      {
        inputs: [
          { name: 'a', datatype: 'UINT8', shape: [1], parameters: { binary_data_size: 1 } },
          { name: 'x', datatype: 'FP32', shape: [2], parameters: { binary_data_size: 8 } },
          { name: 'd', datatype: 'FP64', shape: [1], parameters: { binary_data_size: 8 } },
        ],
      },
      [Uint8Array.of(7), Float32Array.of(1.25, -3), Float64Array.of(Math.E)],
    );
    const req = decodeInferRequest(body, headerLength, model);
    const a = req.inputs.a!.data as Uint8Array;
    const x = req.inputs.x!.data as Float32Array;
    const d = req.inputs.d!.data as Float64Array;
    expect(Array.from(a)).toEqual([7]);
    expect(a.buffer).toBe(body.buffer); // 1-byte elements are always aligned
    expect(Array.from(x)).toEqual([1.25, -3]);
    expect(x.buffer).not.toBe(body.buffer);
    expect(Array.from(d)).toEqual([Math.E]);
    expect(d.buffer).not.toBe(body.buffer);
  });

  it('alignment is judged on the absolute address (a body at an odd byteOffset)', () => {
    const model = modelOf(['x', 'INT32', [-1]]);
    const inner = binaryBody(
      { inputs: [{ name: 'x', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } }] },
      [Int32Array.of(5, -6)],
    );
    const backing = Buffer.from(new ArrayBuffer(inner.body.length + 1));
    inner.body.copy(backing, 1);
    const body = backing.subarray(1);
    const data = decodeInferRequest(body, inner.headerLength, model).inputs.x!.data as Int32Array;
    expect(Array.from(data)).toEqual([5, -6]);
    expect(data.buffer).not.toBe(body.buffer);
    // Shifted by 4: aligned again, a view.
    const backing4 = Buffer.from(new ArrayBuffer(inner.body.length + 4));
    inner.body.copy(backing4, 4);
    const view = decodeInferRequest(backing4.subarray(4), inner.headerLength, model).inputs.x!.data as Int32Array;
    expect(view.buffer).toBe(backing4.buffer);
    expect(Array.from(view)).toEqual([5, -6]);
  });

  it('a gzip or deflate body inflates aligned as the transports receive plain ones: its tensors are views', async () => {
    const model = modelOf(['x', 'FP64', [-1]]);
    // A header whose length is not a multiple of 8: unpadded, the tensor would start misaligned.
    const plain = binaryBody({ inputs: [{ name: 'x', datatype: 'FP64', shape: [3], parameters: { binary_data_size: 24 } }] }, [Float64Array.of(1, 2, 3)], 1);
    expect(plain.headerLength % 8).not.toBe(0);
    for (const [encoding, compress] of [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
    ] as const) {
      const body = await decodeBody(compress(plain.body), encoding, 1 << 20, alignmentPad(plain.headerLength));
      expect(body.equals(plain.body)).toBe(true);
      const data = decodeInferRequest(body, plain.headerLength, model).inputs.x!.data as Float64Array;
      expect(Array.from(data)).toEqual([1, 2, 3]);
      expect(data.buffer).toBe(body.buffer); // a view, no copy
    }
    // Still bounded by the limit while inflating.
    await expect(decodeBody(gzipSync(Buffer.alloc(1 << 16)), 'gzip', 1000)).rejects.toMatchObject({ message: 'decompressed request body exceeds the limit of 1000 bytes' });
  });

  it('BYTES: length-prefixed elements, as views on the body', () => {
    const model = modelOf(['s', 'BYTES', [-1, 2]]);
    const elements = ['hello', '', 'wörld', '\u0000bin'];
    const tensor = bytesTensor(elements);
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: 's', datatype: 'BYTES', shape: [2, 2], parameters: { binary_data_size: tensor.length } }] },
      [tensor],
    );
    const data = decodeInferRequest(body, headerLength, model).inputs.s!.data as Buffer[];
    expect(data.map((b) => b.toString('utf8'))).toEqual(elements);
    expect(data[0]!.buffer).toBe(body.buffer);
  });

  it('BYTES: zero elements, and a zero-length element', () => {
    const model = modelOf(['s', 'BYTES', [-1]]);
    const empty = binaryBody({ inputs: [{ name: 's', datatype: 'BYTES', shape: [0], parameters: { binary_data_size: 0 } }] }, []);
    expect(decodeInferRequest(empty.body, empty.headerLength, model).inputs.s!.data).toEqual([]);
    const t = bytesTensor(['']);
    const blank = binaryBody({ inputs: [{ name: 's', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: 4 } }] }, [t]);
    expect((decodeInferRequest(blank.body, blank.headerLength, model).inputs.s!.data as Buffer[]).map(String)).toEqual(['']);
  });

  it('mixes binary and JSON inputs; binary tensors follow in declaration order', () => {
    const model = modelOf(['a', 'INT32', [-1]], ['j', 'FP32', [-1]], ['b', 'INT64', [-1]]);
    const { body, headerLength } = binaryBody(
      {
        inputs: [
          { name: 'a', datatype: 'INT32', shape: [2], parameters: { binary_data_size: 8 } },
          { name: 'j', datatype: 'FP32', shape: [1], data: [0.5] },
          { name: 'b', datatype: 'INT64', shape: [1], parameters: { binary_data_size: 8 } },
        ],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
      },
      [Int32Array.of(1, 2), BigInt64Array.of(-3n)],
    );
    const req = decodeInferRequest(body, headerLength, model);
    expect(Array.from(req.inputs.a!.data as Int32Array)).toEqual([1, 2]);
    expect(Array.from(req.inputs.j!.data as Float32Array)).toEqual([0.5]);
    expect(Array.from(req.inputs.b!.data as BigInt64Array)).toEqual([-3n]);
    expect(req.outputs).toEqual([{ name: 'y', binary: true }]);
  });

  it('zero-size binary inputs', () => {
    const model = modelOf(['x', 'FP32', [-1, 4]]);
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [0, 4], parameters: { binary_data_size: 0 } }] }, []);
    const t = decodeInferRequest(body, headerLength, model).inputs.x!;
    expect(t.shape).toEqual([0, 4]);
    expect((t.data as Float32Array).length).toBe(0);
  });

  it('a header covering the whole body is plain JSON (no binary data)', () => {
    const model = modelOf(['x', 'FP32', [-1]]);
    const body = jsonBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [3] }] });
    expect(Array.from(decodeInferRequest(body, body.length, model).inputs.x!.data as Float32Array)).toEqual([3]);
  });

  describe('rejections', () => {
    const model = modelOf(['x', 'FP32', [-1]], ['s', 'BYTES', [-1]], ['b', 'BOOL', [-1]]);
    const xInput = (size: number, shape = [2]) => ({ name: 'x', datatype: 'FP32', shape, parameters: { binary_data_size: size } });

    it('binary_data_size against the shape', () => {
      const { body, headerLength } = binaryBody({ inputs: [xInput(12)] }, [new Uint8Array(12)]);
      expect400(
        () => decodeInferRequest(body, headerLength, model),
        "binary size mismatch: input 'x' has binary_data_size 12 but 2 FP32 elements (shape [2]) take 8 bytes",
      );
    });

    it('binary_data_size beyond the body', () => {
      const { body, headerLength } = binaryBody({ inputs: [xInput(8)] }, [new Uint8Array(4)]);
      expect400(
        () => decodeInferRequest(body, headerLength, model),
        "binary size mismatch: input 'x' declares binary_data_size 8 but only 4 bytes of binary data remain",
      );
    });

    it('bytes left over after the declared tensors', () => {
      const { body, headerLength } = binaryBody({ inputs: [xInput(8)] }, [new Uint8Array(8), new Uint8Array(3)]);
      expect400(
        () => decodeInferRequest(body, headerLength, model),
        "binary size mismatch: 11 bytes follow the JSON header but the inputs' binary_data_size total 8",
      );
      const jsonOnly = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] }, [new Uint8Array(4)]);
      expect400(
        () => decodeInferRequest(jsonOnly.body, jsonOnly.headerLength, model),
        "binary size mismatch: 4 bytes follow the JSON header but the inputs' binary_data_size total 0",
      );
    });

    it('binary_data_size must be a non-negative integer', () => {
      const { body, headerLength } = binaryBody({ inputs: [xInput(-8)] }, []);
      expect400(() => decodeInferRequest(body, headerLength, model), "input 'x': parameter 'binary_data_size' must be a non-negative integer, got -8");
    });

    it('BYTES: element count, overruns, trailing bytes', () => {
      const bytesCase = (shape: number[], tensor: Buffer, size = tensor.length) => {
        const { body, headerLength } = binaryBody(
          { inputs: [{ name: 's', datatype: 'BYTES', shape, parameters: { binary_data_size: size } }] },
          [tensor],
        );
        return () => decodeInferRequest(body, headerLength, model);
      };
      expect400(
        bytesCase([3], bytesTensor(['a', 'b'])),
        "binary size mismatch: input 's' has 2 BYTES elements in its binary_data_size 10, its shape needs 3",
      );
      expect400(
        bytesCase([1], bytesTensor(['a', 'b'])),
        "binary size mismatch: input 's' has 5 bytes after its 1 BYTES elements (binary_data_size 10)",
      );
      const overrun = bytesTensor(['abc']);
      overrun.writeUInt32LE(100, 0);
      expect400(
        bytesCase([1], overrun),
        "binary size mismatch: input 's': BYTES element 0 has length 100, past the end of its binary_data_size 7",
      );
      expect400(bytesCase([1], Buffer.from([1, 0])), "binary size mismatch: input 's' has 0 BYTES elements in its binary_data_size 2, its shape needs 1");
    });

    it('BOOL bytes must be 0 or 1', () => {
      const { body, headerLength } = binaryBody(
        { inputs: [{ name: 'b', datatype: 'BOOL', shape: [3], parameters: { binary_data_size: 3 } }] },
        [Uint8Array.of(0, 1, 2)],
      );
      expect400(() => decodeInferRequest(body, headerLength, model), "input 'b': BOOL element 2 is byte 2; BOOL bytes must be 0 or 1");
    });

    it('header length edge cases', () => {
      const body = jsonBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] });
      expect400(
        () => decodeInferRequest(body, body.length + 1, model),
        `Inference-Header-Content-Length ${body.length + 1} exceeds the body length ${body.length}`,
      );
      expect400(() => decodeInferRequest(body, -1, model), 'invalid Inference-Header-Content-Length -1: expected a non-negative integer');
      expect400(() => decodeInferRequest(body, 2.5, model), 'invalid Inference-Header-Content-Length 2.5: expected a non-negative integer');
      // A header length that cuts the JSON short, or that points at non-JSON bytes.
      expect400(() => decodeInferRequest(body, 10, model), /^malformed JSON: /);
      const garbage = Buffer.concat([Buffer.from('\u0001\u0002binary'), Buffer.alloc(8)]);
      expect400(() => decodeInferRequest(garbage, 8, model), /^malformed JSON: /);
    });
  });
});

describe('parseInferenceHeaderLength', () => {
  it('absent, valid, invalid', () => {
    expect(parseInferenceHeaderLength(undefined)).toBeUndefined();
    expect(parseInferenceHeaderLength('0')).toBe(0);
    expect(parseInferenceHeaderLength(' 123 ')).toBe(123);
    for (const bad of ['', '-1', '1.5', '12abc', '0x10', '1e3', '9999999999999999']) {
      expect400(() => parseInferenceHeaderLength(bad), /^invalid Inference-Header-Content-Length/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Raw binary form (Inference-Header-Content-Length: 0)

describe('raw binary form', () => {
  it('infers the one dynamic dimension from the byte length; a view on the body', () => {
    const model = modelOf(['x', 'FP32', [-1, 4]]);
    const values = Float32Array.from({ length: 8 }, (_, i) => i / 2);
    const body = Buffer.from(values.buffer);
    const req = decodeInferRequest(body, 0, model);
    expect(req).toEqual({
      inputs: { x: { datatype: 'FP32', shape: [2, 4], data: values } },
      binaryDataOutput: true,
      parameters: {},
    });
    expect(req.outputs).toBeUndefined();
    expect((req.inputs.x!.data as Float32Array).buffer).toBe(body.buffer);
  });

  it('a fixed shape must match exactly', () => {
    const model = modelOf(['x', 'INT16', [2, 2]]);
    expect(Array.from(decodeInferRequest(Buffer.from(Int16Array.of(1, 2, 3, 4).buffer), 0, model).inputs.x!.data as Int16Array)).toEqual([1, 2, 3, 4]);
    expect400(
      () => decodeInferRequest(Buffer.alloc(6), 0, model),
      "raw binary request: input 'x' of shape [2,2] takes 8 bytes, got 6",
    );
  });

  it('dynamic dimension: multiples, zero bytes, zero-size known dims', () => {
    const model = modelOf(['x', 'UINT8', [3, -1]]);
    expect(decodeInferRequest(Buffer.alloc(6), 0, model).inputs.x!.shape).toEqual([3, 2]);
    expect(decodeInferRequest(Buffer.alloc(0), 0, model).inputs.x!.shape).toEqual([3, 0]);
    expect400(
      () => decodeInferRequest(Buffer.alloc(7), 0, model),
      "raw binary request: 7 UINT8 elements do not fill input 'x' of shape [3,-1] (a multiple of 3 needed)",
    );
    const empty = modelOf(['x', 'UINT8', [0, -1]]);
    expect(decodeInferRequest(Buffer.alloc(0), 0, empty).inputs.x!.shape).toEqual([0, 0]);
    expect400(() => decodeInferRequest(Buffer.alloc(2), 0, empty), "raw binary request: input 'x' of shape [0,-1] holds no data, got 2 bytes");
  });

  it('rejections: several dynamic dims, several inputs, BYTES, partial elements', () => {
    expect400(
      () => decodeInferRequest(Buffer.alloc(16), 0, modelOf(['x', 'FP32', [-1, -1]])),
      "raw binary request: cannot infer the shape of input 'x' ([-1,-1]) with more than one dynamic dimension; use the JSON or binary form",
    );
    expect400(
      () => decodeInferRequest(Buffer.alloc(16), 0, modelOf(['a', 'FP32', [4]], ['b', 'FP32', [4]])),
      'a raw binary request (Inference-Header-Content-Length: 0) needs a model with exactly one input; this model has 2',
    );
    expect400(
      () => decodeInferRequest(Buffer.alloc(16), 0, modelOf(['s', 'BYTES', [-1]])),
      "a raw binary request cannot carry BYTES input 's'; use the JSON or binary form",
    );
    expect400(
      () => decodeInferRequest(Buffer.alloc(6), 0, modelOf(['x', 'FP32', [-1]])),
      'raw binary request: 6 bytes is not a whole number of FP32 elements (4 bytes each)',
    );
    expect400(() => decodeInferRequest(Buffer.from([0, 3]), 0, modelOf(['b', 'BOOL', [-1]])), "input 'b': BOOL element 1 is byte 3; BOOL bytes must be 0 or 1");
  });
});

describe('alignmentPad', () => {
  it('a body received after alignmentPad(headerLength) spare bytes decodes as views', () => {
    expect([0, 1, 7, 8, 9, 15].map(alignmentPad)).toEqual([0, 7, 1, 0, 7, 1]);
    const model = modelOf(['x', 'FP64', [-1]]);
    const { body: padded } = binaryBody(
      { inputs: [{ name: 'x', datatype: 'FP64', shape: [2], parameters: { binary_data_size: 16 } }] },
      [Float64Array.of(1, 2)],
    );
    // The same request with an unpadded header, as clients send it.
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP64', shape: [2], parameters: { binary_data_size: 16 } }] }));
    const wire = Buffer.concat([header, padded.subarray(padded.length - 16)]);
    const pad = alignmentPad(header.length);
    const backing = Buffer.from(new ArrayBuffer(pad + wire.length));
    wire.copy(backing, pad);
    const data = decodeInferRequest(backing.subarray(pad), header.length, model).inputs.x!.data as Float64Array;
    expect(Array.from(data)).toEqual([1, 2]);
    expect(data.buffer).toBe(backing.buffer);
  });
});
