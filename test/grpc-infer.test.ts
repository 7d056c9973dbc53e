// ModelInfer over a real port: every datatype through typed contents and through
// raw_input_contents, bit for bit; several inputs and requested outputs; the same outputs as the HTTP
// front for every example model; the response cache answering repeated gRPC requests.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataType } from '../src/engine/datatype.js';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel, tinyModel } from '../src/onnx/models.js';
import { EXAMPLE_MODELS } from '../src/tools/make-example-models.js';
import { EXAMPLES_DIR } from './global-setup.js';
import { makeRepository } from './helpers/fixtures.js';
import { bytesOf, decodeStreamResponse, encodeInferRequest, expectStatus, f32, outputsOf } from './helpers/grpc-client.js';
import { serveGrpc, type GrpcTestServer } from './helpers/grpc-server.js';
import { binaryBody, decodeInferResponse, encodeBytes, get, post, sumDiffModel } from './helpers/http-server.js';

const ELEM: Record<DataType, ElemType> = {
  BOOL: ElemType.BOOL, UINT8: ElemType.UINT8, UINT16: ElemType.UINT16, UINT32: ElemType.UINT32, UINT64: ElemType.UINT64,
  INT8: ElemType.INT8, INT16: ElemType.INT16, INT32: ElemType.INT32, INT64: ElemType.INT64,
  FP16: ElemType.FLOAT16, FP32: ElemType.FLOAT, FP64: ElemType.DOUBLE, BYTES: ElemType.STRING,
};
const DATATYPES = Object.keys(ELEM) as DataType[];
const idName = (dt: DataType) => `id_${dt.toLowerCase()}`;

const BYTES_ELEMENTS = [Buffer.from('abc'), Buffer.alloc(0), Buffer.from([0xff, 0x00, 0xfe]), Buffer.from('héllo ✓'), Buffer.alloc(300, 7), Buffer.from('z')];

/** Typed contents (shape [2, 3]) and the raw bytes each must come back as. FP16 has no contents field. */
const TYPED: Record<Exclude<DataType, 'FP16'>, { contents: object; expected: Buffer }> = {
  BOOL: { contents: { bool_contents: [true, false, true, false, false, true] }, expected: bytesOf(Uint8Array.of(1, 0, 1, 0, 0, 1)) },
  UINT8: { contents: { uint_contents: [0, 1, 127, 128, 254, 255] }, expected: bytesOf(Uint8Array.of(0, 1, 127, 128, 254, 255)) },
  UINT16: { contents: { uint_contents: [0, 1, 32767, 32768, 65534, 65535] }, expected: bytesOf(Uint16Array.of(0, 1, 32767, 32768, 65534, 65535)) },
  UINT32: { contents: { uint_contents: [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1] }, expected: bytesOf(Uint32Array.of(0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1)) },
  UINT64: {
    contents: { uint64_contents: ['0', '1', '9007199254740993', '9223372036854775808', '18446744073709551614', '18446744073709551615'] },
    expected: bytesOf(BigUint64Array.of(0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n)),
  },
  INT8: { contents: { int_contents: [-128, -127, -1, 0, 1, 127] }, expected: bytesOf(Int8Array.of(-128, -127, -1, 0, 1, 127)) },
  INT16: { contents: { int_contents: [-32768, -32767, -1, 0, 1, 32767] }, expected: bytesOf(Int16Array.of(-32768, -32767, -1, 0, 1, 32767)) },
  INT32: { contents: { int_contents: [-(2 ** 31), -(2 ** 31) + 1, -1, 0, 1, 2 ** 31 - 1] }, expected: bytesOf(Int32Array.of(-(2 ** 31), -(2 ** 31) + 1, -1, 0, 1, 2 ** 31 - 1)) },
  INT64: {
    contents: { int64_contents: ['-9223372036854775808', '-9007199254740993', '-1', '0', '9007199254740993', '9223372036854775807'] },
    expected: bytesOf(BigInt64Array.of(-(2n ** 63n), -(2n ** 53n) - 1n, -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n)),
  },
  FP32: { contents: { fp32_contents: [1.5, -0.25, 3.4028234663852886e38, 2 ** -149, NaN, -0] }, expected: bytesOf(Float32Array.of(1.5, -0.25, 3.4028234663852886e38, 2 ** -149, NaN, -0)) },
  FP64: { contents: { fp64_contents: [0.1, -1e300, 5e-324, Number.MAX_VALUE, NaN, 1 / 3] }, expected: bytesOf(Float64Array.of(0.1, -1e300, 5e-324, Number.MAX_VALUE, NaN, 1 / 3)) },
  BYTES: { contents: { bytes_contents: BYTES_ELEMENTS }, expected: encodeBytes(BYTES_ELEMENTS) },
};

const f32bits = (...bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
const f64bits = (...bits: bigint[]) => new Float64Array(BigUint64Array.from(bits).buffer);

/** Raw bytes sent (6 elements): edge values, NaN payloads included (bytes must come back as they are). */
const RAW: Record<DataType, Buffer> = {
  BOOL: bytesOf(Uint8Array.of(0, 1, 1, 0, 1, 0)),
  UINT8: bytesOf(Uint8Array.of(0, 1, 127, 128, 254, 255)),
  UINT16: bytesOf(Uint16Array.of(0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff)),
  UINT32: bytesOf(Uint32Array.of(0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff)),
  UINT64: bytesOf(BigUint64Array.of(0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n)),
  INT8: bytesOf(Int8Array.of(-128, -127, -1, 0, 1, 127)),
  INT16: bytesOf(Int16Array.of(-32768, -32767, -1, 0, 1, 32767)),
  INT32: bytesOf(Int32Array.of(-(2 ** 31), -(2 ** 31) + 1, -1, 0, 1, 2 ** 31 - 1)),
  INT64: bytesOf(BigInt64Array.of(-(2n ** 63n), -(2n ** 53n) - 1n, -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n)),
  FP16: bytesOf(Uint16Array.of(0x8000, 0x0001, 0x7bff, 0x7c00, 0x7e00, 0xfc01)),
  FP32: bytesOf(f32bits(0x80000000, 0x00000001, 0x7f7fffff, 0xff800000, 0x7fa00001, 0xffc12345)),
  FP64: bytesOf(f64bits(0x8000000000000000n, 0x1n, 0x7fefffffffffffffn, 0xfff0000000000000n, 0x7ff4000000000001n, 0xfff8deadbeef0001n)),
  BYTES: encodeBytes(BYTES_ELEMENTS),
};

const repo = makeRepository({
  ...Object.fromEntries(DATATYPES.map((dt) => [idName(dt), { bytes: identityModel(ELEM[dt], ['batch', 3]) }])),
  sumdiff: { bytes: sumDiffModel() },
  big: { bytes: identityModel(ElemType.FLOAT, ['batch', 'n']) },
  cached: { bytes: tinyModel(), config: { response_cache: { enable: true } } },
});

describe('gRPC ModelInfer', () => {
  let server: GrpcTestServer;
  beforeAll(async () => {
    server = await serveGrpc({ modelRepository: repo, cache: ['local,size=16MiB'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each(Object.keys(TYPED) as Array<keyof typeof TYPED>)('%s through typed contents', async (dt) => {
    const r = await server.client.infer({ model_name: idName(dt), inputs: [{ name: 'x', datatype: dt, shape: [2, 3], contents: TYPED[dt].contents }] });
    expect(r).toMatchObject({ model_name: idName(dt), model_version: '1', id: '' });
    const y = outputsOf(r).y!;
    expect([y.datatype, y.shape]).toEqual([dt, [2, 3]]);
    expect(y.raw.equals(TYPED[dt].expected), y.raw.toString('hex')).toBe(true);
  });

  it.each(DATATYPES)('%s through raw_input_contents, bit for bit', async (dt) => {
    const r = await server.client.infer({ model_name: idName(dt), id: dt, inputs: [{ name: 'x', datatype: dt, shape: [2, 3] }], raw_input_contents: [RAW[dt]] });
    const y = outputsOf(r).y!;
    expect([r.id, y.datatype, y.shape]).toEqual([dt, dt, [2, 3]]);
    expect(y.raw.equals(RAW[dt]), y.raw.toString('hex')).toBe(true);
  });

  it('FP16 travels raw only: typed contents are INVALID_ARGUMENT', async () => {
    const request = { model_name: 'id_fp16', inputs: [{ name: 'x', datatype: 'FP16', shape: [1, 3], contents: { fp32_contents: [1, 2, 3] } }] };
    await expectStatus(server.client.infer(request), status.INVALID_ARGUMENT, "input 'x': FP16 data must be sent in raw_input_contents");
  });

  it('two inputs, the outputs asked for in the order asked, an explicit version', async () => {
    const a = [1, 2, 3, 4, 5, 6];
    const b = [10, 20, 30, 40, 50, 60];
    const inputs = [
      { name: 'a', datatype: 'FP32', shape: [2, 3], contents: { fp32_contents: a } },
      { name: 'b', datatype: 'FP32', shape: [2, 3], contents: { fp32_contents: b } },
    ];
    const all = outputsOf(await server.client.infer({ model_name: 'sumdiff', model_version: '1', inputs }));
    expect(Object.keys(all)).toEqual(['sum', 'diff']);
    expect(f32(all.sum!.raw)).toEqual([11, 22, 33, 44, 55, 66]);
    const r = await server.client.infer({ model_name: 'sumdiff', inputs, outputs: [{ name: 'diff' }] });
    expect(r.outputs.map((o: any) => o.name)).toEqual(['diff']);
    expect(f32(outputsOf(r).diff!.raw)).toEqual([-9, -18, -27, -36, -45, -54]);
    await expectStatus(server.client.infer({ model_name: 'sumdiff', model_version: '7', inputs }), status.NOT_FOUND, /version 7/);
  });

  it('carries tensors far above grpc-js\'s 4MiB default (the default limit is 64MiB)', async () => {
    const n = 3 * 1024 * 1024; // 12 MiB each way
    const data = bytesOf(Float32Array.from({ length: n }, (_, i) => i));
    const r = await server.client.infer({ model_name: 'big', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, n] }], raw_input_contents: [data] });
    expect(outputsOf(r).y!.raw.equals(data)).toBe(true);
  });

  it('a caching model answers a repeated request from the reply tier; HTTP and streams never get a gRPC reply', async () => {
    const model = server.model('cached');
    const before = model.stats().inferenceCount;
    const request = { model_name: 'cached', id: 'c', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16], contents: { fp32_contents: new Array(16).fill(2) } }] };
    const first = await server.client.raw('ModelInfer', encodeInferRequest(request));
    const second = await server.client.raw('ModelInfer', encodeInferRequest(request));
    expect(second.equals(first)).toBe(true);
    expect(model.stats().inferenceCount).toBe(before + 1);
    const hits = async () => Number((await server.client.unary('ModelStatistics', { name: 'cached' })).model_stats[0].inference_stats.cache_hit.count);
    expect(await hits()).toBe(1);
    // The same inputs over HTTP: its own JSON reply (outputs from the tensor tier), not the gRPC bytes.
    const http = await post(server.httpPort, '/v2/models/cached/infer', { id: 'c', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16], data: new Array(16).fill(2) }] });
    expect(http.json()).toMatchObject({ id: 'c', outputs: [{ name: 'y', data: new Array(16).fill(3) }] });
    // And on a stream: a ModelStreamInferResponse, not the unary message.
    const stream = server.client.stream();
    const answer = new Promise<Buffer>((resolve) => stream.once('data', resolve));
    stream.write(encodeInferRequest(request));
    stream.end();
    const streamed = decodeStreamResponse(await answer);
    expect(streamed.error_message).toBe('');
    expect(f32(outputsOf(streamed.infer_response).y!.raw)).toEqual(new Array(16).fill(3));
    expect(model.stats().inferenceCount).toBe(before + 1);
    expect(await hits()).toBe(3);
  });
});

describe('gRPC and HTTP give the same outputs for every example model', () => {
  let server: GrpcTestServer;
  beforeAll(async () => {
    server = await serveGrpc({ modelRepository: EXAMPLES_DIR });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it.each(Object.keys(EXAMPLE_MODELS))('%s', async (name) => {
    const meta = (await get(server.httpPort, `/v2/models/${name}`)).json();
    const inputs = meta.inputs.map((input: any, k: number) => {
      const shape = input.shape.map((d: number, i: number) => (d >= 0 ? d : i === 0 ? 3 : 5));
      const n = shape.reduce((p: number, d: number) => p * d, 1);
      const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k) * 2);
      expect(input.datatype).toBe('FP32');
      return { name: input.name, shape, data: bytesOf(data) };
    });
    const header = { inputs: inputs.map((i: any) => ({ name: i.name, datatype: 'FP32', shape: i.shape, parameters: { binary_data_size: i.data.length } })), parameters: { binary_data_output: true } };
    const body = binaryBody(header, inputs.map((i: any) => i.data));
    const r = await post(server.httpPort, `/v2/models/${name}/infer`, body.body, { 'inference-header-content-length': body.headerLength });
    expect(r.status, r.text()).toBe(200);
    const http = decodeInferResponse(r.headers, r.body);
    const grpc = await server.client.infer({
      model_name: name,
      inputs: inputs.map((i: any) => ({ name: i.name, datatype: 'FP32', shape: i.shape })),
      raw_input_contents: inputs.map((i: any) => i.data),
    });
    expect(grpc.model_name).toBe(http.json.model_name);
    expect(grpc.model_version).toBe(http.json.model_version);
    const outputs = outputsOf(grpc);
    expect(Object.keys(outputs)).toEqual(http.json.outputs.map((o: any) => o.name));
    for (const o of http.json.outputs) {
      expect([outputs[o.name]!.datatype, outputs[o.name]!.shape]).toEqual([o.datatype, o.shape]);
      expect(outputs[o.name]!.raw.equals(http.binary[o.name]!)).toBe(true);
    }
  });
});
