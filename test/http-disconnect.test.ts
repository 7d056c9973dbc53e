// Clients that go away, on both transports: mid-body (Content-Length and chunked), while their
// request waits in the batcher's queue (it must be dropped without running), and while it runs (the
// result is discarded). The server keeps serving and nothing crashes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel } from '../src/onnx/models.js';
import {
  ENGINES,
  get,
  makeRepository,
  occupy,
  ONE_THREAD,
  post,
  RawClient,
  serve,
  slowModelBytes,
  slowRequest,
  until,
  type TestServer,
} from './helpers/http-server.js';

const root = makeRepository({
  id_fp32: { bytes: identityModel(ElemType.FLOAT, ['batch', 3]) },
  slow_cancel: {
    bytes: slowModelBytes(250),
    config: { max_batch_size: 1, dynamic_batching: {}, parameters: ONE_THREAD },
  },
});

const small = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
const inferHead = (model: string, length: number) => `POST /v2/models/${model}/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(ENGINES)('disconnects over %s', (engine) => {
  let server: TestServer;
  let port: number;
  beforeAll(async () => {
    server = await serve(engine, { modelRepository: root });
    port = server.port;
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function stillServing(): Promise<void> {
    expect((await get(port, '/v2/health/live')).status).toBe(200);
    const r = await post(port, '/v2/models/id_fp32/infer', small);
    expect(r.status).toBe(200);
    expect(r.json().outputs[0].data).toEqual([1, 2, 3]);
  }

  it('mid-body (Content-Length and chunked): nothing runs, the server keeps serving', async () => {
    const model = server.model('id_fp32');
    const before = model.stats().inferenceCount;
    const clients: RawClient[] = [];
    for (let i = 0; i < 10; i++) {
      const client = new RawClient(port);
      clients.push(client);
      await client.write(inferHead('id_fp32', small.length + 100) + small.slice(0, 10 + i));
      const chunked = new RawClient(port);
      clients.push(chunked);
      await chunked.write(`POST /v2/models/id_fp32/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"inp\r\n`);
    }
    await sleep(30);
    for (const c of clients) {
      expect(c.received.length).toBe(0); // no answer to a body not yet complete
      c.destroy();
    }
    // A client that half-closes after a partial body (FIN instead of RST).
    const halfClosed = new RawClient(port);
    await halfClosed.write(inferHead('id_fp32', small.length) + small.slice(0, 20));
    halfClosed.socket.end();
    await sleep(50);
    halfClosed.destroy();

    await stillServing();
    expect(model.stats().inferenceCount).toBe(before + 1); // only stillServing's request ran
  });

  it('mid-inference while queued: the request is dropped without running', async () => {
    const model = server.model('slow_cancel');
    const base = model.stats();
    const { running: blocker } = await occupy(server, 'slow_cancel');
    const client = new RawClient(port);
    const body = slowRequest(5);
    await client.write(inferHead('slow_cancel', Buffer.byteLength(body)) + body);
    await until(() => model.stats().pending === 2, 'request queued behind the blocker', 10_000);
    client.destroy();
    await until(() => model.stats().failures.cancelled === base.failures.cancelled + 1, 'queued request cancelled', 10_000);
    expect((await blocker).status).toBe(200);
    await until(() => model.stats().pending === 0, 'pending back to 0', 10_000);
    const stats = model.stats();
    expect(stats.inferenceCount).toBe(base.inferenceCount + 1); // the blocker only
    expect(stats.success.count).toBe(base.success.count + 1);
    // The statistics endpoint agrees.
    const http = (await get(port, '/v2/models/slow_cancel/stats')).json().model_stats[0];
    expect(http.inference_count).toBe(base.inferenceCount + 1);
    expect(http.inference_stats.success.count).toBe(base.success.count + 1);
    await stillServing();
  });

  it('mid-inference while running: the run completes, its response is discarded, nothing crashes', async () => {
    const model = server.model('slow_cancel');
    const base = model.stats();
    const client = new RawClient(port);
    const body = slowRequest(6);
    await client.write(inferHead('slow_cancel', Buffer.byteLength(body)) + body);
    await until(() => model.stats().queue.count > base.queue.count, 'request taken by the runner', 10_000);
    client.destroy();
    await until(() => model.stats().pending === 0, 'run finished', 10_000);
    expect(model.stats().success.count).toBe(base.success.count + 1);
    await stillServing();
    // And the model still answers.
    const r = await post(port, '/v2/models/slow_cancel/infer', slowRequest(7));
    expect(r.status).toBe(200);
    expect(r.json().outputs[0].data[0]).toBe(7);
  });

  it('many clients vanishing at every stage alongside normal traffic', async () => {
    const model = server.model('slow_cancel');
    const { running: blocker } = await occupy(server, 'slow_cancel');
    const body = slowRequest(8);
    const full = inferHead('slow_cancel', Buffer.byteLength(body)) + body;
    const vanishing: Array<Promise<void>> = [];
    for (let i = 0; i < 20; i++) {
      vanishing.push(
        (async () => {
          const c = new RawClient(port);
          // Cut at a different point each time: in the request line, the headers, the body, or after it.
          await c.write(full.slice(0, Math.floor((full.length * (i + 1)) / 20)));
          await sleep(5 + (i % 4) * 5);
          c.destroy();
        })(),
      );
    }
    const normal = Array.from({ length: 10 }, () => post(port, '/v2/models/id_fp32/infer', small));
    await Promise.all(vanishing);
    for (const r of await Promise.all(normal)) expect(r.status).toBe(200);
    expect((await blocker).status).toBe(200);
    await until(() => model.stats().pending === 0, 'queue drained', 15_000);
    await stillServing();
  });
});
