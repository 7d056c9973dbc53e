// Graceful shutdown under load, on both transports: in-process through startServer().stop(), and a
// real `tensorgate serve` child process sent SIGTERM. Every request the server had accepted gets a
// complete 200; requests racing the signal get a complete response or a clean refusal/reset before
// any response byte, never a truncated response; readiness is 503 during the drain (seen on a
// connection opened before it); new work on such a connection gets 503 with Retry-After; the child
// exits 0. Also: a model that fails to load must not take the process down.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel } from '../src/onnx/models.js';
import { spawnServe, type ChildServer } from './helpers/http-child.js';
import {
  binaryBody,
  bytesOf,
  decodeInferResponse,
  ENGINES,
  get,
  makeRepository,
  ONE_THREAD,
  post,
  RawClient,
  serve,
  SLOW_SIZE,
  slowModelBytes,
  slowRequest,
  until,
  type TestServer,
} from './helpers/http-server.js';

const root = makeRepository({
  id_fp32: { bytes: identityModel(ElemType.FLOAT, ['batch', 3]) },
  big: { bytes: identityModel(ElemType.FLOAT, ['batch', 'n']) },
  slow_drain: {
    bytes: slowModelBytes(40),
    config: { max_batch_size: 2, dynamic_batching: {}, parameters: ONE_THREAD },
  },
});

const ACCEPTED = 24; // confirmed in the batcher before the signal: each must get a complete 200
const RACING = 8; // sent just before the signal: complete response or clean refusal/reset
const CLEAN_ERRORS = ['ECONNREFUSED', 'ECONNRESET', 'EPIPE'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Outcome = { kind: 'response'; status: number; body: any } | { kind: 'error'; code: string; message: string };

/** One infer request; a response cut short shows as error code TRUNCATED (see helpers/request). */
async function attempt(port: number, fill: number): Promise<Outcome> {
  try {
    const r = await post(port, '/v2/models/slow_drain/infer', slowRequest(fill, undefined, `r${fill}`));
    let body: any;
    try {
      body = r.json();
    } catch {
      return { kind: 'error', code: 'BAD_BODY', message: r.text().slice(0, 200) };
    }
    return { kind: 'response', status: r.status, body };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { kind: 'error', code: e.code ?? 'UNKNOWN', message: e.message };
  }
}

function expectCompleteOk(outcome: Outcome, fill: number): void {
  expect(outcome, JSON.stringify(outcome)).toMatchObject({ kind: 'response', status: 200 });
  const body = (outcome as { body: any }).body;
  expect(body.id).toBe(`r${fill}`);
  expect(body.outputs[0].shape).toEqual([1, SLOW_SIZE]);
  expect(body.outputs[0].data).toHaveLength(SLOW_SIZE);
  expect(body.outputs[0].data.every((v: number) => v === fill)).toBe(true);
}

/** A request racing the shutdown: complete 200, complete 503 (shutting down), or a clean refusal/reset. */
function expectCleanRace(outcome: Outcome, fill: number): void {
  if (outcome.kind === 'error') {
    expect(CLEAN_ERRORS, `${outcome.code}: ${outcome.message}`).toContain(outcome.code);
  } else if (outcome.status === 200) {
    expectCompleteOk(outcome, fill);
  } else {
    expect(outcome.status, JSON.stringify(outcome.body)).toBe(503);
    expect(outcome.body).toEqual({ error: 'the server is shutting down' });
  }
}

/** A connection with a request partly sent (not idle, so a closing server keeps it); finish() sends the rest. */
async function openProbe(port: number, head: string, rest: string): Promise<{ client: RawClient; finish: () => Promise<void> }> {
  const client = new RawClient(port);
  await client.write(head);
  return { client, finish: () => client.write(rest) };
}

/** POST whose response is read only once `gate` resolves (a client slower than the server). */
function slowReader(
  port: number,
  path: string,
  body: Buffer,
  headers: Record<string, string | number>,
  gate: Promise<void>,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path, agent: false, headers: { ...headers, 'content-length': body.length } },
      (res) => {
        res.pause();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.complete) resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          else reject(Object.assign(new Error('response truncated'), { code: 'TRUNCATED' }));
        });
        res.on('aborted', () => reject(Object.assign(new Error('response truncated'), { code: 'TRUNCATED' })));
        res.on('error', reject);
        void gate.then(() => res.resume());
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function metricValue(text: string, name: string, model: string): number {
  const m = new RegExp(`^${name}\\{model="${model}",version="1"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe.each(ENGINES)('graceful shutdown over %s', (engine) => {
  let server: TestServer | undefined;
  let child: ChildServer | undefined;
  afterEach(async () => {
    child?.kill();
    child = undefined;
    await server?.stop();
    server = undefined;
  });

  it('in-process stop(): in-flight requests complete, readiness 503 while draining, new work refused', async () => {
    server = await serve(engine, { modelRepository: root });
    const { port } = server;
    const model = server.model('slow_drain');
    const base = model.stats().success.count;
    expect((await get(port, '/v2/health/ready')).status).toBe(200);

    const ready = await openProbe(port, 'GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n', '\r\n');
    const body = slowRequest(0);
    const inferProbe = await openProbe(
      port,
      `POST /v2/models/slow_drain/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`,
      body.slice(10),
    );

    const accepted = Array.from({ length: ACCEPTED }, (_, i) => attempt(port, i + 1));
    await until(() => {
      const s = model.stats();
      return s.pending + s.success.count - base >= ACCEPTED;
    }, 'every request in the batcher', 20_000);
    expect(model.stats().pending).toBeGreaterThan(2); // work left to drain
    const racing = Array.from({ length: RACING }, (_, i) => attempt(port, 100 + i));
    await sleep(3);

    const stopped = server.stop();
    // Readiness on the connection opened before the signal: 503 while draining.
    await ready.finish();
    const r = await ready.client.response();
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body.toString())).toEqual({ ready: false });
    // New work on an open connection: 503 with Retry-After, and the connection is closed.
    await inferProbe.finish();
    const refused = await inferProbe.client.response();
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(JSON.parse(refused.body.toString())).toEqual({ error: 'the server is shutting down' });
    expect(model.stats().pending).toBeGreaterThan(0); // both answers came during the drain
    // New connections are refused.
    const late = await attempt(port, 999);
    expect(late).toMatchObject({ kind: 'error' });
    expect(CLEAN_ERRORS).toContain((late as { code: string }).code);

    const outcomes = await Promise.all(accepted);
    outcomes.forEach((o, i) => expectCompleteOk(o, i + 1));
    (await Promise.all(racing)).forEach((o, i) => expectCleanRace(o, 100 + i));
    expect(await stopped).toBe(true); // drained within the timeout
    expect(model.stats().pending).toBe(0);
    ready.client.destroy();
    inferProbe.client.destroy();
  });

  it.each([
    ['large (4 MiB) responses being written', undefined],
    ['gzip-compressed responses being compressed', 'gzip'],
  ] as const)('in-process stop(): %s when the signal comes are delivered complete', async (_what, encoding) => {
    server = await serve(engine, { modelRepository: root });
    const { port } = server;
    const model = server.model('big');
    const n = 1 << 18;
    const requests = 4;
    const send = (k: number) => {
      const x = new Float32Array(4 * n).fill(k + 0.5);
      const { body, headerLength } = binaryBody(
        { inputs: [{ name: 'x', datatype: 'FP32', shape: [4, n], parameters: { binary_data_size: x.byteLength } }], parameters: { binary_data_output: true } },
        [bytesOf(x)],
      );
      return slowReader(port, '/v2/models/big/infer', body, {
        'inference-header-content-length': headerLength,
        ...(encoding ? { 'accept-encoding': encoding } : {}),
      }, readGate).then(
        (r) => ({ status: r.status, headers: r.headers, body: r.body }),
        (err: NodeJS.ErrnoException) => ({ error: err.code ?? err.message }),
      );
    };
    // The clients read their responses only from 300 ms after the signal (well within the 30 s
    // shutdown timeout), so the response bytes are still being written while the server drains.
    let openGate!: () => void;
    const readGate = new Promise<void>((r) => (openGate = r));
    const pending = Array.from({ length: requests }, (_, k) => send(k));
    // Every request has reached the model (queued, running or done) before the signal.
    await until(() => {
      const s = model.stats();
      return s.pending + s.success.count >= requests;
    }, 'every request accepted', 20_000);
    const drained = server.stop();
    setTimeout(openGate, 300);
    const results = await Promise.all(pending);
    // Accepted requests complete even when their bytes are still being compressed or written
    // (backpressure) while the server drains.
    results.forEach((r, k) => {
      expect(r, 'error' in r ? r.error : `status ${r.status}`).toMatchObject({ status: 200 });
      const ok = r as { headers: Record<string, unknown>; body: Buffer };
      const body = encoding ? gunzipSync(ok.body) : ok.body;
      const d = decodeInferResponse(ok.headers as Record<string, string>, body);
      expect(d.binary.y!.length).toBe(16 * n);
      const y = new Float32Array(d.binary.y!.buffer.slice(d.binary.y!.byteOffset, d.binary.y!.byteOffset + d.binary.y!.length));
      expect(y[0]).toBe(k + 0.5);
      expect(y[y.length - 1]).toBe(k + 0.5);
    });
    expect(await drained).toBe(true);
  });

  it('SIGTERM to a `tensorgate serve` child process under load: drains, then exits 0', async () => {
    // The requests pile up in a slow model's queue on purpose: no admission deadline.
    child = await spawnServe(['--model-repository', root, '--http-engine', engine, '--default-request-timeout', '0']);
    const { port } = child;
    expect((await get(port, '/v2/health/ready')).status).toBe(200);
    const ready = await openProbe(port, 'GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n', '\r\n');

    const accepted = Array.from({ length: ACCEPTED }, (_, i) => attempt(port, i + 1));
    await until(
      async () => {
        const text = (await get(port, '/metrics')).text();
        return (
          // In flight (queued or executing) or done: accepted by the batcher.
          metricValue(text, 'tensorgate_inflight_requests', 'slow_drain') + metricValue(text, 'nv_inference_request_success', 'slow_drain') >=
          ACCEPTED
        );
      },
      'every request in the batcher',
      20_000,
    );
    const racing = Array.from({ length: RACING }, (_, i) => attempt(port, 100 + i));
    await sleep(3);

    child.child.kill('SIGTERM');
    await child.waitLog(/^shutting down/);
    await ready.finish();
    const r = await ready.client.response();
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body.toString())).toEqual({ ready: false });

    const outcomes = await Promise.all(accepted);
    outcomes.forEach((o, i) => expectCompleteOk(o, i + 1));
    (await Promise.all(racing)).forEach((o, i) => expectCleanRace(o, 100 + i));
    expect(await child.exited, child.stderr()).toBe(0);
    expect((await child.waitLog(/^stopped$/)).drained).toBe(true);
    const after = await attempt(port, 999);
    expect(after).toMatchObject({ kind: 'error', code: 'ECONNREFUSED' });
    ready.client.destroy();
  });
});

describe('a model that fails to load', () => {
  let child: ChildServer | undefined;
  afterEach(() => {
    child?.kill();
    child = undefined;
  });

  it('does not take the `tensorgate serve` process down: it serves the others, then exits 0 on SIGTERM', async () => {
    const repo = makeRepository({
      id_fp32: { bytes: identityModel(ElemType.FLOAT, ['batch', 3]) },
      broken: { bytes: Buffer.from('this is not an onnx model') },
    });
    // Regression: the process used to die at startup with exit code 1 (an unhandled rejection of
    // ModelRepository#sync's `entry.busy = run.finally(...)` when the load failed).
    child = await spawnServe(['--model-repository', repo, '--http-engine', 'node']);
    const { port } = child;
    const ready = await get(port, '/v2/models/broken/ready');
    expect(ready.status).toBe(503);
    const ok = await post(port, '/v2/models/id_fp32/infer', { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    expect(ok.status).toBe(200);
    child.child.kill('SIGTERM');
    expect(await child.exited, child.stderr()).toBe(0);
  });
});
