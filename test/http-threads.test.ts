// --http-threads: several uWS threads accept on one port, the plain models' inferences are served on
// whichever thread the connection landed on, everything else by the main thread, and the process
// stays one server: one /metrics, one repository (swaps and unloads wait for requests on every
// thread), one response cache, tracing of every request, a graceful shutdown of every thread.
//
// Requests go on fresh connections (request() uses no agent): the kernel spreads connections over
// the threads' sockets by hashing their addresses, so with T threads and n connections the chance
// that one thread gets none is at most T·((T-1)/T)^n (3 threads, 60 connections: 1.1e-10).
import { afterEach, describe, expect, it } from 'vitest';
import { mlpModel, offsetModel, slowBatchModel, tinyModel } from '../src/onnx/models.js';
import { serveOptionsSchema } from '../src/cli/options.js';
import { startServer } from '../src/cli/serve.js';
import { availableCores, quotaFromCfs, quotaFromCpuMax } from '../src/cli/cores.js';
import { availableParallelism } from 'node:os';
import { metric } from './helpers/cache-http-kit.js';
import { ENGINES, get, makeRepository, post, RawClient, request, serve, slowRequest, SLOW_SIZE, until, type HttpResult, type TestServer } from './helpers/http-server.js';
import { putModel, tempRepo } from './helpers/fixtures.js';
import { OtlpReceiver } from './helpers/otlp-receiver.js';

const X = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i) }] });
const offsetBody = (fill: number) => JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [fill, fill, fill, fill] }] });
const ONE_RUNNER = { intra_op_thread_count: { string_value: '1' } };

let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function scrape(port: number): Promise<string> {
  const r = await get(port, '/metrics');
  expect(r.status).toBe(200);
  return r.text();
}

/** Requests answered by each thread (tensorgate_http_thread_requests_total). */
function perThread(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^tensorgate_http_thread_requests_total\{thread="(\d+)"\} (\S+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

// The threads are uWS's (node:http cannot share a port): skipped on a Node whose ABI uWS ships no binary for.
describe.skipIf(!ENGINES.includes('uws'))('--http-threads', () => {
  it('serves a plain model on every thread, and /metrics counts every thread once', async () => {
    server = await serve('uws', { modelRepository: makeRepository({ tiny: { bytes: tinyModel() } }), httpThreads: 3 });
    expect(server.running.httpThreads).toBe(3);
    const n = 60;
    const results = await Promise.all(Array.from({ length: n }, () => post(server!.port, '/v2/models/tiny/infer', X)));
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.json().outputs[0].data).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    }
    const text = await scrape(server.port);
    const threads = perThread(text);
    expect([...threads.keys()].sort()).toEqual(['0', '1', '2']);
    // The worker threads answered some of the inferences themselves (see the bound at the top).
    expect(threads.get('1')! + threads.get('2')!).toBeGreaterThan(0);
    expect([...threads.values()].filter((v) => v > 0).length).toBeGreaterThanOrEqual(2);
    // Every request counted once, whichever thread answered it.
    expect(metric(text, 'tensorgate_http_requests_total', { route: '/v2/models/{m}/infer', method: 'POST', status: '200' })).toBe(n);
    expect(metric(text, 'tensorgate_http_request_duration_seconds_count', { route: '/v2/models/{m}/infer' })).toBe(n);
    expect(metric(text, 'tensorgate_inference_request_duration_seconds_count', { model: 'tiny', version: '1' })).toBe(n);
    expect(metric(text, 'nv_inference_request_success', { model: 'tiny', version: '1' })).toBe(n);
    // One model, loaded once: every thread's requests went to the same native model.
    expect(server.model('tiny').stats().success.count).toBe(n);
  });

  it('answers the control plane and shares the response cache whichever thread a connection lands on', async () => {
    const root = makeRepository({ cached: { bytes: tinyModel(), config: { response_cache: { enable: true } } }, tiny: { bytes: tinyModel() } });
    server = await serve('uws', { modelRepository: root, httpThreads: 3, cache: ['local,size=1MiB'], modelControlMode: 'explicit', adminToken: 'secret' });
    const auth = { authorization: 'Bearer secret' };
    // Loads from 12 connections: the repository API works from every thread (and needs the token on each).
    const loads = await Promise.all(Array.from({ length: 12 }, (_, i) => post(server!.port, `/v2/repository/models/${i % 2 ? 'tiny' : 'cached'}/load`, {}, auth)));
    expect(loads.map((r) => r.status)).toEqual(new Array(12).fill(200));
    expect((await post(server.port, '/v2/repository/models/tiny/load', {})).status).toBe(401);
    const index = await post(server.port, '/v2/repository/index', {}, auth);
    expect(index.json().map((e: { name: string; state: string }) => [e.name, e.state])).toEqual([
      ['cached', 'READY'],
      ['tiny', 'READY'],
    ]);
    // One cache for the process: the same request on 30 connections computes once.
    const n = 30;
    for (let i = 0; i < n; i++) expect((await post(server.port, '/v2/models/cached/infer', X)).status).toBe(200);
    const text = await scrape(server.port);
    expect(metric(text, 'nv_cache_num_hits_per_model', { model: 'cached' })).toBe(n - 1);
    expect(server.model('cached').stats().success.count).toBe(1);
    // Metadata, readiness, stats: answered on any thread, the same everywhere.
    const metas = await Promise.all(Array.from({ length: 12 }, () => get(server!.port, '/v2/models/tiny')));
    expect(new Set(metas.map((r) => r.text())).size).toBe(1);
    expect((await get(server.port, '/v2/models/tiny/ready')).status).toBe(200);
  });

  it('a swap while serving loses no request, and the old copy unloads once every thread let it go', async () => {
    const { root } = tempRepo();
    putModel(root, 'm', 1, offsetModel({ offset: 1 }));
    server = await serve('uws', { modelRepository: root, httpThreads: 3, modelControlMode: 'poll', repositoryPollSecs: 0.1 });
    const old = server.model('m');
    let stop = false;
    const answers: number[] = [];
    const failures: HttpResult[] = [];
    const client = async () => {
      while (!stop) {
        const r = await post(server!.port, '/v2/models/m/infer', offsetBody(10));
        if (r.status === 200) answers.push(r.json().outputs[0].data[0] as number);
        else failures.push(r);
      }
    };
    const clients = Array.from({ length: 12 }, client);
    await until(() => answers.length >= 30, 'requests before the swap');
    putModel(root, 'm', 1, offsetModel({ offset: 2 }));
    await until(() => answers.slice(-20).length === 20 && answers.slice(-20).every((v) => v === 12), 'the new copy answering', 20_000);
    stop = true;
    await Promise.all(clients);
    expect(failures.map((r) => `${r.status} ${r.text()}`)).toEqual([]);
    expect(answers.every((v) => v === 11 || v === 12)).toBe(true);
    // The old copy drained on every thread, then unloaded (its lease from the worker threads came back).
    await until(() => !old.accepting && old.stats().pending === 0, 'the old copy unloaded', 10_000);
    expect(server.model('m')).not.toBe(old);
  });

  it('unloading waits for the requests other threads have in flight', async () => {
    const root = makeRepository({ slow: { bytes: slowBatchModel({ ms: 150, size: SLOW_SIZE }), config: { max_batch_size: 0, parameters: ONE_RUNNER } } });
    server = await serve('uws', { modelRepository: root, httpThreads: 3, modelControlMode: 'explicit', loadModel: ['slow'] });
    const model = server.model('slow');
    const inflight = Array.from({ length: 8 }, (_, i) => post(server!.port, '/v2/models/slow/infer', slowRequest(i)));
    await until(() => model.stats().pending === 8, 'every request accepted');
    const unloaded = post(server.port, '/v2/repository/models/slow/unload', {});
    const results = await Promise.all(inflight);
    expect(results.map((r) => r.status)).toEqual(new Array(8).fill(200));
    results.forEach((r, i) => expect(r.json().outputs[0].data[0]).toBe(i));
    expect((await unloaded).status).toBe(200);
    expect(model.accepting).toBe(false);
    const after = await Promise.all(Array.from({ length: 6 }, () => post(server!.port, '/v2/models/slow/infer', slowRequest(1))));
    expect(after.map((r) => r.status)).toEqual(new Array(6).fill(503));
  });

  it('traces every request of a traced model, whichever thread it came in on', async () => {
    const receiver = await new OtlpReceiver().start();
    try {
      server = await serve('uws', {
        modelRepository: makeRepository({ tiny: { bytes: tinyModel() } }),
        httpThreads: 3,
        traceConfig: [`level=OFF,rate=1,url=${receiver.url}`, 'bsp_schedule_delay=20'],
      });
      const before = await Promise.all(Array.from({ length: 20 }, () => post(server!.port, '/v2/models/tiny/infer', X)));
      expect(before.every((r) => r.status === 200 && r.headers.traceparent === undefined)).toBe(true);
      expect((await post(server.port, '/v2/models/tiny/trace/setting', { trace_level: ['TIMESTAMPS'] })).status).toBe(200);
      const n = 30;
      const traced = await Promise.all(Array.from({ length: n }, () => post(server!.port, '/v2/models/tiny/infer', X)));
      expect(traced.every((r) => r.status === 200 && typeof r.headers.traceparent === 'string')).toBe(true);
      await server.running.tracing.flush();
      const ids = new Set(traced.map((r) => String(r.headers.traceparent).split('-')[1]));
      await until(() => [...ids].every((id) => receiver.trace(id!).length > 0), 'a trace for every request');
    } finally {
      await receiver.close();
    }
  });

  it('shuts down gracefully: requests in flight on every thread complete, then every thread exits', async () => {
    const root = makeRepository({ slow: { bytes: slowBatchModel({ ms: 200, size: SLOW_SIZE }), config: { max_batch_size: 0, parameters: ONE_RUNNER } } });
    server = await serve('uws', { modelRepository: root, httpThreads: 3 });
    const model = server.model('slow');
    // Idle keep-alive connections on every thread: a thread that exited while its uWS still polled one
    // would abort this process (this uWS build has no App.close()); they are closed instead.
    const idle = Array.from({ length: 12 }, () => new RawClient(server!.port));
    for (const c of idle) await c.write('GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n');
    for (const c of idle) expect((await c.response()).status).toBe(200);
    const inflight = Array.from({ length: 9 }, (_, i) => post(server!.port, '/v2/models/slow/infer', slowRequest(i)));
    await until(() => model.stats().pending === 9, 'every request accepted');
    const threads = server.running.threads!;
    const stopped = server.stop();
    const results = await Promise.all(inflight);
    expect(results.map((r) => r.status)).toEqual(new Array(9).fill(200));
    expect(await stopped).toBe(true);
    for (const c of idle) expect(await c.waitClosed(10_000)).toBe(true);
    expect(threads.snapshots().length).toBe(2); // the exited threads' counts are kept
    await expect(request(server.port, 'GET', '/v2/health/live')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    server = undefined;
  });

  it('binary replies, compression and larger bodies come back identical from every thread', async () => {
    server = await serve('uws', { modelRepository: makeRepository({ mlp: { bytes: mlpModel() } }), httpThreads: 2 });
    const x = Array.from({ length: 256 * 8 }, (_, i) => Math.sin(i));
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [8, 256], datatype: 'FP32', data: x }], outputs: [{ name: 'y', parameters: { binary_data: true } }] });
    const answers = await Promise.all(Array.from({ length: 16 }, () => post(server!.port, '/v2/models/mlp/infer', body, { 'accept-encoding': 'gzip' })));
    const first = answers[0]!.body;
    for (const r of answers) {
      expect(r.status).toBe(200);
      expect(r.body.equals(first)).toBe(true);
    }
  });
});

describe('--http-threads options', () => {
  it('defaults to the CPUs the process can use: its affinity, capped by a cgroup CPU limit (a container)', () => {
    expect(quotaFromCpuMax('200000 100000\n')).toBe(2);
    expect(quotaFromCpuMax('150000 100000')).toBe(2); // 1.5 CPUs: two threads, rounded up
    expect(quotaFromCpuMax('50000 100000')).toBe(1);
    expect(quotaFromCpuMax('max 100000')).toBeUndefined();
    expect(quotaFromCfs('-1', '100000')).toBeUndefined();
    expect(quotaFromCfs('400000\n', '100000\n')).toBe(4);
    const cores = availableCores();
    expect(cores).toBeGreaterThanOrEqual(1);
    expect(cores).toBeLessThanOrEqual(availableParallelism());
  });

  it('is refused with node:http (it cannot share a port between threads), and node:http serves on one thread by default', async () => {
    const root = makeRepository({ tiny: { bytes: tinyModel() } });
    const base = { modelRepository: root, httpPort: 0, grpcPort: 0, logLevel: 'silent' };
    await expect(startServer(serveOptionsSchema.parse({ ...base, httpEngine: 'node', httpThreads: 2 }))).rejects.toThrow(/--http-threads 2 needs the uWebSockets.js transport/);
    const running = await startServer(serveOptionsSchema.parse({ ...base, httpEngine: 'node' }));
    try {
      expect(running.httpThreads).toBe(1);
      expect(running.threads).toBeUndefined();
    } finally {
      await running.stop();
    }
  });

  it.skipIf(!ENGINES.includes('uws'))('one thread is the single-threaded server: no worker, no per-thread metric', async () => {
    server = await serve('uws', { modelRepository: makeRepository({ tiny: { bytes: tinyModel() } }), httpThreads: 1 });
    expect(server.running.threads).toBeUndefined();
    expect((await post(server.port, '/v2/models/tiny/infer', X)).status).toBe(200);
    expect(await scrape(server.port)).not.toContain('tensorgate_http_thread_requests_total');
  });
});
