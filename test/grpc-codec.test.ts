// The gRPC front's message layer: the hand-written ModelInferRequest decoder and ModelInferResponse /
// ModelStreamInferResponse encoders, cross-checked against protobufjs reading the same proto files,
// and the protobufjs codecs of the control-plane messages. Pure: no engine, no server.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import type { NativeModelStats } from '../src/engine/binding.js';
import type { DataType } from '../src/engine/datatype.js';
import type { ModelMetadata } from '../src/engine/model.js';
import type { InferOutputs, OutputTensor } from '../src/engine/tensor.js';
import {
  decodeModelInferRequest,
  encodeModelInferResponse,
  encodeStreamInferResponse,
  encodeStreamResponse,
  type GrpcResponseArgs,
} from '../src/grpc/infer-codec.js';
import { messages, modelConfigToProto, protoRoot, repositoryParameters } from '../src/grpc/messages.js';
import { Reader, Writer, int64Size, varintSize } from '../src/grpc/wire.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { modelMetadata, modelStatistics, repositoryIndex, serverMetadata } from '../src/protocol/metadata.js';
import { modelConfigSchema } from '../src/repository/config-schema.js';
import { effectiveConfig } from '../src/repository/load-options.js';
import { ONNX_BACKEND } from '../src/repository/backends/onnx.js';

// ---------------------------------------------------------------------------------------------
// Helpers

const RequestType = protoRoot.lookupType('inference.ModelInferRequest');
const ResponseType = protoRoot.lookupType('inference.ModelInferResponse');
const StreamType = protoRoot.lookupType('inference.ModelStreamInferResponse');

/** protobufjs's encoding of a ModelInferRequest given as a plain object with proto field names. */
function pbRequest(request: Record<string, unknown>): Buffer {
  return Buffer.from(RequestType.encode(RequestType.fromObject(request)).finish());
}

/** A copy of `bytes` on a fresh ArrayBuffer, placed so that its byte `at` sits at an address ≡ `remainder` (mod 8). */
function placed(bytes: Buffer, at: number, remainder: number): Buffer {
  const pad = (((remainder - at) % 8) + 8) % 8;
  const out = Buffer.from(new ArrayBuffer(pad + bytes.length), pad, bytes.length);
  bytes.copy(out);
  return out;
}

/** A hand-built message (for encodings protobufjs does not produce: unpacked, unknown fields, bad bytes). */
function build(fill: (w: protobuf.Writer) => void): Buffer {
  const w = protobuf.Writer.create();
  fill(w);
  return Buffer.from(w.finish());
}

function tag(w: protobuf.Writer, field: number, wireType: number): protobuf.Writer {
  return w.uint32((field << 3) | wireType);
}

function nested(w: protobuf.Writer, field: number, fill: (w: protobuf.Writer) => void): void {
  tag(w, field, 2).fork();
  fill(w);
  w.ldelim();
}

/** An InferInputTensor's name, datatype and packed shape, for hand-built messages. */
function tensorHeader(w: protobuf.Writer, name: string, datatype: string, shape: number[]): void {
  tag(w, 1, 2).string(name);
  tag(w, 2, 2).string(datatype);
  nested(w, 3, (s) => shape.forEach((d) => s.int64(d)));
}

function refusal(buf: Buffer): ProtocolError {
  try {
    decodeModelInferRequest(buf);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).status).toBe(400);
    return err as ProtocolError;
  }
  throw new Error('the request decoded');
}

function bytesOf(view: ArrayBufferView): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** Triton's raw BYTES layout: 4-byte little-endian length, then the bytes, per element. */
function rawBytes(elements: ReadonlyArray<string | Uint8Array>): Buffer {
  return Buffer.concat(
    elements.flatMap((e) => {
      const b = typeof e === 'string' ? Buffer.from(e) : Buffer.from(e);
      const n = Buffer.alloc(4);
      n.writeUInt32LE(b.length);
      return [n, b];
    }),
  );
}

function input(name: string, datatype: string, shape: number[], contents?: Record<string, unknown>): Record<string, unknown> {
  return contents ? { name, datatype, shape, contents } : { name, datatype, shape };
}

// ---------------------------------------------------------------------------------------------
// Request: typed contents

interface TypedCase {
  datatype: DataType;
  field: string;
  values: unknown[];
  expected: ArrayBufferView | Buffer[];
}

const TYPED: TypedCase[] = [
  { datatype: 'BOOL', field: 'bool_contents', values: [true, false, true], expected: new Uint8Array([1, 0, 1]) },
  { datatype: 'INT8', field: 'int_contents', values: [-128, 0, 127], expected: new Int8Array([-128, 0, 127]) },
  { datatype: 'INT16', field: 'int_contents', values: [-32768, 1, 32767], expected: new Int16Array([-32768, 1, 32767]) },
  { datatype: 'INT32', field: 'int_contents', values: [-2147483648, 7, 2147483647], expected: new Int32Array([-2147483648, 7, 2147483647]) },
  {
    datatype: 'INT64',
    field: 'int64_contents',
    values: ['-9223372036854775808', '9223372036854775807', '-1', '0'],
    expected: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, -1n, 0n]),
  },
  { datatype: 'UINT8', field: 'uint_contents', values: [0, 255, 7], expected: new Uint8Array([0, 255, 7]) },
  { datatype: 'UINT16', field: 'uint_contents', values: [0, 65535], expected: new Uint16Array([0, 65535]) },
  { datatype: 'UINT32', field: 'uint_contents', values: [0, 4294967295], expected: new Uint32Array([0, 4294967295]) },
  {
    datatype: 'UINT64',
    field: 'uint64_contents',
    values: ['18446744073709551615', '9007199254740993', '0'],
    expected: new BigUint64Array([2n ** 64n - 1n, 2n ** 53n + 1n, 0n]),
  },
  {
    datatype: 'FP32',
    field: 'fp32_contents',
    values: [1.5, -0, Infinity, NaN, 3.4028234663852886e38, 1e-45],
    expected: Float32Array.from([1.5, -0, Infinity, NaN, 3.4028234663852886e38, 1e-45]),
  },
  {
    datatype: 'FP64',
    field: 'fp64_contents',
    values: [Math.PI, -0, NaN, -Infinity, 5e-324],
    expected: Float64Array.from([Math.PI, -0, NaN, -Infinity, 5e-324]),
  },
  {
    datatype: 'BYTES',
    field: 'bytes_contents',
    values: [Buffer.from('abc'), Buffer.alloc(0), Buffer.from([0, 255])],
    expected: [Buffer.from('abc'), Buffer.alloc(0), Buffer.from([0, 255])],
  },
];

function expectData(data: unknown, expected: ArrayBufferView | Buffer[]): void {
  if (Array.isArray(expected)) {
    expect(Array.isArray(data)).toBe(true);
    expect((data as Buffer[]).map((b) => Buffer.from(b).toString('hex'))).toEqual(expected.map((b) => b.toString('hex')));
    return;
  }
  expect((data as object).constructor).toBe(expected.constructor);
  // Bit-exact: NaN, -0 and 64-bit extremes included.
  expect(bytesOf(data as ArrayBufferView).toString('hex')).toBe(bytesOf(expected).toString('hex'));
}

describe('ModelInferRequest: typed contents', () => {
  it.each(TYPED)('decodes $datatype from $field into its carrier, bit-exact', ({ datatype, field, values, expected }) => {
    const count = Array.isArray(expected) ? expected.length : (expected as unknown as ArrayLike<unknown>).length;
    const { decoded } = decodeModelInferRequest(pbRequest({ model_name: 'm', inputs: [input('x', datatype, [count], { [field]: values })] }));
    const t = decoded.inputs.x!;
    expect(t.datatype).toBe(datatype);
    expect(t.shape).toEqual([count]);
    expectData(t.data, expected);
  });

  it('reads unpacked repeated scalars, and runs split over packed and unpacked fields', () => {
    // INT32 [1, -2, 3, 4]: one unpacked, a packed run of two, one unpacked.
    const ints = build((w) =>
      nested(w, 5, (t) => {
        tensorHeader(t, 'i', 'INT32', [4]);
        nested(t, 5, (c) => {
          tag(c, 2, 0).int32(1);
          nested(c, 2, (p) => p.int32(-2).int32(3));
          tag(c, 2, 0).int32(4);
        });
      }),
    );
    expectData(decodeModelInferRequest(ints).decoded.inputs.i!.data, new Int32Array([1, -2, 3, 4]));
    // FP32 and FP64 as fixed-width unpacked values, INT64 and UINT64 unpacked varints.
    const mixed = build((w) => {
      nested(w, 5, (t) => {
        tensorHeader(t, 'f', 'FP32', [3]);
        nested(t, 5, (c) => {
          tag(c, 6, 5).float(0.5);
          nested(c, 6, (p) => p.float(-1).float(2));
        });
      });
      nested(w, 5, (t) => {
        tensorHeader(t, 'd', 'FP64', [2]);
        nested(t, 5, (c) => tag(c, 7, 1).double(1e300).uint32((7 << 3) | 1).double(-2.5));
      });
      nested(w, 5, (t) => {
        tensorHeader(t, 'l', 'INT64', [2]);
        nested(t, 5, (c) => tag(c, 3, 0).int64('-5').uint32((3 << 3) | 0).int64('1099511627776'));
      });
      nested(w, 5, (t) => {
        tensorHeader(t, 'b', 'BOOL', [2]);
        nested(t, 5, (c) => tag(c, 1, 0).bool(true).uint32((1 << 3) | 0).bool(false));
      });
    });
    const inputs = decodeModelInferRequest(mixed).decoded.inputs;
    expectData(inputs.f!.data, Float32Array.from([0.5, -1, 2]));
    expectData(inputs.d!.data, Float64Array.from([1e300, -2.5]));
    expectData(inputs.l!.data, new BigInt64Array([-5n, 1099511627776n]));
    expectData(inputs.b!.data, new Uint8Array([1, 0]));
  });

  it('merges a contents field sent twice (protobuf merges repeated message fields)', () => {
    const buf = build((w) =>
      nested(w, 5, (t) => {
        tensorHeader(t, 'x', 'UINT16', [3]);
        nested(t, 5, (c) => nested(c, 4, (p) => p.uint32(1).uint32(2)));
        nested(t, 5, (c) => tag(c, 4, 0).uint32(3));
      }),
    );
    expectData(decodeModelInferRequest(buf).decoded.inputs.x!.data, new Uint16Array([1, 2, 3]));
  });

  it('reads any non-zero bool varint as true, as protobuf does', () => {
    const buf = build((w) =>
      nested(w, 5, (t) => {
        tensorHeader(t, 'b', 'BOOL', [2]);
        nested(t, 5, (c) => nested(c, 1, (p) => p.uint32(2).uint64('4294967296')));
      }),
    );
    expectData(decodeModelInferRequest(buf).decoded.inputs.b!.data, new Uint8Array([1, 1]));
  });

  it('views a whole packed FP32 run on the message when aligned, copies it otherwise', () => {
    const values = Float32Array.from([1, 2, 3, 4]);
    const msg = pbRequest({ inputs: [input('x', 'FP32', [4], { fp32_contents: Array.from(values) })] });
    const at = msg.indexOf(bytesOf(values));
    const aligned = placed(msg, at, 0);
    const view = decodeModelInferRequest(aligned).decoded.inputs.x!.data as Float32Array;
    expect(view.buffer).toBe(aligned.buffer);
    expectData(view, values);
    const misaligned = placed(msg, at, 2);
    const copy = decodeModelInferRequest(misaligned).decoded.inputs.x!.data as Float32Array;
    expect(copy.buffer).not.toBe(misaligned.buffer);
    expectData(copy, values);
  });

  it('decodes BYTES contents as views on the message', () => {
    const msg = pbRequest({ inputs: [input('s', 'BYTES', [2], { bytes_contents: [Buffer.from('hi'), Buffer.from('there')] })] });
    const data = decodeModelInferRequest(msg).decoded.inputs.s!.data as Buffer[];
    expect(data.map(String)).toEqual(['hi', 'there']);
    expect(data[0]!.buffer).toBe(msg.buffer);
  });

  it('takes a zero-element input without contents', () => {
    const { decoded } = decodeModelInferRequest(pbRequest({ inputs: [input('e', 'FP32', [0, 3]), input('s', 'BYTES', [0])] }));
    expect(decoded.inputs.e!.data).toBeInstanceOf(Float32Array);
    expect((decoded.inputs.e!.data as Float32Array).length).toBe(0);
    expect(decoded.inputs.s!.data).toEqual([]);
  });

  it('refuses FP16 and BF16 in typed contents', () => {
    expect(refusal(pbRequest({ inputs: [input('h', 'FP16', [1], { fp32_contents: [1] })] })).message).toBe(
      "input 'h': FP16 data must be sent in raw_input_contents",
    );
    expect(refusal(pbRequest({ inputs: [input('h', 'BF16', [1], { fp32_contents: [1] })] })).message).toBe("input 'h': BF16 is not supported");
  });

  it('refuses data in another datatype field', () => {
    expect(refusal(pbRequest({ inputs: [input('x', 'INT32', [2], { fp32_contents: [1, 2] })] })).message).toBe(
      "input 'x': INT32 data goes in int_contents, got fp32_contents",
    );
  });

  it('refuses an element count other than the shape', () => {
    expect(refusal(pbRequest({ inputs: [input('x', 'FP32', [2, 2], { fp32_contents: [1, 2, 3] })] })).message).toBe(
      "input 'x': expected 4 elements for shape [2,2], got 3",
    );
    expect(refusal(pbRequest({ inputs: [input('x', 'INT64', [1], { int64_contents: [1, 2] })] })).message).toBe(
      "input 'x': expected 1 elements for shape [1], got 2",
    );
    expect(refusal(pbRequest({ inputs: [input('s', 'BYTES', [3], { bytes_contents: [Buffer.from('a')] })] })).message).toBe(
      "input 's': expected 3 elements for shape [3], got 1",
    );
  });

  it('counts without allocating when the shape claims more elements than the message holds', () => {
    const err = refusal(pbRequest({ inputs: [input('x', 'FP64', [1_000_000, 1_000_000], { fp64_contents: [1, 2] })] }));
    expect(err.message).toBe("input 'x': expected 1000000000000 elements for shape [1000000,1000000], got 2");
  });

  it('refuses values outside the narrow integer types', () => {
    const cases: Array<[DataType, string, number, string]> = [
      ['INT8', 'int_contents', 128, '[-128, 127], got 128'],
      ['INT8', 'int_contents', -129, '[-128, 127], got -129'],
      ['INT16', 'int_contents', 40000, '[-32768, 32767], got 40000'],
      ['UINT8', 'uint_contents', 256, '[0, 255], got 256'],
      ['UINT16', 'uint_contents', 65536, '[0, 65535], got 65536'],
    ];
    for (const [datatype, field, value, range] of cases) {
      expect(refusal(pbRequest({ inputs: [input('x', datatype, [2], { [field]: [0, value] })] })).message).toBe(
        `input 'x': element 1 must be an integer in ${range}`,
      );
    }
  });

  it('refuses an input with neither contents nor raw data', () => {
    expect(refusal(pbRequest({ inputs: [input('x', 'FP32', [2])] })).message).toBe("input 'x': needs 'contents' or raw_input_contents");
  });
});

// ---------------------------------------------------------------------------------------------
// Request: raw_input_contents

const RAW: Array<{ datatype: DataType; data: ArrayBufferView }> = [
  { datatype: 'BOOL', data: new Uint8Array([1, 0, 1]) },
  { datatype: 'UINT8', data: new Uint8Array([0, 200, 255]) },
  { datatype: 'UINT16', data: new Uint16Array([0, 65535, 513]) },
  { datatype: 'UINT32', data: new Uint32Array([0, 4294967295, 70000]) },
  { datatype: 'UINT64', data: new BigUint64Array([0n, 2n ** 64n - 1n, 2n ** 53n + 1n]) },
  { datatype: 'INT8', data: new Int8Array([-128, 0, 127]) },
  { datatype: 'INT16', data: new Int16Array([-32768, 0, 32767]) },
  { datatype: 'INT32', data: new Int32Array([-2147483648, 0, 2147483647]) },
  { datatype: 'INT64', data: new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n]) },
  // FP16 travels as raw half bits: 1.0, a quiet NaN, the smallest negative subnormal.
  { datatype: 'FP16', data: new Uint16Array([0x3c00, 0x7e00, 0x8001]) },
  { datatype: 'FP32', data: Float32Array.from([1.5, NaN, -0]) },
  { datatype: 'FP64', data: Float64Array.from([Math.E, -Infinity, 5e-324]) },
];

describe('ModelInferRequest: raw_input_contents', () => {
  it.each(RAW)('decodes raw $datatype bit-exact, as a view when aligned and a copy otherwise', ({ datatype, data }) => {
    const count = data.byteLength / (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    const raw = bytesOf(data);
    const msg = pbRequest({ model_name: 'm', inputs: [input('x', datatype, [1, count])], raw_input_contents: [raw] });
    const at = msg.indexOf(raw);
    const aligned = placed(msg, at, 0);
    const view = decodeModelInferRequest(aligned).decoded.inputs.x!;
    expect(view.shape).toEqual([1, count]);
    expectData(view.data, data);
    expect((view.data as ArrayBufferView).buffer).toBe(aligned.buffer);
    const misaligned = placed(msg, at, 1);
    const other = decodeModelInferRequest(misaligned).decoded.inputs.x!.data as ArrayBufferView;
    expectData(other, data);
    // One-byte elements are always aligned.
    expect(other.buffer === misaligned.buffer).toBe((data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT === 1);
  });

  it('pairs raw entries with inputs in input order', () => {
    const a = Buffer.from(Int32Array.from([1, 2]).buffer);
    const b = rawBytes(['x', 'yz']);
    const { decoded } = decodeModelInferRequest(
      pbRequest({ inputs: [input('a', 'INT32', [2]), input('b', 'BYTES', [2])], raw_input_contents: [a, b] }),
    );
    expectData(decoded.inputs.a!.data, Int32Array.from([1, 2]));
    expect((decoded.inputs.b!.data as Buffer[]).map(String)).toEqual(['x', 'yz']);
  });

  it('parses raw BYTES: empty elements, zero elements, non-UTF-8 bytes', () => {
    const elements = [Buffer.alloc(0), Buffer.from([0xff, 0x00]), Buffer.alloc(0)];
    const { decoded } = decodeModelInferRequest(
      pbRequest({ inputs: [input('s', 'BYTES', [3]), input('e', 'BYTES', [0, 2])], raw_input_contents: [rawBytes(elements), Buffer.alloc(0)] }),
    );
    expectData(decoded.inputs.s!.data, elements);
    expect(decoded.inputs.e!.data).toEqual([]);
  });

  it('refuses malformed raw BYTES with the HTTP decoder messages', () => {
    const one = (raw: Buffer, shape = [2]) => refusal(pbRequest({ inputs: [input('s', 'BYTES', shape)], raw_input_contents: [raw] })).message;
    expect(one(rawBytes(['a']))).toBe(
      "binary size mismatch: input 's' has 1 BYTES elements in its raw_input_contents size 5, its shape needs 2",
    );
    expect(one(Buffer.from([3, 0, 0, 0, 0x61]), [1])).toBe(
      "binary size mismatch: input 's': BYTES element 0 has length 3, past the end of its raw_input_contents size 5",
    );
    expect(one(Buffer.concat([rawBytes(['a']), Buffer.from([1, 2])]), [1])).toBe(
      "binary size mismatch: input 's' has 2 bytes after its 1 BYTES elements (raw_input_contents size 7)",
    );
    expect(one(Buffer.from([1, 0]), [1])).toBe(
      "binary size mismatch: input 's' has 0 BYTES elements in its raw_input_contents size 2, its shape needs 1",
    );
    // A shape far beyond the data fails on the data, not on allocating an array for it.
    expect(one(rawBytes(['a']), [2 ** 40])).toBe(
      "binary size mismatch: input 's' has 1 BYTES elements in its raw_input_contents size 5, its shape needs 1099511627776",
    );
  });

  it('refuses a raw size that does not match the shape', () => {
    expect(refusal(pbRequest({ inputs: [input('x', 'FP32', [4])], raw_input_contents: [Buffer.alloc(12)] })).message).toBe(
      "binary size mismatch: input 'x' has raw_input_contents size 12 but 4 FP32 elements (shape [4]) take 16 bytes",
    );
  });

  it('refuses BOOL bytes other than 0 and 1', () => {
    expect(refusal(pbRequest({ inputs: [input('b', 'BOOL', [3])], raw_input_contents: [Buffer.from([0, 1, 2])] })).message).toBe(
      "input 'b': BOOL element 2 is byte 2; BOOL bytes must be 0 or 1",
    );
  });

  it('refuses raw data mixed with contents', () => {
    const msg = pbRequest({
      inputs: [input('a', 'INT32', [1]), input('b', 'INT32', [1], { int_contents: [1] })],
      raw_input_contents: [Buffer.alloc(4), Buffer.alloc(4)],
    });
    expect(refusal(msg).message).toBe("input 'b': set only one of 'contents' and raw_input_contents");
  });

  it('refuses a raw entry count other than the input count', () => {
    const msg = pbRequest({ inputs: [input('a', 'INT32', [1]), input('b', 'INT32', [1])], raw_input_contents: [Buffer.alloc(4)] });
    expect(refusal(msg).message).toBe('raw_input_contents has 1 entries for 2 inputs; it needs one per input, in input order');
  });

  it('refuses BF16 even as raw data, as the HTTP decoder does', () => {
    expect(refusal(pbRequest({ inputs: [input('x', 'BF16', [1])], raw_input_contents: [Buffer.alloc(2)] })).message).toBe(
      "input 'x': BF16 is not supported",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Request: the rest of the message

describe('ModelInferRequest: header, parameters, outputs', () => {
  it('decodes what protobufjs encodes: names, id, parameters, outputs', () => {
    const msg = pbRequest({
      model_name: 'resnet',
      model_version: '3',
      id: 'req-1',
      parameters: {
        flag: { bool_param: true },
        small: { int64_param: -42 },
        big: { int64_param: '-9223372036854775808' },
        text: { string_param: 'héllo' },
        ratio: { double_param: 0.25 },
        ubig: { uint64_param: '18446744073709551615' },
        usmall: { uint64_param: 7 },
        priority: { uint64_param: 2 },
        timeout: { int64_param: 5000 },
      },
      inputs: [input('x', 'FP32', [1], { fp32_contents: [1] })],
      outputs: [{ name: 'b', parameters: { binary_data: { bool_param: false } } }, { name: 'a' }],
    });
    const { modelName, modelVersion, decoded } = decodeModelInferRequest(msg);
    expect(modelName).toBe('resnet');
    expect(modelVersion).toBe('3');
    expect(decoded.id).toBe('req-1');
    expect({ ...decoded.parameters }).toEqual({
      flag: true,
      small: -42,
      big: '-9223372036854775808',
      text: 'héllo',
      ratio: 0.25,
      ubig: '18446744073709551615',
      usmall: 7,
      priority: 2,
      timeout: 5000,
    });
    expect(decoded.priority).toBe(2);
    expect(decoded.timeoutUs).toBe(5000);
    // Over gRPC every output is raw: binary is always true.
    expect(decoded.outputs).toEqual([
      { name: 'b', binary: true },
      { name: 'a', binary: true },
    ]);
    expect(decoded.binaryDataOutput).toBe(true);
  });

  it('leaves id, outputs, priority and timeout unset when absent', () => {
    const { modelName, modelVersion, decoded } = decodeModelInferRequest(pbRequest({ model_name: 'm', inputs: [input('x', 'INT8', [1], { int_contents: [1] })] }));
    expect(modelName).toBe('m');
    expect(modelVersion).toBe('');
    expect(decoded).not.toHaveProperty('id');
    expect(decoded).not.toHaveProperty('outputs');
    expect(decoded).not.toHaveProperty('priority');
    expect(decoded).not.toHaveProperty('timeoutUs');
    expect({ ...decoded.parameters }).toEqual({});
  });

  it('keeps a parameter or input named __proto__ as an ordinary key', () => {
    // Hand-built: protobufjs's own map objects would take the key as a prototype.
    const buf = build((w) => {
      nested(w, 4, (e) => {
        tag(e, 1, 2).string('__proto__');
        nested(e, 2, (v) => tag(v, 3, 2).string('x'));
      });
      nested(w, 5, (t) => {
        tensorHeader(t, '__proto__', 'INT8', [1]);
        nested(t, 5, (c) => tag(c, 2, 0).int32(1));
      });
    });
    const { decoded } = decodeModelInferRequest(buf);
    expect(decoded.parameters.__proto__).toBe('x');
    expect(Object.keys(decoded.parameters)).toEqual(['__proto__']);
    expect(Object.keys(decoded.inputs)).toEqual(['__proto__']);
  });

  it('refuses bad priority and timeout parameters', () => {
    const withParam = (key: string, value: Record<string, unknown>) =>
      refusal(pbRequest({ parameters: { [key]: value }, inputs: [input('x', 'INT8', [1], { int_contents: [1] })] })).message;
    expect(withParam('priority', { int64_param: -1 })).toBe("parameter 'priority' must be a non-negative integer, got -1");
    expect(withParam('priority', { string_param: 'high' })).toBe(`parameter 'priority' must be a non-negative integer, got "high"`);
    expect(withParam('timeout', { double_param: 1.5 })).toBe("parameter 'timeout' (microseconds) must be a non-negative integer, got 1.5");
    expect(withParam('timeout', { uint64_param: '18446744073709551615' })).toBe(
      `parameter 'timeout' (microseconds) must be a non-negative integer, got "18446744073709551615"`,
    );
  });

  it('refuses a parameter without a value', () => {
    expect(refusal(pbRequest({ parameters: { empty: {} } })).message).toBe("request parameter 'empty' has no value");
  });

  it('refuses the classification extension and shared memory', () => {
    const x = input('x', 'INT8', [1], { int_contents: [1] });
    expect(refusal(pbRequest({ parameters: { classification: { int64_param: 3 } }, inputs: [x] })).message).toBe(
      'classification extension is not supported',
    );
    expect(refusal(pbRequest({ inputs: [x], outputs: [{ name: 'y', parameters: { classification: { int64_param: 3 } } }] })).message).toBe(
      'classification extension is not supported',
    );
    expect(refusal(pbRequest({ inputs: [x], outputs: [{ name: 'y', parameters: { shared_memory_region: { string_param: 'r' } } }] })).message).toBe(
      "output 'y': shared memory is not supported",
    );
    expect(refusal(pbRequest({ inputs: [{ ...x, parameters: { shared_memory_region: { string_param: 'r' } } }] })).message).toBe(
      "input 'x': shared memory is not supported",
    );
  });

  it('refuses duplicate inputs and outputs', () => {
    const x = input('x', 'INT8', [1], { int_contents: [1] });
    expect(refusal(pbRequest({ inputs: [x, x] })).message).toBe("duplicate input 'x'");
    expect(refusal(pbRequest({ inputs: [x], outputs: [{ name: 'y' }, { name: 'y' }] })).message).toBe("duplicate output 'y'");
  });

  it('refuses negative dims, unknown datatypes and shapes with too many elements', () => {
    expect(refusal(pbRequest({ inputs: [input('x', 'FP32', [2, -1], { fp32_contents: [1, 2] })] })).message).toBe(
      "input 'x': shape must be non-negative integers, got [2,-1]",
    );
    expect(refusal(pbRequest({ inputs: [input('x', 'FP8', [1], { fp32_contents: [1] })] })).message).toBe("input 'x': unknown datatype 'FP8'");
    expect(refusal(pbRequest({ inputs: [input('x', 'FP32', [2 ** 30, 2 ** 30, 2 ** 30])] })).message).toBe(
      "input 'x': shape [1073741824,1073741824,1073741824] has too many elements",
    );
    const beyond = build((w) =>
      nested(w, 5, (t) => {
        tag(t, 1, 2).string('x');
        tag(t, 2, 2).string('FP32');
        tag(t, 3, 0).uint64('18446744073709551615');
      }),
    );
    expect(refusal(beyond).message).toBe("input 'x': shape must be non-negative integers, got [-1]");
  });

  it('reads an unpacked shape', () => {
    const buf = build((w) =>
      nested(w, 5, (t) => {
        tag(t, 1, 2).string('x');
        tag(t, 2, 2).string('UINT8');
        tag(t, 3, 0).int64(2);
        tag(t, 3, 0).int64(1);
        nested(t, 5, (c) => nested(c, 4, (p) => p.uint32(9).uint32(8)));
      }),
    );
    const t = decodeModelInferRequest(buf).decoded.inputs.x!;
    expect(t.shape).toEqual([2, 1]);
    expectData(t.data, new Uint8Array([9, 8]));
  });

  it('skips unknown fields of every wire type at every level (forward compatibility)', () => {
    const unknowns = (w: protobuf.Writer) => {
      tag(w, 90, 0).uint64('18446744073709551615');
      tag(w, 91, 1).fixed64(1);
      nested(w, 92, (n) => n.string('later'));
      tag(w, 93, 5).fixed32(7);
      tag(w, 94, 3); // a group with a field inside
      tag(w, 1, 0).uint32(5);
      tag(w, 94, 4);
    };
    const buf = build((w) => {
      unknowns(w);
      tag(w, 1, 2).string('m');
      nested(w, 4, (e) => {
        tag(e, 1, 2).string('k');
        unknowns(e);
        nested(e, 2, (v) => {
          unknowns(v);
          tag(v, 3, 2).string('v');
        });
      });
      nested(w, 5, (t) => {
        unknowns(t);
        tensorHeader(t, 'x', 'INT32', [2]);
        nested(t, 5, (c) => {
          nested(c, 2, (p) => p.int32(1));
          unknowns(c);
          tag(c, 2, 0).int32(2);
        });
      });
      nested(w, 6, (o) => {
        tag(o, 1, 2).string('y');
        unknowns(o);
      });
      unknowns(w);
    });
    const { modelName, decoded } = decodeModelInferRequest(buf);
    expect(modelName).toBe('m');
    expect({ ...decoded.parameters }).toEqual({ k: 'v' });
    expectData(decoded.inputs.x!.data, new Int32Array([1, 2]));
    expect(decoded.outputs).toEqual([{ name: 'y', binary: true }]);
  });

  it('refuses malformed protobuf', () => {
    // Cut anywhere inside the inputs field (a cut between fields is a valid, shorter message).
    const good = pbRequest({ model_name: 'model', inputs: [input('x', 'FP32', [2], { fp32_contents: [1, 2] })] });
    const inputsAt = 2 + 'model'.length;
    for (let cut = inputsAt + 1; cut < good.length; cut++) {
      expect(refusal(good.subarray(0, cut)).message).toMatch(/^malformed protobuf message: /);
    }
    expect(refusal(Buffer.from([0x0a, 0x05, 0x61])).message).toBe('malformed protobuf message: length 5 runs past the end of its message at byte 1');
    expect(refusal(Buffer.from([0x0f])).message).toBe('malformed protobuf message: wire type 7 at byte 1');
    expect(refusal(Buffer.from([0x00, 0x00])).message).toMatch(/field number 0/);
    expect(refusal(Buffer.from([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).message).toMatch(/varint longer than 10 bytes/);
  });
});

// ---------------------------------------------------------------------------------------------
// Response

function out<D extends DataType>(datatype: D, shape: number[], data: Extract<OutputTensor, { datatype: D }>['data']): OutputTensor {
  return { datatype, shape, data } as OutputTensor;
}

const ALL_OUTPUTS: InferOutputs = {
  bool: out('BOOL', [3], new Uint8Array([1, 0, 1])),
  u8: out('UINT8', [2], new Uint8Array([0, 255])),
  u16: out('UINT16', [2], new Uint16Array([1, 65535])),
  u32: out('UINT32', [1], new Uint32Array([4294967295])),
  u64: out('UINT64', [1], new BigUint64Array([2n ** 64n - 1n])),
  i8: out('INT8', [2], new Int8Array([-128, 127])),
  i16: out('INT16', [1], new Int16Array([-32768])),
  i32: out('INT32', [2, 1], new Int32Array([-1, 2147483647])),
  i64: out('INT64', [1], new BigInt64Array([-(2n ** 63n)])),
  f16: out('FP16', [2], new Uint16Array([0x3c00, 0xfc00])),
  f32: out('FP32', [2], Float32Array.from([NaN, -0])),
  f64: out('FP64', [], Float64Array.from([Math.PI])),
  s: out('BYTES', [3], [Buffer.from('abc'), Buffer.alloc(0), Buffer.from([0xff])]),
  empty: out('FP32', [0, 4], new Float32Array(0)),
};

interface PbResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, Record<string, unknown>>;
  outputs: Array<{ name: string; datatype: string; shape: string[] }>;
  raw_output_contents: Buffer[];
}

function pbResponse(buf: Uint8Array): PbResponse {
  return ResponseType.toObject(ResponseType.decode(buf), { longs: String, defaults: true }) as PbResponse;
}

function args(over: Partial<GrpcResponseArgs> = {}): GrpcResponseArgs {
  return { modelName: 'm', modelVersion: '1', outputs: ALL_OUTPUTS, order: Object.keys(ALL_OUTPUTS), ...over };
}

describe('ModelInferResponse encoding', () => {
  it('puts every output in raw_output_contents, bit-exact, and protobufjs reads it', () => {
    const buf = encodeModelInferResponse(args({ id: 'req-9' }));
    const r = pbResponse(buf);
    expect(r.model_name).toBe('m');
    expect(r.model_version).toBe('1');
    expect(r.id).toBe('req-9');
    const names = Object.keys(ALL_OUTPUTS);
    expect(r.outputs.map((o) => o.name)).toEqual(names);
    expect(r.raw_output_contents).toHaveLength(names.length);
    names.forEach((name, i) => {
      const t = ALL_OUTPUTS[name]!;
      expect(r.outputs[i]).toMatchObject({ datatype: t.datatype, shape: t.shape.map(String) });
      const expected = t.datatype === 'BYTES' ? rawBytes(t.data) : bytesOf(t.data);
      expect(Buffer.from(r.raw_output_contents[i]!).toString('hex')).toBe(expected.toString('hex'));
    });
  });

  it('writes non-ASCII and long names exactly', () => {
    const long = 'n'.repeat(200);
    const outputs = { 'sortie·é': ALL_OUTPUTS.u8!, [long]: ALL_OUTPUTS.i8! };
    const r = pbResponse(encodeModelInferResponse({ modelName: 'modèle', modelVersion: '1', id: '請求', outputs, order: [] }));
    expect(r).toMatchObject({ model_name: 'modèle', id: '請求' });
    expect(r.outputs.map((o) => o.name)).toEqual(['sortie·é', long]);
  });

  it('omits an empty id, as Triton', () => {
    expect(pbResponse(encodeModelInferResponse(args({ id: '' }))).id).toBe('');
    expect(encodeModelInferResponse(args({ id: '' })).equals(encodeModelInferResponse(args()))).toBe(true);
  });

  it('orders outputs as the HTTP encoder: requested order, else model order then the rest', () => {
    const outputs = { a: ALL_OUTPUTS.u8!, b: ALL_OUTPUTS.f32!, c: ALL_OUTPUTS.s! };
    const names = (a: GrpcResponseArgs) => pbResponse(encodeModelInferResponse(a)).outputs.map((o) => o.name);
    expect(names(args({ outputs, order: ['c', 'a', 'b'] }))).toEqual(['c', 'a', 'b']);
    expect(names(args({ outputs, order: ['b'] }))).toEqual(['b', 'a', 'c']);
    expect(
      names(args({ outputs, order: ['a', 'b', 'c'], requested: [{ name: 'c', binary: true }, { name: 'a', binary: false }] })),
    ).toEqual(['c', 'a']);
    let err: unknown;
    try {
      encodeModelInferResponse(args({ outputs, order: [], requested: [{ name: 'zz', binary: true }] }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).status).toBe(500);
  });

  it('writes response parameters of every kind', () => {
    const r = pbResponse(
      encodeModelInferResponse(
        args({ parameters: { yes: true, no: false, n: 3, neg: -5, zero: 0, big: 2 ** 60, frac: 2.5, text: 'é', empty: '' } }),
      ),
    );
    expect(r.parameters).toEqual({
      yes: { bool_param: true },
      no: { bool_param: false },
      n: { int64_param: '3' },
      neg: { int64_param: '-5' },
      zero: { int64_param: '0' },
      big: { double_param: 2 ** 60 },
      frac: { double_param: 2.5 },
      text: { string_param: 'é' },
      empty: { string_param: '' },
    });
  });

  it('writes negative and large shape dims as int64', () => {
    const outputs = { x: out('UINT8', [0, 2 ** 40, 300], new Uint8Array(0)) };
    expect(pbResponse(encodeModelInferResponse(args({ outputs, order: ['x'] }))).outputs[0]!.shape).toEqual(['0', '1099511627776', '300']);
  });

  it('encodes an empty response (no outputs)', () => {
    const r = pbResponse(encodeModelInferResponse({ modelName: 'm', modelVersion: '', outputs: {}, order: [] }));
    expect(r).toMatchObject({ model_name: 'm', model_version: '', outputs: [], raw_output_contents: [] });
  });

  it('round-trips a request decoded by the codec into a response protobufjs reads', () => {
    const values = Float32Array.from([1, 2, 3, 4]);
    const { decoded } = decodeModelInferRequest(
      pbRequest({ model_name: 'echo', id: 'r', inputs: [input('x', 'FP32', [2, 2])], outputs: [{ name: 'x' }], raw_input_contents: [bytesOf(values)] }),
    );
    const x = decoded.inputs.x!;
    const buf = encodeModelInferResponse({
      modelName: 'echo',
      modelVersion: '1',
      id: decoded.id!,
      outputs: { x: { datatype: 'FP32', shape: [...x.shape], data: x.data as Float32Array } },
      requested: decoded.outputs!,
      order: ['x'],
    });
    const r = pbResponse(buf);
    expect(r.outputs).toEqual([{ name: 'x', datatype: 'FP32', shape: ['2', '2'], parameters: {}, contents: null }]);
    expect(new Float32Array(new Uint8Array(r.raw_output_contents[0]!).buffer)).toEqual(values);
  });
});

describe('ModelStreamInferResponse encoding', () => {
  it('wraps a response; the direct encoder gives the same bytes', () => {
    const infer = encodeModelInferResponse(args({ id: 's1' }));
    const wrapped = encodeStreamResponse(infer, undefined);
    expect(encodeStreamInferResponse(args({ id: 's1' })).equals(wrapped)).toBe(true);
    const s = StreamType.toObject(StreamType.decode(wrapped), { defaults: true }) as { error_message: string; infer_response: Record<string, unknown> };
    expect(s.error_message).toBe('');
    expect(s.infer_response).toMatchObject({ model_name: 'm', id: 's1' });
  });

  it('carries an error message without a response', () => {
    const s = StreamType.toObject(StreamType.decode(encodeStreamResponse(undefined, "input 'x': boom")), { defaults: true });
    expect(s).toEqual({ error_message: "input 'x': boom", infer_response: null });
  });

  it('keeps an empty response present', () => {
    const s = StreamType.toObject(StreamType.decode(encodeStreamResponse(Buffer.alloc(0), undefined)), { defaults: true });
    expect(s.infer_response).not.toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// Wire primitives

describe('wire primitives', () => {
  it('writes varints and int64s that protobufjs reads, sized exactly', () => {
    const values = [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -(2 ** 31), -(2 ** 53 - 1)];
    for (const v of values) {
      const w = new Writer(Buffer.alloc(int64Size(v)));
      w.int64(v);
      expect(w.pos).toBe(w.buf.length);
      expect(protobuf.Reader.create(w.buf).int64().toString()).toBe(String(v));
      expect(new Reader(w.buf).int64(false)).toBe(v);
      if (v >= 0) expect(varintSize(v)).toBe(protobuf.Writer.create().uint64(v).finish().length);
    }
  });

  it('reads 64-bit varints beyond 2^53 as exact decimal strings', () => {
    const buf = Buffer.from(protobuf.Writer.create().int64('-9223372036854775807').uint64('18446744073709551615').uint64('9007199254740993').finish());
    const r = new Reader(buf);
    expect(r.int64(false)).toBe('-9223372036854775807');
    expect(r.int64(true)).toBe('18446744073709551615');
    expect(r.int64(true)).toBe('9007199254740993');
  });
});

// ---------------------------------------------------------------------------------------------
// Control-plane messages (protobufjs)

function nativeStats(): NativeModelStats {
  const d = (count: number, ns: number) => ({ count, ns });
  return {
    pending: 0,
    inferenceCount: 10,
    executionCount: 4,
    lastInferenceMs: 1_700_000_000_000,
    success: d(10, 5_000),
    fail: d(1, 100),
    failures: { queueFull: 0, timeout: 0, cancelled: 0, unavailable: 0, invalid: 1, backend: 0 },
    queue: d(10, 700),
    computeInput: d(4, 40),
    computeInfer: d(4, 4_000),
    computeOutput: d(4, 30),
    batches: [{ batchSize: 2, executions: 3, computeInput: d(3, 30), computeInfer: d(3, 3_000), computeOutput: d(3, 20) }],
    histograms: { request: [], queue: [], compute: [] },
  };
}

describe('control-plane messages', () => {
  it('round-trips the request messages', () => {
    for (const codec of [messages.ModelReadyRequest, messages.ModelMetadataRequest, messages.ModelConfigRequest, messages.ModelStatisticsRequest]) {
      expect(codec.decode(codec.encode({ name: 'm', version: '2' }))).toEqual({ name: 'm', version: '2' });
      expect(codec.decode(Buffer.alloc(0))).toEqual({ name: '', version: '' });
    }
    expect(messages.ServerLiveRequest.decode(Buffer.alloc(0))).toEqual({});
    expect(messages.RepositoryIndexRequest.decode(messages.RepositoryIndexRequest.encode({ ready: true }))).toEqual({ repository_name: '', ready: true });
    expect(messages.HealthCheckRequest.decode(messages.HealthCheckRequest.encode({ service: 'inference.GRPCInferenceService' }))).toEqual({
      service: 'inference.GRPCInferenceService',
    });
  });

  it('encodes the health and readiness answers', () => {
    expect(messages.ServerLiveResponse.decode(messages.ServerLiveResponse.encode({ live: true }))).toEqual({ live: true });
    expect(messages.ServerReadyResponse.decode(messages.ServerReadyResponse.encode({ ready: false }))).toEqual({ ready: false });
    expect(messages.ModelReadyResponse.decode(messages.ModelReadyResponse.encode({ ready: true }))).toEqual({ ready: true });
    expect(messages.HealthCheckResponse.decode(messages.HealthCheckResponse.encode({ status: 'NOT_SERVING' }))).toEqual({ status: 'NOT_SERVING' });
    // SERVING = 1 on the wire.
    expect(messages.HealthCheckResponse.encode({ status: 'SERVING' }).toString('hex')).toBe('0801');
  });

  it("uses Triton's numbering for RepositoryModelLoad (model_name = 2), not KServe's", () => {
    const bytes = messages.RepositoryModelLoadRequest.encode({ model_name: 'm' });
    expect(bytes.toString('hex')).toBe('12016d');
    const request = messages.RepositoryModelLoadRequest.decode(
      messages.RepositoryModelLoadRequest.encode({
        model_name: 'm',
        parameters: {
          config: { string_param: '{"max_batch_size":4}' },
          'file:1/model.onnx': { bytes_param: Buffer.from([1, 2]) },
          flag: { bool_param: false },
          n: { int64_param: 5 },
          huge: { int64_param: '-9223372036854775808' },
        },
      }),
    );
    expect(request.model_name).toBe('m');
    expect(repositoryParameters(request.parameters)).toEqual({
      config: '{"max_batch_size":4}',
      'file:1/model.onnx': Buffer.from([1, 2]),
      flag: false,
      n: 5,
      huge: '-9223372036854775808',
    });
    expect(messages.RepositoryModelUnloadRequest.decode(messages.RepositoryModelUnloadRequest.encode({ repository_name: 'r', model_name: 'm' }))).toEqual({
      repository_name: 'r',
      model_name: 'm',
      parameters: {},
    });
    expect(messages.RepositoryModelLoadResponse.encode({}).length).toBe(0);
  });

  it("encodes the metadata builders' output as it is", () => {
    const server = messages.ServerMetadataResponse.decode(messages.ServerMetadataResponse.encode(serverMetadata('0.1.0', ['statistics', 'model_repository'])));
    expect(server).toEqual({ name: 'tensorgate', version: '0.1.0', extensions: ['statistics', 'model_repository'] });
    const tensor = (name: string, datatype: DataType, shape: number[]) => ({ name, datatype, shape });
    const meta = modelMetadata('m', ['1', '2'], [tensor('x', 'FP32', [-1, 3])], [tensor('y', 'INT64', [-1])]);
    expect(messages.ModelMetadataResponse.decode(messages.ModelMetadataResponse.encode(meta))).toEqual({
      name: 'm',
      versions: ['1', '2'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'x', datatype: 'FP32', shape: ['-1', '3'] }],
      outputs: [{ name: 'y', datatype: 'INT64', shape: ['-1'] }],
    });
    const index = repositoryIndex([{ name: 'a', version: '1', state: 'READY' }, { name: 'b', state: 'UNAVAILABLE', reason: 'unloaded' }]);
    expect(messages.RepositoryIndexResponse.decode(messages.RepositoryIndexResponse.encode({ models: index }))).toEqual({
      models: [
        { name: 'a', version: '1', state: 'READY', reason: '' },
        { name: 'b', version: '', state: 'UNAVAILABLE', reason: 'unloaded' },
      ],
    });
  });

  it('encodes statistics in the shape modelStatistics builds, 64-bit counters exact', () => {
    const stats = modelStatistics([{ name: 'm', version: '1', stats: nativeStats(), cache: { hits: { count: 2, ns: 20 }, misses: { count: 8, ns: 80 } } }]);
    const decoded = messages.ModelStatisticsResponse.decode(messages.ModelStatisticsResponse.encode(stats));
    const s = decoded.model_stats[0]!;
    expect(s).toMatchObject({ name: 'm', version: '1', last_inference: '1700000000000', inference_count: '10', execution_count: '4' });
    expect(s.inference_stats).toMatchObject({ success: { count: '12', ns: '5020' }, queue: { count: '12', ns: '700' }, cache_hit: { count: '2', ns: '20' } });
    expect(s.batch_stats).toEqual([
      { batch_size: '2', compute_input: { count: '3', ns: '30' }, compute_infer: { count: '3', ns: '3000' }, compute_output: { count: '3', ns: '20' } },
    ]);
    expect(s.memory_usage).toEqual([]);
    expect(s.response_stats).toEqual({});
    const big = messages.ModelStatisticsResponse.encode({ model_stats: [{ inference_stats: { compute_infer: { ns: '18446744073709551615' } } }] });
    expect(messages.ModelStatisticsResponse.decode(big).model_stats[0]!.inference_stats!.compute_infer!.ns).toBe('18446744073709551615');
  });
});

describe('modelConfigToProto', () => {
  /** A config as a user writes it (every section tensorgate reads), then completed from the model as GET .../config reports it. */
  function realisticConfig(): Record<string, unknown> {
    const config = modelConfigSchema.parse({
      name: 'classifier',
      max_batch_size: 8,
      input: [{ name: 'image', data_type: 'TYPE_FP32', dims: [3, -1, -1], allow_ragged_batch: false, optional: false }],
      output: [{ name: 'probs', data_type: 'TYPE_FP32', dims: [1000] }],
      dynamic_batching: {
        preferred_batch_size: [4, 8],
        max_queue_delay_microseconds: '100',
        preserve_ordering: true,
        priority_levels: 2,
        default_priority_level: 2,
        default_queue_policy: { timeout_action: 'DELAY', default_timeout_microseconds: 5000, allow_timeout_override: true, max_queue_size: 16 },
        priority_queue_policy: { '1': { max_queue_size: 4 } },
      },
      instance_group: [{ name: 'gpu', kind: 'KIND_GPU', count: 2, gpus: [1] }],
      version_policy: { specific: { versions: [1, '3'] } },
      model_warmup: [{ name: 'zeros', batch_size: 2, inputs: { image: { data_type: 'TYPE_FP32', dims: [3, 224, 224], zero_data: true } }, count: 1 }],
      response_cache: { enable: true, ttl_s: 60 },
      optimization: {
        graph: { level: 1 },
        execution_accelerators: { gpu_execution_accelerator: [{ name: 'tensorrt', parameters: { precision_mode: 'FP16' } }] },
      },
      parameters: { intra_op_thread_count: { string_value: '2' } },
    });
    const tensor = (name: string, shape: number[]) => ({ name, datatype: 'FP32' as const, shape, dimNames: shape.map(() => null) });
    const metadata = {
      inputs: [tensor('image', [-1, 3, -1, -1])],
      outputs: [tensor('probs', [-1, 1000])],
      providers: [],
      maxBatchSize: 8,
      dynamicBatching: true,
      producer: '',
      graphName: '',
      domain: '',
      description: '',
      customMetadata: {},
    } satisfies ModelMetadata;
    return effectiveConfig('classifier', config, metadata, ONNX_BACKEND);
  }

  it('turns an effective config into a ModelConfig that survives the wire, unknown keys dropped', () => {
    const effective = realisticConfig();
    const proto = modelConfigToProto(effective);
    const decoded = messages.ModelConfigResponse.decode(messages.ModelConfigResponse.encode({ config: proto })).config!;
    expect(decoded).toMatchObject({
      name: 'classifier',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 8,
      input: [{ name: 'image', data_type: 'TYPE_FP32', dims: ['3', '-1', '-1'], format: 'FORMAT_NONE' }],
      output: [{ name: 'probs', data_type: 'TYPE_FP32', dims: ['1000'] }],
      dynamic_batching: {
        preferred_batch_size: [4, 8],
        max_queue_delay_microseconds: '100',
        preserve_ordering: true,
        priority_levels: '2',
        default_priority_level: '2',
        default_queue_policy: { timeout_action: 'DELAY', default_timeout_microseconds: '5000', allow_timeout_override: true, max_queue_size: 16 },
        priority_queue_policy: { '1': { timeout_action: 'REJECT', max_queue_size: 4 } },
      },
      instance_group: [{ name: 'gpu', kind: 'KIND_GPU', count: 2, gpus: [1] }],
      version_policy: { specific: { versions: ['1', '3'] } },
      model_warmup: [{ name: 'zeros', batch_size: 2, count: 1, inputs: { image: { data_type: 'TYPE_FP32', dims: ['3', '224', '224'], zero_data: true } } }],
      response_cache: { enable: true },
      optimization: {
        graph: { level: 1 },
        execution_accelerators: { gpu_execution_accelerator: [{ name: 'tensorrt', parameters: { precision_mode: 'FP16' } }], cpu_execution_accelerator: [] },
      },
      parameters: { intra_op_thread_count: { string_value: '2' } },
      default_model_filename: 'model.onnx',
    });
    // tensorgate's own key (ttl_s) is not part of Triton's message.
    expect(decoded.response_cache).toEqual({ enable: true });
    expect(decoded.version_policy).toEqual({ specific: { versions: ['1', '3'] } });
    expect(decoded).not.toHaveProperty('ensemble_scheduling');
    // The config as JSON and as protobuf agree on every key the proto declares.
    expect(proto).toMatchObject({ name: 'classifier', dynamic_batching: { priority_queue_policy: { '1': { max_queue_size: 4 } } } });
    expect(proto).not.toHaveProperty('response_cache.ttl_s');
  });

  it('encodes ensemble scheduling, latest/all version policies and int64 strings', () => {
    const proto = modelConfigToProto({
      name: 'pipeline',
      platform: 'ensemble',
      max_batch_size: '4',
      version_policy: { all: {} },
      ensemble_scheduling: {
        step: [
          { model_name: 'pre', model_version: -1, input_map: { in: 'RAW' }, output_map: { out: 'tensor' } },
          { model_name: 'net', model_version: '2', input_map: { x: 'tensor' }, output_map: { y: 'OUT' } },
        ],
      },
      not_a_field: { anything: true },
    });
    const decoded = messages.ModelConfigResponse.decode(messages.ModelConfigResponse.encode({ config: proto })).config!;
    expect(decoded).toMatchObject({
      name: 'pipeline',
      platform: 'ensemble',
      max_batch_size: 4,
      version_policy: { all: {} },
      ensemble_scheduling: {
        step: [
          { model_name: 'pre', model_version: '-1', input_map: { in: 'RAW' }, output_map: { out: 'tensor' } },
          { model_name: 'net', model_version: '2', input_map: { x: 'tensor' }, output_map: { y: 'OUT' } },
        ],
      },
    });
    expect(decoded).not.toHaveProperty('not_a_field');
    expect(modelConfigToProto({ version_policy: { latest: { num_versions: 2 } } })).toEqual({ version_policy: { latest: { num_versions: 2 } } });
  });

  it('refuses a declared field of the wrong shape', () => {
    expect(() => modelConfigToProto({ input: [{ name: 'x', dims: 3 }] })).toThrow(TypeError);
  });
});
