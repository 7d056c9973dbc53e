// Every error status over real HTTP, on both transports, each with its {"error": "..."} body: 400
// (malformed JSON, unknown/missing input, datatype, shape, element count, binary sizes), 404 (model,
// version, route), 405, 413 (refused before the body is buffered: a lying Content-Length, a chunked
// body that grows past the limit, a compressed bomb; lingering itself is test/http-limits.test.ts) and 503 with Retry-After (queue full, a model
// that is not ready).
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel, tinyModel } from '../src/onnx/models.js';
import {
  binaryBody,
  bytesOf,
  ENGINES,
  get,
  makeRepository,
  occupy,
  ONE_THREAD,
  post,
  RawClient,
  request,
  serve,
  slowModelBytes,
  slowRequest,
  sumDiffModel,
  until,
  type HttpResult,
  type RawResponse,
  type TestServer,
} from './helpers/http-server.js';

const LIMIT = 64 * 1024;

const root = makeRepository({
  id_fp32: { bytes: identityModel(ElemType.FLOAT, ['batch', 3]) },
  sumdiff: { bytes: sumDiffModel() },
  multi: { versions: { 1: tinyModel(), 2: tinyModel() } },
  slow_queue: {
    bytes: slowModelBytes(200),
    config: { max_batch_size: 1, dynamic_batching: { default_queue_policy: { max_queue_size: 1 } }, parameters: ONE_THREAD },
  },
  // Not an ONNX file: its load fails, so it is never ready.
  broken: { bytes: Buffer.from('this is not an onnx model') },
});

// Rejections nobody handles, while this file runs (each server start loads `broken` and fails).
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

function expectError(r: HttpResult | RawResponse, status: number, message?: RegExp | string): string {
  const text = r.body.toString('utf8');
  expect(r.status, text).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error).toBe('string');
  expect(body.error.length).toBeGreaterThan(0);
  if (typeof message === 'string') expect(body.error).toBe(message);
  else if (message) expect(body.error).toMatch(message);
  return body.error;
}

const x = (shape: number[], data: unknown, extra: Record<string, unknown> = {}) => ({ name: 'x', datatype: 'FP32', shape, data, ...extra });

describe.each(ENGINES)('errors over %s', (engine) => {
  let server: TestServer;
  let port: number;
  const infer = (body: unknown, model = 'id_fp32', headers?: Record<string, string | number>) =>
    post(port, `/v2/models/${model}/infer`, body, headers);

  beforeAll(async () => {
    server = await serve(engine, { modelRepository: root, maxBodyBytes: LIMIT });
    port = server.port;
  });
  afterAll(async () => {
    await server?.stop();
  });

  describe('400', () => {
    it('malformed JSON', async () => {
      expectError(await infer('{"inputs": ['), 400, /^malformed JSON/);
      expectError(await infer('[1, 2, 3]'), 400, /malformed JSON/);
      expectError(await infer(''), 400, /malformed JSON/);
      expectError(await infer('{"inputs": 5}'), 400, /'inputs' must be an array/);
    });

    it('unknown input', async () => {
      expectError(await infer({ inputs: [{ ...x([1, 3], [1, 2, 3]), name: 'z' }] }), 400, "unknown input 'z' (model inputs: x)");
    });

    it('missing input', async () => {
      expectError(await infer({ inputs: [] }), 400, /missing input 'x'/);
      expectError(
        await infer({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }, 'sumdiff'),
        400,
        /missing input 'b'/,
      );
    });

    it('wrong datatype', async () => {
      expectError(await infer({ inputs: [{ ...x([1, 3], [1, 2, 3]), datatype: 'FP64' }] }), 400, "input 'x': expected datatype FP32, got FP64");
      expectError(await infer({ inputs: [{ ...x([1, 3], [1, 2, 3]), datatype: 'FLOAT' }] }), 400, /unknown datatype 'FLOAT'/);
      expectError(await infer({ inputs: [x([1, 3], [1, 'two', 3])] }), 400, /element 1 must be a number/);
    });

    it('wrong shape', async () => {
      expectError(await infer({ inputs: [x([3], [1, 2, 3])] }), 400, /expected rank 2/);
      expectError(await infer({ inputs: [x([1, -3], [1, 2, 3])] }), 400, /shape must be non-negative integers/);
      // A fixed dimension of the model (3) given as 4: refused, never a 500.
      expectError(await infer({ inputs: [x([1, 4], [1, 2, 3, 4])] }), 400);
      // Over the max_batch_size (auto-completed to 64).
      expectError(await infer({ inputs: [x([65, 3], new Array(195).fill(0))] }), 400, /batch size 65 exceeds/);
    });

    it('wrong element count', async () => {
      expectError(await infer({ inputs: [x([2, 3], [1, 2, 3, 4, 5])] }), 400, "input 'x': expected 6 elements for shape [2,3], got 5");
      expectError(await infer({ inputs: [x([2, 3], [[1, 2, 3], [4, 5]])] }), 400, /expected 6 elements/);
    });

    it('binary size mismatch', async () => {
      const data = bytesOf(Float32Array.of(1, 2, 3));
      // Declared size smaller than the tensor needs (and the body carries what it declares).
      const small = binaryBody({ inputs: [x([1, 3], undefined, { data: undefined, parameters: { binary_data_size: 8 } })] }, [data.subarray(0, 8)]);
      expectError(await infer(small.body, 'id_fp32', { 'inference-header-content-length': small.headerLength }), 400, /^binary size mismatch/);
      // Declared size larger than the bytes that follow.
      const short = binaryBody({ inputs: [x([1, 3], undefined, { parameters: { binary_data_size: 12 } })] }, [data.subarray(0, 10)]);
      expectError(await infer(short.body, 'id_fp32', { 'inference-header-content-length': short.headerLength }), 400, /binary size mismatch/);
      // Bytes left over after the declared tensors.
      const extra = binaryBody({ inputs: [x([1, 3], undefined, { parameters: { binary_data_size: 12 } })] }, [data, Buffer.from([1, 2, 3, 4])]);
      expectError(await infer(extra.body, 'id_fp32', { 'inference-header-content-length': extra.headerLength }), 400, /binary size mismatch/);
      // A header length beyond the body, and one that is not a number.
      const ok = binaryBody({ inputs: [x([1, 3], undefined, { parameters: { binary_data_size: 12 } })] }, [data]);
      expectError(await infer(ok.body, 'id_fp32', { 'inference-header-content-length': ok.body.length + 1 }), 400, /exceeds the body length/);
      expectError(await infer(ok.body, 'id_fp32', { 'inference-header-content-length': 'twelve' }), 400, /Inference-Header-Content-Length/);
      // The same request with the right header works.
      expect((await infer(ok.body, 'id_fp32', { 'inference-header-content-length': ok.headerLength })).status).toBe(200);
    });
  });

  describe('404', () => {
    it('unknown model', async () => {
      expectError(await infer({ inputs: [x([1, 3], [1, 2, 3])] }, 'nosuchmodel'), 404, /unknown model 'nosuchmodel'/);
      expectError(await get(port, '/v2/models/nosuchmodel'), 404, /nosuchmodel/);
    });

    it('a version the model does not serve', async () => {
      const body = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16], data: new Array(16).fill(1) }] };
      expect((await post(port, '/v2/models/multi/versions/2/infer', body)).status).toBe(200);
      expectError(await post(port, '/v2/models/multi/versions/1/infer', body), 404, /version 1/);
      expectError(await post(port, '/v2/models/multi/versions/9/infer', body), 404, /version 9/);
      expectError(await get(port, '/v2/models/multi/versions/1'), 404);
    });

    it('model names that try to leave the repository', async () => {
      for (const path of ['/v2/models/..%2F..%2Fetc', '/v2/models/..', '/v2/models/%2e%2e/ready', '/v2/models/a%2Fb/config', '/v2/models/..%2Fslow_queue/stats']) {
        expectError(await get(port, path), 404);
      }
      expectError(await post(port, '/v2/models/..%2Fid_fp32/infer', { inputs: [] }), 400, /invalid model name/);
      expectError(await post(port, '/v2/models/id_fp32/versions/abc/infer', { inputs: [] }), 404, /has no version 'abc'/);
    });

    it('unknown route', async () => {
      for (const path of ['/v3', '/v2/health', '/v2/health/other', '/v2/models/id_fp32/bogus', '/v2/models/id_fp32/versions', '/v2/repository/other', '/metricsx']) {
        expectError(await get(port, path), 404, /no route/);
      }
      expectError(await post(port, '/v2/models/id_fp32/infer/extra', '{}'), 404, /no route/);
    });
  });

  it('405 wrong method, with Allow', async () => {
    const cases: Array<[string, string, string]> = [
      ['GET', '/v2/models/id_fp32/infer', 'POST'],
      ['PUT', '/v2/models/id_fp32/infer', 'POST'],
      ['POST', '/v2/health/live', 'GET'],
      ['POST', '/v2', 'GET'],
      ['DELETE', '/v2/models/id_fp32', 'GET'],
      ['GET', '/v2/repository/index', 'POST'],
      ['POST', '/metrics', 'GET'],
    ];
    for (const [method, path, allow] of cases) {
      const r = await request(port, method, path);
      expectError(r, 405, new RegExp(`${method} is not allowed`));
      expect(r.headers.allow).toBe(allow);
    }
  });

  describe('413', () => {
    it('a Content-Length over the limit is refused before the body is sent', async () => {
      const client = new RawClient(port);
      try {
        const declared = 100 * 1024 * 1024;
        await client.write(
          `POST /v2/models/id_fp32/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${declared}\r\n\r\n{"inputs": [`,
        );
        // Nothing more is sent: the answer cannot depend on reading the body.
        const r = await client.response(5000);
        expectError(r, 413, `request body exceeds the limit of ${LIMIT} bytes`);
        expect(await client.waitClosed()).toBe(true);
      } finally {
        client.destroy();
      }
      // The server is fine afterwards.
      expect((await get(port, '/v2/health/live')).status).toBe(200);
    });

    it('a body of exactly the limit is read; one byte more is refused', async () => {
      const json = JSON.stringify({ inputs: [x([1, 3], [1, 2, 3])] });
      const exact = json + ' '.repeat(LIMIT - json.length);
      const ok = await infer(exact);
      expect(ok.status, ok.text()).toBe(200);
      expectError(await infer(`${exact} `), 413, /exceeds the limit/);
    });

    it('a chunked body that grows past the limit: buffering stops there, the rest is discarded, then 413', async () => {
      const client = new RawClient(port);
      try {
        await client.write('POST /v2/models/id_fp32/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
        const chunk = Buffer.alloc(8 * 1024, 0x20);
        const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]);
        // Four times the limit, then the last chunk: the upload runs to its end without a reset.
        for (let sent = 0; sent < 4 * LIMIT; sent += chunk.length) await client.write(frame);
        await client.write('0\r\n\r\n');
        const r = await client.response(5000);
        expectError(r, 413, `request body exceeds the limit of ${LIMIT} bytes`);
        expect(await client.waitClosed()).toBe(true);
        expect(client.error).toBeUndefined();
      } finally {
        client.destroy();
      }
      expect((await get(port, '/v2/health/live')).status).toBe(200);
    });

    it('a compressed body that inflates past the limit', async () => {
      const bomb = gzipSync(Buffer.alloc(4 * LIMIT, 0x20));
      expect(bomb.length).toBeLessThan(LIMIT);
      expectError(await infer(bomb, 'id_fp32', { 'content-encoding': 'gzip' }), 413, /decompressed request body exceeds the limit/);
    });
  });

  describe('503 with Retry-After', () => {
    it('queue full (max_queue_size 1, runner occupied)', async () => {
      const model = server.model('slow_queue');
      const { running: blocker } = await occupy(server, 'slow_queue');
      const queued = post(port, '/v2/models/slow_queue/infer', slowRequest(2));
      await until(() => model.stats().pending === 2, 'second request queued', 10_000);
      const full = await post(port, '/v2/models/slow_queue/infer', slowRequest(3));
      expectError(full, 503, 'queue of priority level 1 is full (max_queue_size 1)');
      expect(full.headers['retry-after']).toMatch(/^\d+$/);
      expect((await blocker).status).toBe(200);
      const q = await queued;
      expect(q.status).toBe(200);
      expect(q.json().outputs[0].data[0]).toBe(2);
      expect(model.stats().failures.queueFull).toBe(1);
      const metrics = (await get(port, '/metrics')).text();
      expect(metrics).toMatch(/^nv_inference_request_failure\{model="slow_queue",version="1",reason="queue_full"\} 1$/m);
      // Room again.
      expect((await post(port, '/v2/models/slow_queue/infer', slowRequest(4))).status).toBe(200);
    });

    it('a model that is not ready', async () => {
      const r = await infer({ inputs: [x([1, 3], [1, 2, 3])] }, 'broken');
      expectError(r, 503, /'broken' is not ready/);
      expect(r.headers['retry-after']).toMatch(/^\d+$/);
      const ready = await get(port, '/v2/models/broken/ready');
      expect(ready.status).toBe(503);
      expect(ready.json()).toMatchObject({ name: 'broken', ready: false });
      const meta = await get(port, '/v2/models/broken');
      expectError(meta, 503);
      expect(meta.headers['retry-after']).toMatch(/^\d+$/);
      // A required model that failed to load keeps the server unready; the others still serve.
      const serverReady = await get(port, '/v2/health/ready');
      expect(serverReady.status).toBe(503);
      expect(serverReady.json()).toEqual({ ready: false });
      expect((await infer({ inputs: [x([1, 3], [1, 2, 3])] })).status).toBe(200);
    });
  });

  it('a model that fails to load leaves no unhandled promise rejection', () => {
    // Regression: ModelRepository#sync's `entry.busy = run.finally(...)` was a rejected promise
    // nobody handled when a load failed; under Node's default --unhandled-rejections=throw the
    // real `tensorgate serve` process died at startup (see http-shutdown.test.ts).
    expect(unhandled.map((e) => (e instanceof Error ? e.message : String(e)))).toEqual([]);
  });
});
