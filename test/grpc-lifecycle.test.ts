// A gRPC call's life beyond its answer: the deadline (DEADLINE_EXCEEDED, and the queued request
// never runs), a client's cancel (its queued request never runs), and graceful shutdown (calls and
// stream requests in flight complete; meanwhile, on open connections, health still answers and new
// work gets UNAVAILABLE; open streams end UNAVAILABLE), in-process and as a `tensorgate serve`
// process sent SIGTERM.
import { status, type StatusObject } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel } from '../src/onnx/models.js';
import { freePort, makeRepository, ONE_THREAD, until } from './helpers/fixtures.js';
import { decodeStreamResponse, encodeInferRequest, expectStatus, f32, GrpcClient, outputsOf } from './helpers/grpc-client.js';
import { occupyGrpc, serveGrpc, slowGrpcRequest, type GrpcTestServer } from './helpers/grpc-server.js';
import { spawnServe, type ChildServer } from './helpers/http-child.js';
import { get, slowModelBytes } from './helpers/http-server.js';

const repo = makeRepository({
  id_fp32: { bytes: identityModel(ElemType.FLOAT, ['batch', 3]) },
  slow: { bytes: slowModelBytes(300), config: { max_batch_size: 1, dynamic_batching: {}, parameters: ONE_THREAD } },
});

const SHUTTING_DOWN = 'the server is shutting down';
const small = { model_name: 'id_fp32', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], contents: { fp32_contents: [1, 2, 3] } }] };

let server: GrpcTestServer | undefined;
let child: ChildServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
  child?.kill();
  child = undefined;
});

describe('gRPC deadlines and cancellation', () => {
  it('a deadline that passes in the queue: DEADLINE_EXCEEDED, and the request never runs', async () => {
    server = await serveGrpc({ modelRepository: repo });
    const model = server.model('slow');
    const before = model.stats();
    const { running } = await occupyGrpc(server, 'slow');
    await expectStatus(server.client.infer(slowGrpcRequest('slow', 1), { deadlineMs: 60 }), status.DEADLINE_EXCEEDED);
    await running;
    await until(() => model.stats().pending === 0, 'queue empty', 5000);
    const after = model.stats();
    expect(after.inferenceCount - before.inferenceCount).toBe(1);
    expect(after.failures.timeout + after.failures.cancelled - before.failures.timeout - before.failures.cancelled).toBe(1);
    const metrics = (await get(server.httpPort, '/metrics')).text();
    // The server's deadline and the client's (which cancels the stream when it passes) race: on a
    // starved machine the client's RST_STREAM can arrive first, and the server counts CANCELLED.
    expect(metrics).toMatch(/^tensorgate_grpc_requests_total\{method="ModelInfer",kind="unary",code="(DEADLINE_EXCEEDED|CANCELLED)"\} 1$/m);
    // A deadline that leaves time enough is no obstacle.
    expect(f32(outputsOf(await server.client.infer(slowGrpcRequest('slow', 5), { deadlineMs: 5000 })).y!.raw)[0]).toBe(5);
  });

  it("a client's cancel drops its queued request without running it", async () => {
    server = await serveGrpc({ modelRepository: repo });
    const model = server.model('slow');
    const before = model.stats();
    const { running } = await occupyGrpc(server, 'slow');
    const abort = new AbortController();
    const cancelled = server.client.infer(slowGrpcRequest('slow', 1), { signal: abort.signal });
    await until(() => model.stats().pending === 2, 'request queued', 5000);
    abort.abort();
    await expectStatus(cancelled, status.CANCELLED);
    await until(() => model.stats().failures.cancelled > before.failures.cancelled, 'the server drops it', 5000);
    await running;
    expect(model.stats().inferenceCount - before.inferenceCount).toBe(1);
    expect(model.stats().failures.cancelled - before.failures.cancelled).toBe(1);
  });
});

describe('gRPC graceful shutdown', () => {
  it('finishes calls and stream requests in flight; meanwhile health answers and new work is UNAVAILABLE', async () => {
    server = await serveGrpc({ modelRepository: repo });
    const { client } = server;
    const model = server.model('slow');
    const { running } = await occupyGrpc(server, 'slow');
    // A stream with a request queued behind the blocker, and an idle stream.
    const busy = client.stream();
    const busyAnswers: any[] = [];
    busy.on('data', (b: Buffer) => busyAnswers.push(decodeStreamResponse(b)));
    const busyStatus = new Promise<StatusObject>((resolve) => busy.on('status', resolve));
    busy.on('error', () => undefined);
    busy.write(encodeInferRequest(slowGrpcRequest('slow', 7, 'queued')));
    const idle = client.stream();
    idle.on('error', () => undefined);
    const idleStatus = new Promise<StatusObject>((resolve) => idle.on('status', resolve));
    await until(() => model.stats().pending === 2, 'stream request queued', 5000);

    const stopped = server.running.stop();
    expect(await client.unary('ServerLive')).toEqual({ live: true });
    expect(await client.unary('ServerReady')).toEqual({ ready: false });
    expect(await client.unary('Check', { service: '' })).toEqual({ status: 'NOT_SERVING' });
    expect(await client.unary('ModelReady', { name: 'id_fp32' })).toEqual({ ready: false });
    await expectStatus(client.unary('ModelMetadata', { name: 'id_fp32' }), status.UNAVAILABLE, SHUTTING_DOWN);
    await expectStatus(client.infer(small), status.UNAVAILABLE, SHUTTING_DOWN);
    busy.write(encodeInferRequest({ ...small, id: 'refused' })); // on a stream opened before: refused, stream open
    const late = client.stream();
    late.on('error', () => undefined);
    expect((await new Promise<StatusObject>((resolve) => late.on('status', resolve))).details).toBe(SHUTTING_DOWN);
    // New connections are refused.
    const fresh = new GrpcClient(server.grpcPort);
    await expectStatus(fresh.unary('ServerLive', {}, { deadlineMs: 2000 }), status.UNAVAILABLE);
    fresh.close();

    expect(f32(outputsOf(await running).y!.raw)[0]).toBe(-1);
    expect(await stopped).toBe(true);
    expect(busyAnswers.map((a) => [a.error_message, a.infer_response.id])).toEqual([
      [SHUTTING_DOWN, 'refused'],
      ['', 'queued'],
    ]);
    expect(f32(outputsOf(busyAnswers[1].infer_response).y!.raw)[0]).toBe(7);
    expect(await busyStatus).toMatchObject({ code: status.UNAVAILABLE, details: SHUTTING_DOWN });
    expect(await idleStatus).toMatchObject({ code: status.UNAVAILABLE, details: SHUTTING_DOWN });
  });

  it('`tensorgate serve --grpc-port N`: SIGTERM lets a call in flight complete, then exits 0', async () => {
    const port = await freePort();
    child = await spawnServe(['--model-repository', repo, '--grpc-port', String(port)]);
    const listening = await child.waitLog(/^gRPC listening$/);
    expect(listening.port).toBe(port);
    const client = new GrpcClient(port);
    try {
      const slow = client.infer(slowGrpcRequest('slow', 3, 'inflight'));
      await until(async () => {
        const stats = await client.unary('ModelStatistics', { name: 'slow' });
        return Number(stats.model_stats[0].inference_stats.queue.count) > 0;
      }, 'the call runs', 10_000);
      child.child.kill('SIGTERM');
      const r = await slow;
      expect([r.id, f32(outputsOf(r).y!.raw)[0]]).toEqual(['inflight', 3]);
      expect(await child.exited).toBe(0);
    } finally {
      client.close();
    }
  });
});
