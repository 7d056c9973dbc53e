// Bad gRPC requests, each with its status and, where HTTP refuses the same mistake, the same message
// as HTTP's {"error"}: malformed protobuf, unknown model, wrong datatype or shape, a full queue, a
// model that is not ready, a message over --grpc-max-message-bytes. The server keeps serving.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel } from '../src/onnx/models.js';
import { makeRepository, ONE_THREAD, until } from './helpers/fixtures.js';
import { encodeInferRequest, expectStatus, f32, outputsOf } from './helpers/grpc-client.js';
import { occupyGrpc, serveGrpc, slowGrpcRequest, type GrpcTestServer } from './helpers/grpc-server.js';
import { get, post, slowModelBytes, slowRequest } from './helpers/http-server.js';

const LIMIT = 64 * 1024;

const repo = makeRepository({
  id_fp32: { bytes: identityModel(ElemType.FLOAT, ['batch', 3]) },
  big: { bytes: identityModel(ElemType.FLOAT, ['batch', 'n']) },
  slow_queue: {
    bytes: slowModelBytes(200),
    config: { max_batch_size: 1, dynamic_batching: { default_queue_policy: { max_queue_size: 1 } }, parameters: ONE_THREAD },
  },
  // Not an ONNX file: its load fails, so it is never ready.
  broken: { bytes: Buffer.from('this is not an onnx model') },
});

const x = (datatype: string, shape: number[], contents: object) => ({ name: 'x', datatype, shape, contents });

describe('gRPC errors', () => {
  let server: GrpcTestServer;
  beforeAll(async () => {
    server = await serveGrpc({ modelRepository: repo, grpcMaxMessageBytes: LIMIT });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function stillServing(): Promise<void> {
    const r = await server.client.infer({ model_name: 'id_fp32', inputs: [x('FP32', [1, 3], { fp32_contents: [1, 2, 3] })] });
    expect(f32(outputsOf(r).y!.raw)).toEqual([1, 2, 3]);
  }

  /** The {"error"} HTTP answers for the same request as JSON. */
  async function httpError(model: string, body: object): Promise<string> {
    const r = await post(server.httpPort, `/v2/models/${model}/infer`, body);
    expect(r.status).toBeGreaterThanOrEqual(400);
    return r.json().error;
  }

  it('malformed protobuf: INVALID_ARGUMENT naming the fault', async () => {
    for (const bytes of [Buffer.from([0x0a, 0x05, 0x61]), Buffer.from([0xff]), Buffer.from([0x2a, 0x04, 0x0a, 0x01])]) {
      await expectStatus(server.client.raw('ModelInfer', bytes), status.INVALID_ARGUMENT, /^malformed protobuf message: /);
    }
    await stillServing();
  });

  it('an unknown model is NOT_FOUND, with HTTP\'s message; no model name is INVALID_ARGUMENT', async () => {
    const message = await httpError('nope', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    await expectStatus(server.client.infer({ model_name: 'nope', inputs: [x('FP32', [1, 3], { fp32_contents: [1, 2, 3] })] }), status.NOT_FOUND, message);
    await expectStatus(server.client.infer({}), status.INVALID_ARGUMENT, "invalid model name '': use letters, digits, '_', '.' and '-'");
  });

  it('a wrong datatype, shape, input name or missing data is INVALID_ARGUMENT, with HTTP\'s message', async () => {
    const cases: Array<[object, object]> = [
      [{ inputs: [{ name: 'x', datatype: 'INT32', shape: [1, 3], data: [1, 2, 3] }] }, x('INT32', [1, 3], { int_contents: [1, 2, 3] })],
      [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] }, x('FP32', [1, 4], { fp32_contents: [1, 2, 3, 4] })],
      [{ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2] }] }, x('FP32', [1, 3], { fp32_contents: [1, 2] })],
      [{ inputs: [{ name: 'z', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }, { ...x('FP32', [1, 3], { fp32_contents: [1, 2, 3] }), name: 'z' }],
    ];
    for (const [json, input] of cases) {
      const message = await httpError('id_fp32', json);
      await expectStatus(server.client.infer({ model_name: 'id_fp32', inputs: [input] }), status.INVALID_ARGUMENT, message);
    }
    await expectStatus(
      server.client.infer({ model_name: 'id_fp32', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3] }] }),
      status.INVALID_ARGUMENT,
      "input 'x': needs 'contents' or raw_input_contents",
    );
    await stillServing();
  });

  it(`a message over --grpc-max-message-bytes (${LIMIT}) is RESOURCE_EXHAUSTED; one under it is served`, async () => {
    const n = LIMIT / 4 + 16;
    const over = { model_name: 'big', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, n] }], raw_input_contents: [Buffer.alloc(n * 4)] };
    expect(encodeInferRequest(over).length).toBeGreaterThan(LIMIT);
    await expectStatus(server.client.infer(over), status.RESOURCE_EXHAUSTED, /larger than max/);
    const m = LIMIT / 4 - 64;
    const under = { model_name: 'big', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, m] }], raw_input_contents: [Buffer.alloc(m * 4, 1)] };
    const r = await server.client.infer(under);
    expect(outputsOf(r).y!.raw.equals(Buffer.alloc(m * 4, 1))).toBe(true);
    await stillServing();
  });

  it('a full queue (max_queue_size 1, runner occupied) is RESOURCE_EXHAUSTED, with HTTP\'s message', async () => {
    const model = server.model('slow_queue');
    const { running } = await occupyGrpc(server, 'slow_queue');
    const queued = server.client.infer(slowGrpcRequest('slow_queue', 2, 'q'));
    await until(() => model.stats().pending === 2, 'second request queued', 10_000);
    const message = 'queue of priority level 1 is full (max_queue_size 1)';
    await expectStatus(server.client.infer(slowGrpcRequest('slow_queue', 3)), status.RESOURCE_EXHAUSTED, message);
    const http = await post(server.httpPort, '/v2/models/slow_queue/infer', slowRequest(3));
    expect([http.status, http.json()]).toEqual([503, { error: message }]);
    await running;
    const q = await queued;
    expect([q.id, f32(outputsOf(q).y!.raw)[0]]).toEqual(['q', 2]);
    expect(model.stats().failures.queueFull).toBe(2);
  });

  it('a model that is not ready is UNAVAILABLE; the server then is not ready either', async () => {
    const request = { model_name: 'broken', inputs: [x('FP32', [1, 3], { fp32_contents: [1, 2, 3] })] };
    await expectStatus(server.client.infer(request), status.UNAVAILABLE, /'broken' is not ready/);
    await expectStatus(server.client.unary('ModelMetadata', { name: 'broken' }), status.UNAVAILABLE);
    expect(await server.client.unary('ModelReady', { name: 'broken' })).toEqual({ ready: false });
    expect(await server.client.unary('ServerReady')).toEqual({ ready: false });
    expect(await server.client.unary('Check', { service: '' })).toEqual({ status: 'NOT_SERVING' });
    expect((await get(server.httpPort, '/v2/health/ready')).status).toBe(503);
    await stillServing();
  });
});
