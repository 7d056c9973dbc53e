// POST /v2/models/{m}/infer over real HTTP, on both transports: JSON data (nested and flat), the
// binary tensor extension in both directions, the raw single-input form, BYTES, requests without a
// Content-Type, compressed request bodies and responses, id echo, output selection, the priority
// and timeout parameters reaching the batcher, and a JSON and a binary round trip for every datatype.
import { request as httpRequest } from 'node:http';
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataType } from '../src/engine/datatype.js';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel } from '../src/onnx/models.js';
import {
  binaryBody,
  bytesOf,
  decodeBytes,
  decodeInferResponse,
  encodeBytes,
  ENGINES,
  makeRepository,
  occupy,
  ONE_THREAD,
  post,
  RawClient,
  serve,
  slowModelBytes,
  slowRequest,
  sumDiffModel,
  until,
  type HttpResult,
  type TestServer,
} from './helpers/http-server.js';

const ELEM: Record<DataType, ElemType> = {
  BOOL: ElemType.BOOL,
  UINT8: ElemType.UINT8,
  UINT16: ElemType.UINT16,
  UINT32: ElemType.UINT32,
  UINT64: ElemType.UINT64,
  INT8: ElemType.INT8,
  INT16: ElemType.INT16,
  INT32: ElemType.INT32,
  INT64: ElemType.INT64,
  FP16: ElemType.FLOAT16,
  FP32: ElemType.FLOAT,
  FP64: ElemType.DOUBLE,
  BYTES: ElemType.STRING,
};
const DATATYPES = Object.keys(ELEM) as DataType[];
const idName = (dt: DataType) => `id_${dt.toLowerCase()}`;

const root = makeRepository({
  ...Object.fromEntries(DATATYPES.map((dt) => [idName(dt), { bytes: identityModel(ELEM[dt], ['batch', 3]) }])),
  sumdiff: { bytes: sumDiffModel() },
  sumdiff_big: { bytes: sumDiffModel(), config: { max_batch_size: 0 } }, // any number of rows in one request
  slow_timeout: {
    bytes: slowModelBytes(150),
    config: { max_batch_size: 4, dynamic_batching: { default_queue_policy: { allow_timeout_override: true } }, parameters: ONE_THREAD },
  },
  slow_prio: {
    bytes: slowModelBytes(150),
    config: { max_batch_size: 1, dynamic_batching: { priority_levels: 2, default_priority_level: 2 }, parameters: ONE_THREAD },
  },
});

// ---------------------------------------------------------------------------------------------
// Values per datatype, shape [2, 3]

/** JSON data sent, and the `data` text expected back (64-bit integers beyond 2^53 compare as text). */
const JSON_CASES: Record<DataType, { data: unknown[]; expected: string }> = {
  BOOL: { data: [true, false, true, false, false, true], expected: '[true,false,true,false,false,true]' },
  UINT8: { data: [0, 1, 127, 128, 254, 255], expected: '[0,1,127,128,254,255]' },
  UINT16: { data: [0, 1, 32767, 32768, 65534, 65535], expected: '[0,1,32767,32768,65534,65535]' },
  UINT32: { data: [0, 1, 2147483647, 2147483648, 4294967294, 4294967295], expected: '[0,1,2147483647,2147483648,4294967294,4294967295]' },
  UINT64: {
    data: [0, 1, '9007199254740993', '9223372036854775808', '18446744073709551614', '18446744073709551615'],
    expected: '[0,1,9007199254740993,9223372036854775808,18446744073709551614,18446744073709551615]',
  },
  INT8: { data: [-128, -127, -1, 0, 1, 127], expected: '[-128,-127,-1,0,1,127]' },
  INT16: { data: [-32768, -32767, -1, 0, 1, 32767], expected: '[-32768,-32767,-1,0,1,32767]' },
  INT32: { data: [-2147483648, -2147483647, -1, 0, 1, 2147483647], expected: '[-2147483648,-2147483647,-1,0,1,2147483647]' },
  INT64: {
    data: ['-9223372036854775808', '-9007199254740993', -1, 0, '9007199254740993', '9223372036854775807'],
    expected: '[-9223372036854775808,-9007199254740993,-1,0,9007199254740993,9223372036854775807]',
  },
  // Exactly representable halves: 1, -2.5, the largest finite, the smallest normal, the smallest subnormal, -0.
  FP16: { data: [1, -2.5, 65504, 2 ** -14, 2 ** -24, 0], expected: JSON.stringify([1, -2.5, 65504, 2 ** -14, 2 ** -24, 0]) },
  // Exactly representable floats; null stands for NaN both ways.
  FP32: { data: [1.5, -0.25, 3.4028234663852886e38, 2 ** -149, null, 0], expected: JSON.stringify([1.5, -0.25, 3.4028234663852886e38, 2 ** -149, null, 0]) },
  FP64: { data: [0.1, -1e300, 5e-324, Number.MAX_VALUE, null, 1 / 3], expected: JSON.stringify([0.1, -1e300, 5e-324, Number.MAX_VALUE, null, 1 / 3]) },
  BYTES: { data: ['hello', '', 'héllo ✓', 'a"b\\c', '\u0000', 'x'], expected: JSON.stringify(['hello', '', 'héllo ✓', 'a"b\\c', '\u0000', 'x']) },
};

const f32bits = (...bits: number[]) => new Float32Array(Uint32Array.from(bits).buffer);
const f64bits = (...bits: bigint[]) => new Float64Array(BigUint64Array.from(bits).buffer);

/** Binary data sent (6 elements): edge values, NaN payloads included (bytes must come back as they are). */
const BINARY_CASES: Record<Exclude<DataType, 'BYTES'>, ArrayBufferView> = {
  BOOL: Uint8Array.of(0, 1, 1, 0, 1, 0),
  UINT8: Uint8Array.of(0, 1, 127, 128, 254, 255),
  UINT16: Uint16Array.of(0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff),
  UINT32: Uint32Array.of(0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff),
  UINT64: BigUint64Array.of(0n, 1n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n),
  INT8: Int8Array.of(-128, -127, -1, 0, 1, 127),
  INT16: Int16Array.of(-32768, -32767, -1, 0, 1, 32767),
  INT32: Int32Array.of(-(2 ** 31), -(2 ** 31) + 1, -1, 0, 1, 2 ** 31 - 1),
  INT64: BigInt64Array.of(-(2n ** 63n), -(2n ** 53n) - 1n, -1n, 0n, 2n ** 53n + 1n, 2n ** 63n - 1n),
  FP16: Uint16Array.of(0x8000, 0x0001, 0x7bff, 0x7c00, 0x7e00, 0xfc01),
  FP32: f32bits(0x80000000, 0x00000001, 0x7f7fffff, 0xff800000, 0x7fa00001, 0xffc12345),
  FP64: f64bits(0x8000000000000000n, 0x0000000000000001n, 0x7fefffffffffffffn, 0xfff0000000000000n, 0x7ff4000000000001n, 0xfff8deadbeef0001n),
};
const BYTES_ELEMENTS = [Buffer.from('abc'), Buffer.alloc(0), Buffer.from([0xff, 0x00, 0xfe]), Buffer.from('héllo'), Buffer.alloc(300, 7), Buffer.from('z')];

function expectOk(r: HttpResult): void {
  expect(r.status, r.body.toString('utf8', 0, 500)).toBe(200);
}

/** The `data` array of output `name` in a JSON response text, as written (no number rounding). */
function rawData(text: string, name: string): string {
  const at = text.indexOf(`{"name":${JSON.stringify(name)}`);
  expect(at).toBeGreaterThanOrEqual(0);
  const start = text.indexOf('"data":', at) + '"data":'.length;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '[') depth++;
    else if (c === ']' && --depth === 0) return text.slice(start, i + 1);
  }
  throw new Error('unterminated data array');
}

const f32 = (b: Buffer) => Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));

describe.each(ENGINES)('infer over %s', (engine) => {
  let server: TestServer;
  let port: number;
  beforeAll(async () => {
    server = await serve(engine, { modelRepository: root });
    port = server.port;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('JSON data nested and flat; the id is echoed (and absent when not given)', async () => {
    const nested = await post(port, '/v2/models/id_fp32/infer', {
      id: 'req-42',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: [[1, 2, 3], [4, 5, 6]] }],
    });
    expectOk(nested);
    expect(nested.headers['content-type']).toMatch(/^application\/json/);
    expect(nested.headers['inference-header-content-length']).toBeUndefined();
    expect(nested.json()).toEqual({
      id: 'req-42',
      model_name: 'id_fp32',
      model_version: '1',
      outputs: [{ name: 'y', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }],
    });
    const flat = await post(port, '/v2/models/id_fp32/versions/1/infer', {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }],
    });
    expectOk(flat);
    expect(flat.json()).not.toHaveProperty('id');
    expect(flat.json().outputs[0].data).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('accepts a request with no Content-Type header (as tritonclient sends)', async () => {
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [7, 8, 9] }] });
    const client = new RawClient(port);
    try {
      await client.write(
        `POST /v2/models/id_fp32/infer HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      const r = await client.response();
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString()).outputs[0].data).toEqual([7, 8, 9]);
      // Keep-alive: a second request (binary, still no Content-Type) on the same connection.
      const a = Float32Array.of(1, 2, 3);
      const { body: bin, headerLength } = binaryBody(
        { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } }], parameters: { binary_data_output: true } },
        [bytesOf(a)],
      );
      await client.write(
        Buffer.concat([
          Buffer.from(
            `POST /v2/models/id_fp32/infer HTTP/1.1\r\nHost: x\r\nInference-Header-Content-Length: ${headerLength}\r\nContent-Length: ${bin.length}\r\n\r\n`,
          ),
          bin,
        ]),
      );
      const r2 = await client.response();
      expect(r2.status).toBe(200);
      expect(f32(decodeInferResponse(r2.headers, r2.body).binary.y!)).toEqual([1, 2, 3]);
    } finally {
      client.destroy();
    }
  });

  it('binary tensor extension in both directions, per-output binary_data, and outputs selection', async () => {
    const a = Float32Array.of(1, 2, 3, 4, 5, 6);
    const b = [10, 20, 30, 40, 50, 60];
    const header = {
      id: 'bin',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: a.byteLength } },
        { name: 'b', datatype: 'FP32', shape: [2, 3], data: b },
      ],
      outputs: [
        { name: 'sum', parameters: { binary_data: true } },
        { name: 'diff', parameters: { binary_data: false } },
      ],
    };
    const { body, headerLength } = binaryBody(header, [bytesOf(a)]);
    const r = await post(port, '/v2/models/sumdiff/infer', body, { 'inference-header-content-length': headerLength });
    expectOk(r);
    expect(r.headers['content-type']).toBe('application/octet-stream');
    const decoded = decodeInferResponse(r.headers, r.body);
    expect(Number(r.headers['inference-header-content-length'])).toBeLessThan(r.body.length);
    expect(decoded.json.id).toBe('bin');
    expect(decoded.json.outputs).toEqual([
      { name: 'sum', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } },
      { name: 'diff', datatype: 'FP32', shape: [2, 3], data: [-9, -18, -27, -36, -45, -54] },
    ]);
    expect(f32(decoded.binary.sum!)).toEqual([11, 22, 33, 44, 55, 66]);

    // binary_data_output: every output binary when none is listed.
    const all = binaryBody({ ...header, outputs: undefined, parameters: { binary_data_output: true } }, [bytesOf(a)]);
    const r2 = await post(port, '/v2/models/sumdiff/infer', all.body, { 'inference-header-content-length': all.headerLength });
    expectOk(r2);
    const d2 = decodeInferResponse(r2.headers, r2.body);
    expect(d2.json.outputs.map((o: { name: string }) => o.name)).toEqual(['sum', 'diff']);
    expect(f32(d2.binary.sum!)).toEqual([11, 22, 33, 44, 55, 66]);
    expect(f32(d2.binary.diff!)).toEqual([-9, -18, -27, -36, -45, -54]);

    // outputs selects: only `diff` comes back (JSON by default).
    const one = await post(port, '/v2/models/sumdiff/infer', {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
        { name: 'b', datatype: 'FP32', shape: [1, 3], data: [1, 1, 1] },
      ],
      outputs: [{ name: 'diff' }],
    });
    expectOk(one);
    expect(one.json().outputs).toEqual([{ name: 'diff', datatype: 'FP32', shape: [1, 3], data: [0, 1, 2] }]);
    // An unknown output is a 400.
    const bad = await post(port, '/v2/models/sumdiff/infer', {
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
        { name: 'b', datatype: 'FP32', shape: [1, 3], data: [1, 1, 1] },
      ],
      outputs: [{ name: 'nope' }],
    });
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatch(/nope/);
  });

  it('a binary reply in several large pieces reaches a reader slower than the server whole and exact', async () => {
    // Two 3 MiB outputs after the JSON header: written piece after piece under backpressure (the
    // client reads nothing for 300 ms), every byte where it belongs.
    const rows = 1 << 18;
    const a = Float32Array.from({ length: rows * 3 }, (_, i) => i);
    const b = Float32Array.from({ length: rows * 3 }, (_, i) => i % 7);
    const { body, headerLength } = binaryBody(
      {
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [rows, 3], parameters: { binary_data_size: a.byteLength } },
          { name: 'b', datatype: 'FP32', shape: [rows, 3], parameters: { binary_data_size: b.byteLength } },
        ],
        parameters: { binary_data_output: true },
      },
      [bytesOf(a), bytesOf(b)],
    );
    const r = await new Promise<{ headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, method: 'POST', path: '/v2/models/sumdiff_big/infer', agent: false, headers: { 'inference-header-content-length': headerLength, 'content-length': body.length } },
        (res) => {
          res.pause();
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => (res.complete ? resolve({ headers: res.headers, body: Buffer.concat(chunks) }) : reject(new Error('truncated'))));
          res.on('error', reject);
          setTimeout(() => res.resume(), 300);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    const d = decodeInferResponse(r.headers, r.body);
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    const sum = f32(d.binary.sum!);
    const diff = f32(d.binary.diff!);
    expect(sum.length).toBe(rows * 3);
    for (let i = 0; i < rows * 3; i++) {
      if (sum[i] !== i + (i % 7) || diff[i] !== i - (i % 7)) throw new Error(`element ${i}: sum ${sum[i]}, diff ${diff[i]}`);
    }
  });

  it('raw binary request (Inference-Header-Content-Length: 0) for a single-input model', async () => {
    const x = Float32Array.of(1.5, -2, 3, 4, 5, 6.25);
    const r = await post(port, '/v2/models/id_fp32/infer', bytesOf(x), { 'inference-header-content-length': 0 });
    expectOk(r);
    const d = decodeInferResponse(r.headers, r.body);
    expect(d.json.outputs).toEqual([{ name: 'y', datatype: 'FP32', shape: [2, 3], parameters: { binary_data_size: 24 } }]);
    expect(d.binary.y!.equals(bytesOf(x))).toBe(true);
    // A body that is not whole rows is a 400.
    const bad = await post(port, '/v2/models/id_fp32/infer', bytesOf(Float32Array.of(1, 2)), { 'inference-header-content-length': 0 });
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatch(/raw binary request/);
  });

  it('BYTES in binary form: 4-byte little-endian length + bytes, both ways', async () => {
    const tensor = encodeBytes(BYTES_ELEMENTS);
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: 'x', datatype: 'BYTES', shape: [2, 3], parameters: { binary_data_size: tensor.length } }], parameters: { binary_data_output: true } },
      [tensor],
    );
    const r = await post(port, '/v2/models/id_bytes/infer', body, { 'inference-header-content-length': headerLength });
    expectOk(r);
    const d = decodeInferResponse(r.headers, r.body);
    expect(d.json.outputs[0]).toMatchObject({ name: 'y', datatype: 'BYTES', shape: [2, 3], parameters: { binary_data_size: tensor.length } });
    expect(d.binary.y!.equals(tensor)).toBe(true);
    expect(decodeBytes(d.binary.y!)).toEqual(BYTES_ELEMENTS);
    // A length prefix that runs past the declared size is a 400.
    const broken = Buffer.from(tensor);
    broken.writeUInt32LE(1000, 0);
    const b = binaryBody({ inputs: [{ name: 'x', datatype: 'BYTES', shape: [2, 3], parameters: { binary_data_size: broken.length } }] }, [broken]);
    const bad = await post(port, '/v2/models/id_bytes/infer', b.body, { 'inference-header-content-length': b.headerLength });
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatch(/binary size mismatch/);
  });

  it('Content-Encoding gzip and deflate request bodies (JSON and binary)', async () => {
    const json = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }));
    for (const [encoding, compress] of [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
    ] as const) {
      const r = await post(port, '/v2/models/id_fp32/infer', compress(json), { 'content-encoding': encoding });
      expectOk(r);
      expect(r.json().outputs[0].data).toEqual([1, 2, 3]);
    }
    // Binary body, gzipped as a whole; the header length counts the decompressed JSON.
    const x = Float32Array.of(9, 8, 7);
    const { body, headerLength } = binaryBody(
      { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } }], parameters: { binary_data_output: true } },
      [bytesOf(x)],
    );
    const r = await post(port, '/v2/models/id_fp32/infer', gzipSync(body), {
      'content-encoding': 'gzip',
      'inference-header-content-length': headerLength,
    });
    expectOk(r);
    expect(f32(decodeInferResponse(r.headers, r.body).binary.y!)).toEqual([9, 8, 7]);
    // Corrupt gzip: 400; an unsupported encoding: 415.
    const corrupt = await post(port, '/v2/models/id_fp32/infer', Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' });
    expect(corrupt.status).toBe(400);
    expect(corrupt.json().error).toMatch(/gzip/);
    const br = await post(port, '/v2/models/id_fp32/infer', json, { 'content-encoding': 'br' });
    expect(br.status).toBe(415);
    expect(br.json().error).toMatch(/Content-Encoding/);
  });

  it('Accept-Encoding: gzip (and deflate) compresses large responses', async () => {
    const rows = 64; // the auto-completed max_batch_size
    const data = Array.from({ length: rows * 3 }, (_, i) => 1000 + i * 1.125); // > 1 KiB of JSON, exact in FP32
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 3], data }] });
    const gz = await post(port, '/v2/models/id_fp32/infer', body, { 'accept-encoding': 'gzip' });
    expectOk(gz);
    expect(gz.headers['content-encoding']).toBe('gzip');
    const plain = JSON.parse(gunzipSync(gz.body).toString('utf8'));
    expect(plain.outputs[0].shape).toEqual([rows, 3]);
    expect(plain.outputs[0].data).toEqual(data);
    expect(gz.body.length).toBeLessThan(Buffer.byteLength(JSON.stringify(plain)));

    const df = await post(port, '/v2/models/id_fp32/infer', body, { 'accept-encoding': 'deflate' });
    expectOk(df);
    expect(df.headers['content-encoding']).toBe('deflate');
    expect(JSON.parse(inflateSync(df.body).toString('utf8')).outputs[0].data).toEqual(data);

    // Binary responses too (FP64: over 1 KiB of tensor bytes); the header length refers to the
    // decompressed body.
    const bin = await post(
      port,
      '/v2/models/id_fp64/infer',
      JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP64', shape: [rows, 3], data }], parameters: { binary_data_output: true } }),
      { 'accept-encoding': 'gzip, deflate' },
    );
    expectOk(bin);
    expect(bin.headers['content-encoding']).toBe('gzip');
    const d = decodeInferResponse(bin.headers, gunzipSync(bin.body));
    const y = d.binary.y!;
    expect(Array.from(new Float64Array(y.buffer.slice(y.byteOffset, y.byteOffset + y.length)))).toEqual(data);

    // Not asked for (or refused with q=0): identity.
    const none = await post(port, '/v2/models/id_fp32/infer', body);
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(none.json().outputs[0].data).toEqual(data);
    const refused = await post(port, '/v2/models/id_fp32/infer', body, { 'accept-encoding': 'gzip;q=0' });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.json().outputs[0].data).toEqual(data);
  });

  it.each(DATATYPES)('JSON round trip of %s', async (dt) => {
    const c = JSON_CASES[dt];
    const r = await post(port, `/v2/models/${idName(dt)}/infer`, { inputs: [{ name: 'x', datatype: dt, shape: [2, 3], data: c.data }] });
    expectOk(r);
    const text = r.text();
    const out = r.json().outputs[0];
    expect(out.name).toBe('y');
    expect(out.datatype).toBe(dt);
    expect(out.shape).toEqual([2, 3]);
    expect(rawData(text, 'y')).toBe(c.expected);
  });

  it.each(DATATYPES)('binary round trip of %s', async (dt) => {
    const tensor = dt === 'BYTES' ? encodeBytes(BYTES_ELEMENTS) : bytesOf(BINARY_CASES[dt]);
    const { body, headerLength } = binaryBody(
      {
        inputs: [{ name: 'x', datatype: dt, shape: [2, 3], parameters: { binary_data_size: tensor.length } }],
        outputs: [{ name: 'y', parameters: { binary_data: true } }],
      },
      [tensor],
    );
    const r = await post(port, `/v2/models/${idName(dt)}/infer`, body, { 'inference-header-content-length': headerLength });
    expectOk(r);
    const d = decodeInferResponse(r.headers, r.body);
    expect(d.json.outputs).toEqual([{ name: 'y', datatype: dt, shape: [2, 3], parameters: { binary_data_size: tensor.length } }]);
    expect(d.binary.y!.equals(tensor)).toBe(true);
  });

  it('parameters.timeout reaches the batcher: a queued request times out with 503 and Retry-After', async () => {
    const model = server.model('slow_timeout');
    const { running: blocker } = await occupy(server, 'slow_timeout');
    const late = post(port, '/v2/models/slow_timeout/infer', slowRequest(1, { timeout: 1000 }));
    const onTime = post(port, '/v2/models/slow_timeout/infer', slowRequest(2));
    const r = await late;
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBeDefined();
    expect(r.json()).toEqual({ error: 'request timed out in the queue before it could be scheduled' });
    expect((await blocker).status).toBe(200);
    const ok = await onTime;
    expectOk(ok);
    expect(ok.json().outputs[0].data.every((v: number) => v === 2)).toBe(true);
    expect(model.stats().failures.timeout).toBe(1);
    // A malformed timeout is a 400.
    const bad = await post(port, '/v2/models/slow_timeout/infer', slowRequest(1, { timeout: -5 }));
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatch(/timeout/);
  });

  it('parameters.priority reaches the batcher: higher priority runs first; out of range is 400', async () => {
    const model = server.model('slow_prio');
    const { running: blocker } = await occupy(server, 'slow_prio');
    const order: string[] = [];
    const sent: Array<Promise<void>> = [];
    const send = async (name: string, priority?: number) => {
      const pending = model.stats().pending;
      const p = post(port, '/v2/models/slow_prio/infer', slowRequest(1, priority === undefined ? undefined : { priority }, name)).then((r) => {
        expectOk(r);
        expect(r.json().id).toBe(name);
        order.push(name);
      });
      sent.push(p);
      p.catch(() => undefined);
      // Queued before the next one is sent, so arrival order is known.
      await until(() => model.stats().pending > pending, `${name} queued`, 10_000);
    };
    await send('low1');
    await send('low2', 2);
    await send('high1', 1);
    await send('low3');
    await send('high2', 1);
    expect((await blocker).status).toBe(200);
    await Promise.all(sent);
    expect(order).toEqual(['high1', 'high2', 'low1', 'low2', 'low3']);

    const bad = await post(port, '/v2/models/slow_prio/infer', slowRequest(1, { priority: 3 }));
    expect(bad.status).toBe(400);
    expect(bad.json()).toEqual({ error: "priority 3 is outside the model's 1..2 priority levels" });
  });

  it('concurrent requests are batched and each gets its own data back (JSON and binary)', async () => {
    const model = server.model('id_fp32');
    const before = model.stats();
    const n = 96;
    const replies = await Promise.all(
      Array.from({ length: n }, (_, k) => {
        const rows = 1 + (k % 3);
        const values = Array.from({ length: rows * 3 }, (_, i) => k * 100 + i);
        if (k % 2 === 0) {
          return post(port, '/v2/models/id_fp32/infer', { id: `j${k}`, inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 3], data: values }] }).then(
            (r) => ({ k, values, rows, r }),
          );
        }
        const { body, headerLength } = binaryBody(
          {
            id: `b${k}`,
            inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 3], parameters: { binary_data_size: rows * 12 } }],
            parameters: { binary_data_output: true },
          },
          [bytesOf(Float32Array.from(values))],
        );
        return post(port, '/v2/models/id_fp32/infer', body, { 'inference-header-content-length': headerLength }).then((r) => ({ k, values, rows, r }));
      }),
    );
    for (const { k, values, rows, r } of replies) {
      expectOk(r);
      const d = decodeInferResponse(r.headers, r.body);
      expect(d.json.id).toBe(k % 2 === 0 ? `j${k}` : `b${k}`);
      expect(d.json.outputs[0].shape).toEqual([rows, 3]);
      expect(k % 2 === 0 ? d.json.outputs[0].data : f32(d.binary.y!)).toEqual(values);
    }
    const after = model.stats();
    expect(after.success.count - before.success.count).toBe(n);
    expect(after.inferenceCount - before.inferenceCount).toBe(replies.reduce((t, x) => t + x.rows, 0));
  });

  // uWebSockets.js closes a connection whose next request arrives while the previous response is
  // still pending (a limitation of the library; see README). Clients of the protocol (tritonclient,
  // perf_analyzer, browsers) do not pipeline; node:http answers every case in order.
  it.skipIf(engine === 'uws')('HTTP/1.1 pipelining: every pipelined request is answered, in order', async () => {
    const json = (id: string) => JSON.stringify({ id, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    const postReq = (model: string, body: string) =>
      `POST /v2/models/${model}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    const live = 'GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n';
    const cases: Array<[string, string, string[]]> = [
      ['GET + GET', live + live, ['live', 'live']],
      ['GET + POST', live + postReq('id_fp32', json('p1')), ['live', 'p1']],
      ['POST + GET', postReq('id_fp32', json('p1')) + live, ['p1', 'live']],
      ['POST + POST', postReq('id_fp32', json('p1')) + postReq('id_fp32', json('p2')), ['p1', 'p2']],
      // A slow request first: the fast one behind it must not overtake it on the wire.
      ['slow POST + fast POST', postReq('slow_timeout', slowRequest(1, undefined, 'slow')) + postReq('id_fp32', json('fast')), ['slow', 'fast']],
    ];
    const failures: string[] = [];
    for (const [name, bytes, expected] of cases) {
      const client = new RawClient(port);
      try {
        await client.write(bytes);
        const got: string[] = [];
        for (let i = 0; i < expected.length; i++) {
          const r = await client.response(5000).catch((err: Error) => ({ status: 0, headers: {}, body: Buffer.from(err.message) }));
          if (r.status !== 200) {
            got.push(`status ${r.status}: ${r.body.toString().slice(0, 80)}`);
            break;
          }
          const body = JSON.parse(r.body.toString());
          got.push(body.live ? 'live' : body.id);
        }
        if (JSON.stringify(got) !== JSON.stringify(expected)) failures.push(`${name}: got ${JSON.stringify(got)}`);
      } finally {
        client.destroy();
      }
    }
    expect(failures).toEqual([]);
  });

  it('HEAD is served like GET without a body', async () => {
    const client = new RawClient(port);
    try {
      await client.write(`HEAD /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n`);
      // Read the head only: a HEAD response has no body whatever its Content-Length says.
      await until(() => client.received.includes('\r\n\r\n') || client.closed, 'HEAD response', 5000);
      const head = client.received.toString('latin1');
      expect(head).toMatch(/^HTTP\/1\.1 200/);
      // Then a GET on the same connection must parse cleanly: no stray body bytes before it.
      await new Promise((r) => setTimeout(r, 50));
      const afterHead = client.received.subarray(client.received.indexOf('\r\n\r\n') + 4);
      // A keep-alive client would read stray body bytes as the start of its next response.
      expect(afterHead.toString('latin1')).toBe('');
    } finally {
      client.destroy();
    }
  });
});
