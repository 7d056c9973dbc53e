// JavaScript models (config `"backend": "js"`) over real HTTP: model code on piscina worker threads,
// the contracts of Triton's Python backend (initialize / execute(requests) / finalize, one response
// per request), dynamic batching, per-request errors, crash and out-of-memory isolation with worker
// replacement, timeouts bounding a hung execute, cancellation of queued requests, readiness that tells
// the truth when workers cannot start, and version swaps under load with no failed request.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempRepo } from './helpers/fixtures.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { fp32, indexOf, infer, metricsText, metricValue, putJsModel, tensor, until, v2Request } from './helpers/pipelines.js';

const BEHAVIOURS = readFileSync(new URL('./fixtures/js-models/behaviours.mjs', import.meta.url), 'utf8');
const ARGS = readFileSync(new URL('./fixtures/js-models/args.cjs', import.meta.url), 'utf8');

const io = { input: [tensor('x', 'TYPE_FP32', [3])], output: [tensor('y', 'TYPE_FP32', [3]), tensor('n', 'TYPE_INT32', [1])] };
const param = (v: string) => ({ string_value: v });
const row = (v: number) => fp32([[v, v + 1, v + 2]]);

describe('JavaScript models over HTTP', () => {
  const repo = tempRepo();
  const log = (name: string) => join(repo.staging, `${name}.log`);
  const marker = join(repo.staging, 'block-init');
  let server: TestServer;

  beforeAll(async () => {
    const root = repo.root;
    putJsModel(root, 'pair', BEHAVIOURS, { ...io, max_batch_size: 8, instance_group: [{ count: 2 }], parameters: { log: param(log('pair')) } });
    putJsModel(root, 'solo', BEHAVIOURS, {
      ...io,
      max_batch_size: 8,
      dynamic_batching: { default_queue_policy: { max_queue_size: 1 } },
      parameters: { log: param(log('solo')) },
    });
    putJsModel(root, 'batcher', BEHAVIOURS, { ...io, max_batch_size: 8, dynamic_batching: { preferred_batch_size: [4], max_queue_delay_microseconds: 5_000_000 } });
    putJsModel(root, 'limited', BEHAVIOURS, { ...io, max_batch_size: 8, parameters: { max_old_generation_size_mb: param('64') } });
    putJsModel(root, 'capped', BEHAVIOURS, { ...io, max_batch_size: 8, parameters: { execute_timeout_ms: param('300') } });
    putJsModel(root, 'fragile', BEHAVIOURS, { ...io, max_batch_size: 8, parameters: { block_file: param(marker) } });
    putJsModel(root, 'keeper', 'const KEPT = new Float32Array(2048).fill(3);\nexport function execute(rs) { return rs.map(() => ({ outputs: { z: { shape: [2048], data: KEPT } } })); }', {
      max_batch_size: 0,
      input: [tensor('x', 'TYPE_FP32', [1])],
      output: [tensor('z', 'TYPE_FP32', [2048])],
    });
    putJsModel(root, 'args', ARGS, {
      max_batch_size: 0,
      input: [tensor('text', 'TYPE_STRING', [2])],
      output: [tensor('info', 'TYPE_STRING', [1]), tensor('upper', 'TYPE_STRING', [2])],
      parameters: { greeting: param('hello') },
    }, { file: 'model.js' });
    server = await serve(DEFAULT_ENGINE, { modelRepository: root });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    repo.cleanup();
  });

  it('serves metadata, config and readiness like any model', async () => {
    const meta = (await get(server.port, '/v2/models/pair')).json();
    expect(meta).toEqual({
      name: 'pair',
      versions: ['1'],
      platform: 'js',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [
        { name: 'y', datatype: 'FP32', shape: [-1, 3] },
        { name: 'n', datatype: 'INT32', shape: [-1, 1] },
      ],
    });
    const config = (await get(server.port, '/v2/models/pair/config')).json();
    expect(config).toMatchObject({ name: 'pair', backend: 'js', max_batch_size: 8, default_model_filename: 'model.mjs', instance_group: [{ count: 2 }] });
    expect(config.platform).toBeUndefined();
    // The effective config is a valid config: it loads again as it is.
    const { parseModelConfig } = await import('../src/repository/index.js');
    expect(() => parseModelConfig(config, 'effective config', 'pair')).not.toThrow();
    expect((await get(server.port, '/v2/models/pair/ready')).status).toBe(200);
    expect((await get(server.port, '/v2/health/ready')).status).toBe(200);
  });

  it('runs execute on the request and answers its outputs', async () => {
    const r = await infer(server.port, 'pair', v2Request(row(1)));
    expect(r.status, r.http.text()).toBe(200);
    expect(r.body.model_name).toBe('pair');
    expect(r.out('y')).toEqual([2, 4, 6]);
    expect(r.out('n')).toEqual([1]);
    const only = await infer(server.port, 'pair', v2Request(row(1), { outputs: ['n'] }));
    expect(only.body.outputs.map((o: { name: string }) => o.name)).toEqual(['n']);
  });

  it('checks inputs as for ONNX models (400 with the engine messages)', async () => {
    const wrong = await infer(server.port, 'pair', v2Request({ x: { datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] } }));
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatch(/input 'x': expected shape \[-1,3\], got \[1,4\]/);
    const big = await infer(server.port, 'pair', v2Request(fp32(Array.from({ length: 9 }, () => [1, 2, 3]))));
    expect(big.status).toBe(400);
    expect(big.body.error).toMatch(/batch size 9 exceeds the model's max_batch_size 8/);
    const unknown = await infer(server.port, 'pair', v2Request(row(1), { outputs: ['nope'] }));
    expect(unknown.status).toBe(400);
  });

  it('gives initialize the model config, directory, version and parameters; CommonJS model.js works; BYTES round-trip', async () => {
    const r = await infer(
      server.port,
      'args',
      v2Request({ text: { datatype: 'BYTES', shape: [2], data: ['abc', 'héllo'] } }, { id: 'req-7', parameters: { priority: 0, custom: 'yes' } }),
      { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } },
    );
    expect(r.status, r.http.text()).toBe(200);
    const info = JSON.parse(r.out('info')[0]);
    expect(info).toMatchObject({ name: 'args', version: 1, maxBatchSize: 0, id: 'req-7', priority: 0, text: ['abc', 'héllo'] });
    expect(info.requestParameters).toEqual({ priority: 0, custom: 'yes' });
    expect(info.dir).toBe(join(repo.root, 'args', '1'));
    expect(info.parameters).toEqual({ greeting: 'hello' });
    expect(info.trace).toEqual({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
    expect(r.out('upper')).toEqual(['ABC', 'HÉLLO']);
  });

  it('hands execute a batch of requests (dynamic batching) and answers each with its own response', async () => {
    const answers = await Promise.all([1, 2, 3, 4].map((v) => infer(server.port, 'batcher', v2Request(row(v)))));
    for (const [i, a] of answers.entries()) {
      expect(a.status, a.http.text()).toBe(200);
      expect(a.out('y')).toEqual([2 * (i + 1), 2 * (i + 2), 2 * (i + 3)]);
      expect(a.out('n')).toEqual([4]); // all four in one execute: the preferred size
    }
    const stats = (await get(server.port, '/v2/models/batcher/stats')).json().model_stats[0];
    expect(stats.batch_stats.map((b: { batch_size: number }) => b.batch_size)).toEqual([4]);
    expect(stats.inference_count).toBe(4);
    expect(stats.execution_count).toBe(1);
    expect(stats.inference_stats.success.count).toBe(4);
  });

  it('an error for one request fails only that request; a code chooses its status', async () => {
    const modes = ['ok', 'error', 'invalid', 'ok'];
    const answers = await Promise.all(modes.map((mode, i) => infer(server.port, 'batcher', v2Request(row(i), { id: `r${i}`, parameters: { mode } }))));
    expect(answers[0]!.status).toBe(200);
    expect(answers[3]!.status).toBe(200);
    expect(answers[0]!.out('n')).toEqual([4]); // the failing requests ran in the same execute
    expect(answers[1]!.status).toBe(500);
    expect(answers[1]!.body.error).toBe('request r1 is refused by the model');
    expect(answers[2]!.status).toBe(400);
    expect(answers[2]!.body.error).toBe('x must be positive');
  });

  it('an execute that throws fails the requests it was given with 500 and its message', async () => {
    const r = await infer(server.port, 'pair', v2Request(row(1), { parameters: { mode: 'throw' } }));
    expect(r.status).toBe(500);
    expect(r.body.error).toBe('execute blew up');
  });

  it.each([
    ['badshape', /output 'y': expected shape \[-1,3\], got \[1,4\]/],
    ['undeclared', /output 'z' is not declared in its config/],
    ['missing', /output 'y' is missing/],
    ['wrongtype', /output 'y': datatype FP32 must be a Float32Array, got Float64Array/],
  ])('a response that does not fit the declared outputs (%s) fails with 500 naming the output', async (mode, message) => {
    const r = await infer(server.port, 'pair', v2Request(row(1), { parameters: { mode } }));
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(/model 'pair' version 1 returned an invalid response/);
    expect(r.body.error).toMatch(message);
  });

  it('large outputs are moved to the server: returning the same kept array twice is caught, not sent empty', async () => {
    const first = await infer(server.port, 'keeper', v2Request({ x: { datatype: 'FP32', shape: [1], data: [1] } }));
    expect(first.status, first.http.text()).toBe(200);
    expect(first.out('z')).toHaveLength(2048);
    const second = await infer(server.port, 'keeper', v2Request({ x: { datatype: 'FP32', shape: [1], data: [1] } }));
    expect(second.status).toBe(500);
    expect(second.body.error).toMatch(/outputs are moved to the server, not copied/);
    // Small outputs travel copied in one buffer per batch: a kept small array may be returned again.
    for (let i = 0; i < 3; i++) expect((await infer(server.port, 'pair', v2Request(row(1), { parameters: { mode: 'reuse' } }))).out('y')).toEqual([7, 7, 7]);
  });

  it.each(['exit', 'uncaught'])('a worker that dies (%s) fails only its own requests, is replaced, and the server stays up', async (mode) => {
    const before = (await metricsText(server.port)).length;
    expect(before).toBeGreaterThan(0);
    const busy = infer(server.port, 'pair', v2Request(row(1), { parameters: { sleep_ms: 600 } }));
    await sleep(100); // the sleeping request holds one of the two workers
    const crash = await infer(server.port, 'pair', v2Request(row(2), { parameters: { mode } }));
    expect(crash.status).toBe(500);
    expect(crash.body.error).toMatch(/model 'pair' version 1: its worker stopped while running this request/);
    expect((await busy).status).toBe(200); // the other worker's request is untouched
    const after = await infer(server.port, 'pair', v2Request(row(3)));
    expect(after.status).toBe(200);
    expect(after.out('y')).toEqual([6, 8, 10]);
    await until(async () => metricValue(await metricsText(server.port), 'tensorgate_js_workers', { model: 'pair', state: 'ready' }) === 2, 'two workers ready again');
    expect((await get(server.port, '/v2/health/ready')).status).toBe(200);
  });

  it('a worker past its memory limit (resourceLimits) dies alone and is replaced', async () => {
    const r = await infer(server.port, 'limited', v2Request(row(1), { parameters: { mode: 'oom' } }));
    expect(r.status).toBe(500);
    expect(r.body.error).toMatch(/its worker stopped while running this request \(.*memory/i);
    const ok = await infer(server.port, 'limited', v2Request(row(1)));
    expect(ok.status).toBe(200);
  }, 60_000);

  it('a hung execute is bounded by the request timeout: 503 at the deadline, the worker is replaced, the next request runs', async () => {
    const hung = await infer(server.port, 'pair', v2Request(row(1), { parameters: { mode: 'hang', timeout: 300_000 } }));
    expect(hung.status).toBe(503);
    expect(hung.body.error).toMatch(/execute did not finish before the request's deadline/);
    const next = await infer(server.port, 'pair', v2Request(row(1)));
    expect(next.status).toBe(200);
    // The hung execute ignores its aborted signal: its worker is stopped after the grace.
    await until(async () => metricValue(await metricsText(server.port), 'tensorgate_js_worker_exits_total', { model: 'pair', reason: 'timeout' }) === 1, 'the hung worker stopped');
    expect(metricValue(await metricsText(server.port), 'nv_inference_request_failure', { model: 'pair', reason: 'timeout' })).toBe(1);
    await until(async () => metricValue(await metricsText(server.port), 'tensorgate_js_workers', { model: 'pair', state: 'ready' }) === 2, 'a new worker');
  });

  it('execute_timeout_ms bounds an execute when the request has no deadline', async () => {
    const hung = await infer(server.port, 'capped', v2Request(row(1), { parameters: { mode: 'hang' } }));
    expect(hung.status).toBe(503);
    expect(hung.body.error).toMatch(/execute ran longer than execute_timeout_ms \(300 ms\)/);
    expect((await infer(server.port, 'capped', v2Request(row(1)))).status).toBe(200);
  });

  it('a queued request that is cancelled never runs; a full queue answers 503', async () => {
    const busy = infer(server.port, 'solo', v2Request(row(1), { id: 'busy', parameters: { sleep_ms: 800 } }));
    await until(() => existsSync(log('solo')) && readFileSync(log('solo'), 'utf8').includes('busy'), 'the first request runs');
    const controller = new AbortController();
    const cancelled = infer(server.port, 'solo', v2Request(row(2), { id: 'cancelled' }), { signal: controller.signal }).catch((e: Error) => e);
    await until(async () => metricValue(await metricsText(server.port), 'nv_inference_pending_request_count', { model: 'solo' }) === 1, 'the second request queues');
    expect(metricValue(await metricsText(server.port), 'tensorgate_inflight_requests', { model: 'solo' })).toBe(2);
    const full = await infer(server.port, 'solo', v2Request(row(3), { id: 'refused' }));
    expect(full.status).toBe(503);
    expect(full.body.error).toMatch(/queue of priority level 1 is full \(max_queue_size 1\)/);
    controller.abort();
    expect(await cancelled).toBeInstanceOf(Error);
    expect((await busy).status).toBe(200);
    expect((await infer(server.port, 'solo', v2Request(row(4), { id: 'after' }))).status).toBe(200);
    const executed = readFileSync(log('solo'), 'utf8').trim().split('\n');
    expect(executed).toEqual(['busy', 'after']);
    const text = await metricsText(server.port);
    expect(metricValue(text, 'nv_inference_request_failure', { model: 'solo', reason: 'cancelled' })).toBe(1);
    expect(metricValue(text, 'nv_inference_request_failure', { model: 'solo', reason: 'queue_full' })).toBe(1);
  });

  it('readiness tells the truth: workers that cannot start make the model and the server not ready, until they can', async () => {
    writeFileSync(marker, 'no');
    // The crash makes piscina start a new worker, whose initialize now fails: no worker is left.
    expect((await infer(server.port, 'fragile', v2Request(row(1), { parameters: { mode: 'exit' } }))).status).toBe(500);
    await until(async () => (await get(server.port, '/v2/models/fragile/ready')).status === 503, 'fragile not ready');
    expect((await get(server.port, '/v2/health/ready')).status).toBe(503);
    const entry = (await indexOf(server.port)).find((e) => e.name === 'fragile')!;
    expect(entry.state).toBe('UNAVAILABLE');
    expect(entry.reason).toMatch(/no worker of model 'fragile' version 1 can start: initialize blocked by a marker file/);
    expect(metricValue(await metricsText(server.port), 'tensorgate_model_state', { model: 'fragile', state: 'UNAVAILABLE' })).toBe(1);
    const refused = await infer(server.port, 'fragile', v2Request(row(1)));
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatch(/initialize blocked by a marker file/);
    rmSync(marker);
    await until(async () => (await get(server.port, '/v2/models/fragile/ready')).status === 200, 'fragile ready again', 30_000, 50);
    expect((await infer(server.port, 'fragile', v2Request(row(1)))).status).toBe(200);
    expect((await get(server.port, '/v2/health/ready')).status).toBe(200);
    const text = await metricsText(server.port);
    expect(metricValue(text, 'tensorgate_js_worker_exits_total', { model: 'fragile', reason: 'start_failure' })).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('reports statistics and metrics in the engine form', async () => {
    const stats = (await get(server.port, '/v2/models/pair/stats')).json().model_stats[0];
    expect(stats.name).toBe('pair');
    expect(stats.inference_stats.success.count).toBeGreaterThan(0);
    expect(stats.inference_stats.fail.count).toBeGreaterThan(0);
    const text = await metricsText(server.port);
    expect(metricValue(text, 'nv_inference_request_success', { model: 'pair', version: '1' })).toBe(stats.inference_stats.success.count);
    expect(text).toMatch(/tensorgate_request_duration_seconds_bucket\{model="pair",version="1",le="\+Inf"\}/);
  });
});

describe('loading JavaScript models', () => {
  const repo = tempRepo();
  let server: TestServer;
  beforeAll(async () => {
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, modelControlMode: 'explicit' });
  });
  afterAll(async () => {
    await server?.stop();
    repo.cleanup();
  });

  const load = (name: string) => post(server.port, `/v2/repository/models/${name}/load`, {});

  it('a failing initialize fails the load with its message', async () => {
    putJsModel(repo.root, 'bad', 'export function initialize() { throw new Error("cannot open the vocabulary"); } export function execute(r) { return []; }', { ...io, max_batch_size: 8 });
    const r = await load('bad');
    expect(r.status).toBe(400);
    expect(r.json().error).toMatch(/model 'bad' version 1: cannot open the vocabulary/);
    expect((await indexOf(server.port)).find((e) => e.name === 'bad')).toMatchObject({ state: 'UNAVAILABLE' });
  });

  it.each([
    ['no execute', 'export function initialize() {}', io, /does not export an execute\(requests\) function/],
    ['a syntax error', 'export function execute( {', io, /SyntaxError|Unexpected/],
    ['no declared inputs', 'export function execute(r) { return []; }', { output: io.output }, /config\.json: input: a JavaScript model declares its inputs/],
    ['a GPU instance group', 'export function execute(r) { return []; }', { ...io, instance_group: [{ kind: 'KIND_GPU' }] }, /instance_group\[0\]\.kind: JavaScript models run on CPU worker threads/],
    ['a bad backend parameter', 'export function execute(r) { return []; }', { ...io, parameters: { execute_timeout_ms: param('soon') } }, /parameters\.execute_timeout_ms\.string_value: expected an integer/],
    ['a platform', 'export function execute(r) { return []; }', { ...io, platform: 'onnxruntime_onnx' }, /platform: a JavaScript model \(backend 'js'\) has no platform/],
  ])('a model with %s fails to load, naming the problem', async (_, source, config, message) => {
    const name = `bad${Math.random().toString(36).slice(2, 8)}`;
    putJsModel(repo.root, name, source, { ...config, max_batch_size: 8 });
    const r = await load(name);
    expect(r.status).toBe(400);
    expect(r.json().error).toMatch(message);
  });

  it('a model that is neither model.js nor model.mjs is no version', async () => {
    putJsModel(repo.root, 'nofile', 'export function execute(r) { return []; }', { ...io, max_batch_size: 8 }, { file: 'other.js' });
    const r = await load('nofile');
    expect(r.status).toBe(400);
    expect(r.json().error).toMatch(/no version directory with model\.js or model\.mjs/);
  });
});

describe('version swaps under load', () => {
  const repo = tempRepo();
  let server: TestServer;
  const source = (k: number) => `export function execute(rs) { return rs.map((r) => ({ outputs: { y: { shape: r.inputs.x.shape, data: r.inputs.x.data.map((v) => v + ${k}) } } })); }`;
  const config = { max_batch_size: 8, input: [tensor('x', 'TYPE_FP32', [3])], output: [tensor('y', 'TYPE_FP32', [3])], instance_group: [{ count: 2 }] };

  beforeAll(async () => {
    putJsModel(repo.root, 'live', source(1), config);
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, modelControlMode: 'explicit', loadModel: ['*'] });
  });
  afterAll(async () => {
    await server?.stop();
    repo.cleanup();
  });

  it('a new version and a changed config swap in with zero failed requests', async () => {
    let stop = false;
    const seen = new Set<number>();
    const failures: string[] = [];
    let requests = 0;
    const client = async (): Promise<void> => {
      while (!stop) {
        const r = await infer(server.port, 'live', v2Request(fp32([[0, 0, 0]])));
        requests++;
        if (r.status !== 200) failures.push(`${r.status} ${r.http.text()}`);
        else seen.add(r.out('y')[0]);
      }
    };
    const clients = Array.from({ length: 16 }, client);
    await sleep(300);
    putJsModel(repo.root, 'live', source(2), config, { version: 2 });
    expect((await post(server.port, '/v2/repository/models/live/load', {})).status).toBe(200);
    await sleep(300);
    putJsModel(repo.root, 'live', source(2), { ...config, instance_group: [{ count: 1 }] }, { version: 2 });
    expect((await post(server.port, '/v2/repository/models/live/load', {})).status).toBe(200);
    await sleep(300);
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual([1, 2]);
    expect(requests).toBeGreaterThan(50);
    const after = await infer(server.port, 'live', v2Request(fp32([[0, 0, 0]])));
    expect(after.out('y')).toEqual([2, 2, 2]);
    expect((await get(server.port, '/v2/models/live/config')).json().instance_group).toEqual([{ count: 1, kind: 'KIND_AUTO' }]);
  }, 60_000);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
