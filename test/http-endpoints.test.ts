// Every v2 endpoint over real HTTP, on both transports: health, server and model metadata, model
// readiness, Triton's model configuration, statistics and repository extensions, /metrics, and the
// admin token on the repository API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel, tinyModel } from '../src/onnx/models.js';
import { ENGINES, get, makeRepository, post, serve, sumDiffModel, type HttpResult, type TestServer } from './helpers/http-server.js';

const VERSION = (await import('../package.json', { with: { type: 'json' } })).default.version;

const root = makeRepository({
  id_fp32: { bytes: identityModel(ElemType.FLOAT, ['batch', 3]) },
  sumdiff: { bytes: sumDiffModel() },
  multi: { versions: { 1: tinyModel(), 2: tinyModel() } },
  configured: {
    bytes: identityModel(ElemType.FLOAT, ['batch', 3]),
    config: {
      max_batch_size: 8,
      dynamic_batching: { preferred_batch_size: [4], max_queue_delay_microseconds: 100 },
      instance_group: [{ count: 2, kind: 'KIND_CPU' }],
    },
  },
});

const TOKEN = 'sekret-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };

function expectError(r: HttpResult, status: number, message?: RegExp | string): void {
  expect(r.status, r.text()).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const body = r.json();
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error).toBe('string');
  if (message !== undefined) expect(body.error).toMatch(message);
}

const fp32Request = (rows: number[][], id?: string) =>
  JSON.stringify({ ...(id ? { id } : {}), inputs: [{ name: 'x', datatype: 'FP32', shape: [rows.length, 3], data: rows }] });

describe.each(ENGINES)('endpoints over %s', (engine) => {
  let server: TestServer;
  let port: number;
  beforeAll(async () => {
    server = await serve(engine, { modelRepository: root });
    port = server.port;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('GET /v2/health/live and /v2/health/ready', async () => {
    const live = await get(port, '/v2/health/live');
    expect(live.status).toBe(200);
    expect(live.json()).toEqual({ live: true });
    const ready = await get(port, '/v2/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.json()).toEqual({ ready: true });
  });

  it('GET /v2: name, version and extensions', async () => {
    const r = await get(port, '/v2');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const body = r.json();
    expect(body.name).toBe('tensorgate');
    expect(body.version).toBe(VERSION);
    expect(body.extensions).toEqual(
      expect.arrayContaining(['binary_tensor_data', 'model_configuration', 'model_repository', 'statistics', 'schedule_policy']),
    );
  });

  it('GET /v2/models/{m} and /versions/{v}: metadata with platform onnx_onnxv1 and -1 dims', async () => {
    const meta = await get(port, '/v2/models/id_fp32');
    expect(meta.status).toBe(200);
    expect(meta.json()).toEqual({
      name: 'id_fp32',
      versions: ['1'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }],
    });
    const v1 = await get(port, '/v2/models/id_fp32/versions/1');
    expect(v1.status).toBe(200);
    expect(v1.json()).toEqual(meta.json());

    const two = (await get(port, '/v2/models/sumdiff')).json();
    expect(two.inputs).toEqual([
      { name: 'a', datatype: 'FP32', shape: [-1, 3] },
      { name: 'b', datatype: 'FP32', shape: [-1, 3] },
    ]);
    expect(two.outputs.map((o: { name: string }) => o.name)).toEqual(['sum', 'diff']);

    // Default version policy latest(1): only version 2 of `multi` is served.
    const multi = await get(port, '/v2/models/multi');
    expect(multi.json().versions).toEqual(['2']);
    expect((await get(port, '/v2/models/multi/versions/2')).status).toBe(200);
    expectError(await get(port, '/v2/models/multi/versions/1'), 404, /version 1/);
    expectError(await get(port, '/v2/models/multi/versions/7'), 404);
    expectError(await get(port, '/v2/models/nosuchmodel'), 404, /nosuchmodel/);
  });

  it('GET /v2/models/{m}[/versions/{v}]/ready', async () => {
    const r = await get(port, '/v2/models/id_fp32/ready');
    expect(r.status).toBe(200);
    expect(r.json()).toMatchObject({ name: 'id_fp32', ready: true });
    const v = await get(port, '/v2/models/id_fp32/versions/1/ready');
    expect(v.status).toBe(200);
    expect(v.json()).toMatchObject({ name: 'id_fp32', ready: true });
    // A version that is not served is not ready.
    const old = await get(port, '/v2/models/multi/versions/1/ready');
    expect(old.status).toBe(503);
    expect(old.json()).toMatchObject({ name: 'multi', ready: false });
    expectError(await get(port, '/v2/models/nosuchmodel/ready'), 404);
  });

  it('GET /v2/models/{m}/config: the Triton model configuration JSON', async () => {
    const r = await get(port, '/v2/models/id_fp32/config');
    expect(r.status).toBe(200);
    const config = r.json();
    expect(config).toMatchObject({
      name: 'id_fp32',
      platform: 'onnxruntime_onnx',
      backend: 'onnxruntime',
      max_batch_size: 64, // auto-completed: dynamic first dim, --default-max-batch-size 64
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [3] }],
      output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [3] }],
      version_policy: { latest: { num_versions: 1 } },
      default_model_filename: 'model.onnx',
    });
    expect(config.dynamic_batching).toBeDefined();
    expect(config.instance_group).toEqual([expect.objectContaining({ count: 1, kind: 'KIND_CPU' })]);
    expect((await get(port, '/v2/models/id_fp32/versions/1/config')).json()).toEqual(config);

    // Values from config.json come back.
    const configured = (await get(port, '/v2/models/configured/config')).json();
    expect(configured).toMatchObject({
      name: 'configured',
      max_batch_size: 8,
      dynamic_batching: { preferred_batch_size: [4], max_queue_delay_microseconds: 100 },
      instance_group: [expect.objectContaining({ count: 2, kind: 'KIND_CPU' })],
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [3] }],
    });
    expectError(await get(port, '/v2/models/nosuchmodel/config'), 404);
    expectError(await get(port, '/v2/models/multi/versions/1/config'), 404);
  });

  it('GET /v2/models/stats, /v2/models/{m}/stats, /versions/{v}/stats: Triton statistics reflecting the requests', async () => {
    const infer = (rows: number[][]) => post(port, '/v2/models/id_fp32/infer', fp32Request(rows));
    for (const rows of [[[1, 2, 3]], [[4, 5, 6]], [[7, 8, 9], [10, 11, 12]]]) expect((await infer(rows)).status).toBe(200);
    // A request refused while decoding never reaches the model.
    expect((await post(port, '/v2/models/id_fp32/infer', '{"inputs": [')).status).toBe(400);

    const r = await get(port, '/v2/models/id_fp32/stats');
    expect(r.status).toBe(200);
    const body = r.json();
    expect(body.model_stats).toHaveLength(1);
    const s = body.model_stats[0];
    expect(Object.keys(s).sort()).toEqual(
      ['batch_stats', 'execution_count', 'inference_count', 'inference_stats', 'last_inference', 'memory_usage', 'name', 'response_stats', 'version'].sort(),
    );
    expect(s.name).toBe('id_fp32');
    expect(s.version).toBe('1');
    expect(s.inference_count).toBe(4); // rows
    expect(s.execution_count).toBe(3);
    expect(s.last_inference).toBeGreaterThan(Date.now() - 60_000);
    expect(Object.keys(s.inference_stats).sort()).toEqual(
      ['cache_hit', 'cache_miss', 'compute_infer', 'compute_input', 'compute_output', 'fail', 'queue', 'success'].sort(),
    );
    expect(s.inference_stats.success.count).toBe(3);
    expect(s.inference_stats.success.ns).toBeGreaterThan(0);
    expect(s.inference_stats.fail).toEqual({ count: 0, ns: 0 });
    expect(s.inference_stats.queue.count).toBe(3);
    expect(s.inference_stats.compute_infer.count).toBe(3);
    expect(s.inference_stats.cache_hit.count).toBe(0);
    expect(s.response_stats).toEqual({});
    expect(s.memory_usage).toEqual([]);
    expect(s.batch_stats).toEqual([
      expect.objectContaining({ batch_size: 1, compute_infer: expect.objectContaining({ count: 2 }) }),
      expect.objectContaining({ batch_size: 2, compute_infer: expect.objectContaining({ count: 1 }) }),
    ]);

    const v = (await get(port, '/v2/models/id_fp32/versions/1/stats')).json();
    expect(v.model_stats).toHaveLength(1);
    expect(v.model_stats[0]).toMatchObject({ name: 'id_fp32', version: '1', inference_count: 4 });

    const all = await get(port, '/v2/models/stats');
    expect(all.status).toBe(200);
    const names = all.json().model_stats.map((m: { name: string; version: string }) => `${m.name}/${m.version}`).sort();
    expect(names).toEqual(['configured/1', 'id_fp32/1', 'multi/2', 'sumdiff/1']);
    expect(all.json().model_stats.find((m: { name: string }) => m.name === 'id_fp32').inference_stats.success.count).toBe(3);

    expectError(await get(port, '/v2/models/nosuchmodel/stats'), 404);
    expectError(await get(port, '/v2/models/multi/versions/1/stats'), 404);
  });

  it('GET /metrics: Prometheus text with nv_inference_* for the requests made', async () => {
    const before = server.model('sumdiff').stats().success.count;
    const body = JSON.stringify({
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
        { name: 'b', datatype: 'FP32', shape: [1, 3], data: [1, 1, 1] },
      ],
    });
    for (let i = 0; i < 5; i++) expect((await post(port, '/v2/models/sumdiff/infer', body)).status).toBe(200);
    const r = await get(port, '/metrics');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    const text = r.text();
    expect(text).toContain('# TYPE nv_inference_request_success counter');
    expect(text).toMatch(new RegExp(`^nv_inference_request_success\\{model="sumdiff",version="1"\\} ${before + 5}$`, 'm'));
    expect(text).toMatch(new RegExp(`^nv_inference_count\\{model="sumdiff",version="1"\\} ${before + 5}$`, 'm'));
    expect(text).toMatch(/^tensorgate_inflight_requests\{model="sumdiff",version="1"\} 0$/m);
    if (server.model('sumdiff').stats().queued !== undefined) expect(text).toMatch(/^nv_inference_pending_request_count\{model="sumdiff",version="1"\} 0$/m);
    // The HTTP request counter saw the infer route.
    expect(text).toMatch(/^tensorgate_http_requests_total\{[^}]*route="\/v2\/models\/\{m\}\/infer"[^}]*\} \d+$/m);
  });

  it('repository load/unload are refused in control mode none', async () => {
    expectError(await post(port, '/v2/repository/models/id_fp32/load'), 400, /not allowed in 'none' model control mode/);
    expectError(await post(port, '/v2/repository/models/id_fp32/unload'), 400, /not allowed/);
    const index = await post(port, '/v2/repository/index');
    expect(index.status).toBe(200);
    expect(index.json()).toEqual(
      expect.arrayContaining([
        { name: 'id_fp32', version: '1', state: 'READY' },
        { name: 'multi', version: '2', state: 'READY' },
      ]),
    );
  });
});

describe.each(ENGINES)('repository API (explicit mode, admin token) over %s', (engine) => {
  let server: TestServer;
  let port: number;
  beforeAll(async () => {
    server = await serve(engine, { modelRepository: root, modelControlMode: 'explicit', adminToken: TOKEN });
    port = server.port;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('401 without the admin token (or with a wrong one), 200 with it', async () => {
    for (const path of ['/v2/repository/index', '/v2/repository/models/id_fp32/load', '/v2/repository/models/id_fp32/unload']) {
      const missing = await post(port, path);
      expectError(missing, 401, /admin token/);
      expect(missing.headers['www-authenticate']).toBe('Bearer');
      expectError(await post(port, path, undefined, { authorization: 'Bearer wrong' }), 401);
      expectError(await post(port, path, undefined, { authorization: TOKEN }), 401);
    }
    expect(server.running.repository.served('id_fp32')).toEqual([]); // nothing was loaded by the refused calls
    const ok = await post(port, '/v2/repository/index', undefined, AUTH);
    expect(ok.status).toBe(200);
    // Other endpoints need no token.
    expect((await get(port, '/v2/health/ready')).status).toBe(200);
  });

  it('POST /v2/repository/index, models/{m}/load and /unload', async () => {
    const index0 = (await post(port, '/v2/repository/index', {}, AUTH)).json();
    expect(index0.map((e: { name: string }) => e.name).sort()).toEqual(['configured', 'id_fp32', 'multi', 'sumdiff']);
    for (const e of index0) expect(e.state).toBe('UNAVAILABLE');
    expect((await post(port, '/v2/repository/index', { ready: true }, AUTH)).json()).toEqual([]);
    const notReady = await get(port, '/v2/models/id_fp32/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.json()).toMatchObject({ ready: false });

    const load = await post(port, '/v2/repository/models/id_fp32/load', undefined, AUTH);
    expect(load.status, load.text()).toBe(200);
    expect(load.json()).toEqual({});
    expect((await get(port, '/v2/models/id_fp32/ready')).status).toBe(200);
    expect((await post(port, '/v2/repository/index', { ready: true }, AUTH)).json()).toEqual([{ name: 'id_fp32', version: '1', state: 'READY' }]);
    const infer = await post(port, '/v2/models/id_fp32/infer', fp32Request([[1, 2, 3]]));
    expect(infer.status).toBe(200);
    expect(infer.json().outputs[0].data).toEqual([1, 2, 3]);

    const unload = await post(port, '/v2/repository/models/id_fp32/unload', {}, AUTH);
    expect(unload.status, unload.text()).toBe(200);
    expect(unload.json()).toEqual({});
    expect((await get(port, '/v2/models/id_fp32/ready')).status).toBe(503);
    expect(server.running.repository.served('id_fp32')).toEqual([]);
    const entry = (await post(port, '/v2/repository/index', {}, AUTH)).json().find((e: { name: string }) => e.name === 'id_fp32');
    expect(entry.state).toBe('UNAVAILABLE');

    // Unknown models: 404.
    expectError(await post(port, '/v2/repository/models/nosuchmodel/load', undefined, AUTH), 404);
    expectError(await post(port, '/v2/repository/models/nosuchmodel/unload', undefined, AUTH), 404);
  });

  it('an inference request does not load a model that is not loaded (nor undo an unload)', async () => {
    // Regression: explicit mode used to load any model a request named (ModelRepository.onDemand),
    // so an infer request (no admin token needed) performed the admin-only load, and an explicit
    // unload lasted only until the next request. Triton's explicit mode refuses such requests.
    const body = fp32Request([[1, 2, 3]]);
    const before = await post(port, '/v2/models/sumdiff/infer', JSON.stringify({
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
        { name: 'b', datatype: 'FP32', shape: [1, 3], data: [1, 1, 1] },
      ],
    }));
    expect(before.status, before.text()).not.toBe(200);
    expect([404, 503]).toContain(before.status);
    expect(server.running.repository.served('sumdiff')).toEqual([]);

    expect((await post(port, '/v2/repository/models/id_fp32/load', undefined, AUTH)).status).toBe(200);
    expect((await post(port, '/v2/models/id_fp32/infer', body)).status).toBe(200);
    expect((await post(port, '/v2/repository/models/id_fp32/unload', undefined, AUTH)).status).toBe(200);
    const after = await post(port, '/v2/models/id_fp32/infer', body);
    expect(after.status, after.text()).not.toBe(200);
    expect((await get(port, '/v2/models/id_fp32/ready')).status).toBe(503);
    expect(server.running.repository.served('id_fp32')).toEqual([]);
  });

  it('load with a config override in parameters.config', async () => {
    const r = await post(port, '/v2/repository/models/configured/load', { parameters: { config: JSON.stringify({ max_batch_size: 4 }) } }, AUTH);
    expect(r.status, r.text()).toBe(200);
    const config = (await get(port, '/v2/models/configured/config')).json();
    expect(config.max_batch_size).toBe(4);
    expectError(await post(port, '/v2/repository/models/configured/load', { parameters: { config: '{nope' } }, AUTH), 400, /not valid JSON/);
    expectError(await post(port, '/v2/repository/models/configured/load', '{nope', AUTH), 400, /malformed JSON/);
    expect((await post(port, '/v2/repository/models/configured/unload', undefined, AUTH)).status).toBe(200);
  });
});
