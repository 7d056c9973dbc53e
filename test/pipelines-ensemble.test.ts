// Ensembles (`"platform": "ensemble"`, Triton's ensemble_scheduling) over real HTTP: a DAG mixing ONNX
// and JavaScript steps checked against the steps called one by one, independent steps running side by
// side, every validation error a load can meet (named by file, step and tensor), a step's model
// swapped under load without reloading the ensemble, a step that no longer fits making the ensemble
// not ready, per-step statistics and metrics, max_inflight_requests, and the response cache keyed on
// the steps' versions.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addModel } from '../src/onnx/models.js';
import { putConfig, putModel, tempRepo } from './helpers/fixtures.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { fp32, indexOf, infer, metricsText, metricValue, putEnsemble, putJsModel, tensor, until, v2Request } from './helpers/pipelines.js';
import { addConstModel } from './helpers/repo-fixtures.js';

const STEP = readFileSync(new URL('./fixtures/js-models/step.mjs', import.meta.url), 'utf8');
const stepConfig = (op: string, extra: Record<string, unknown> = {}) => ({
  max_batch_size: 8,
  input: [tensor('x', 'TYPE_FP32', [3])],
  output: [tensor('y', 'TYPE_FP32', [3]), tensor('span', 'TYPE_FP64', [2])],
  parameters: { op: { string_value: op } },
  ...extra,
});
const IO = { max_batch_size: 8, input: [tensor('IN', 'TYPE_FP32', [3])], output: [tensor('OUT', 'TYPE_FP32', [3])] };

/** IN -> double -> t2, IN -> plus1 -> t1 (side by side), add(t2, t1) -> OUT = 3x + 1. */
const MIX = {
  ...IO,
  output: [...IO.output, tensor('SPAN_A', 'TYPE_FP64', [2]), tensor('SPAN_B', 'TYPE_FP64', [2])],
  ensemble_scheduling: {
    step: [
      { model_name: 'double', model_version: -1, input_map: { x: 'IN' }, output_map: { y: 't2', span: 'SPAN_A' } },
      { model_name: 'plus1', model_version: -1, input_map: { x: 'IN' }, output_map: { y: 't1', span: 'SPAN_B' } },
      { model_name: 'add', model_version: -1, input_map: { a: 't2', b: 't1' }, output_map: { sum: 'OUT' } },
    ],
  },
};

const single = (model: string, extra: Record<string, unknown> = {}) => ({
  ...IO,
  ensemble_scheduling: { step: [{ model_name: model, model_version: -1, input_map: { x: 'IN' }, output_map: { y: 'OUT' } }] },
  ...extra,
});

describe('ensembles', () => {
  const repo = tempRepo();
  let server: TestServer;

  beforeAll(async () => {
    const root = repo.root;
    putModel(root, 'add', 1, addModel());
    putModel(root, 'addc', 1, addConstModel(1, 3));
    putJsModel(root, 'double', STEP, stepConfig('double'));
    putJsModel(root, 'plus1', STEP, stepConfig('plus1'));
    putJsModel(root, 'wide', STEP, stepConfig('plus1', { instance_group: [{ count: 3 }] }));
    putEnsemble(root, 'mix', MIX);
    putEnsemble(root, 'swapme', single('addc'));
    putEnsemble(root, 'gated', { ...single('wide'), output: [...IO.output, tensor('SPAN', 'TYPE_FP64', [2])], ensemble_scheduling: { max_inflight_requests: 1, step: [{ model_name: 'wide', input_map: { x: 'IN' }, output_map: { y: 'OUT', span: 'SPAN' } }] } });
    putEnsemble(root, 'cached', { ...single('addc'), response_cache: { enable: true } });
    // A route as a step: plus1 reached through a route (its choice, its statistics) inside the DAG.
    putConfig(root, 'plus1_route', { platform: 'tensorgate_route', routing: { targets: [{ model: 'plus1' }] } });
    const viaRoute = JSON.parse(JSON.stringify(MIX).replace('"model_name":"plus1"', '"model_name":"plus1_route"'));
    putEnsemble(root, 'mixr', viaRoute);
    server = await serve(DEFAULT_ENGINE, { modelRepository: root, modelControlMode: 'explicit', loadModel: ['*'], cache: ['local,size=1MiB'] });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    repo.cleanup();
  });

  const load = (name: string, config?: Record<string, unknown>) =>
    post(server.port, `/v2/repository/models/${name}/load`, config ? { parameters: { config: JSON.stringify(config) } } : {});

  it('mixes ONNX and JavaScript steps: the answer equals the steps called one by one', async () => {
    const x = [[1, 2, 3], [-4, 0.5, 10]];
    const r = await infer(server.port, 'mix', v2Request(fp32(x, 'IN')));
    expect(r.status, r.http.text()).toBe(200);
    expect(r.body.model_name).toBe('mix');
    // The reference, step by step over the same HTTP API.
    const d = await infer(server.port, 'double', v2Request(fp32(x)));
    const p = await infer(server.port, 'plus1', v2Request(fp32(x)));
    const a = await infer(server.port, 'add', v2Request({ a: { datatype: 'FP32', shape: [2, 3], data: d.out('y') }, b: { datatype: 'FP32', shape: [2, 3], data: p.out('y') } }));
    expect(r.out('OUT')).toEqual(a.out('sum'));
    expect(r.out('OUT')).toEqual(x.flat().map((v) => 3 * v + 1));
    const meta = (await get(server.port, '/v2/models/mix')).json();
    expect(meta.platform).toBe('ensemble');
    expect(meta.inputs).toEqual([{ name: 'IN', datatype: 'FP32', shape: [-1, 3] }]);
    const config = (await get(server.port, '/v2/models/mix/config')).json();
    expect(config.platform).toBe('ensemble');
    expect(config.ensemble_scheduling.step).toHaveLength(3);
    expect(config.instance_group).toBeUndefined();
    const { parseModelConfig } = await import('../src/repository/index.js');
    expect(() => parseModelConfig(config, 'effective config', 'mix')).not.toThrow();
  });

  it('mixes ONNX, JavaScript and a route: the route chooses its target for the step, as for a client', async () => {
    const x = [[1, 2, 3]];
    const r = await infer(server.port, 'mixr', v2Request(fp32(x, 'IN')));
    expect(r.status, r.http.text()).toBe(200);
    expect(r.out('OUT')).toEqual(x.flat().map((v) => 3 * v + 1));
    const composing = (await get(server.port, '/v2/models/mixr/stats')).json().model_stats[0].composing_models;
    expect(composing.map((c: { name: string }) => c.name)).toEqual(['double', 'plus1_route', 'add']);
    const text = await metricsText(server.port);
    expect(metricValue(text, 'tensorgate_route_requests_total', { route: 'plus1_route', target: 'plus1' })).toBe(1);
  });

  it('runs independent steps side by side', async () => {
    // Each step waits at a barrier until the other arrived: they can only both answer side by side.
    const r = await infer(server.port, 'mix', v2Request(fp32([[1, 1, 1]], 'IN'), { parameters: { barrier: join(repo.staging, 'barrier') } }));
    expect(r.status, r.http.text()).toBe(200);
    const [a0, a1] = r.out('SPAN_A');
    const [b0, b1] = r.out('SPAN_B');
    expect(b0).toBeLessThan(a1);
    expect(a0).toBeLessThan(b1);
  });

  it('a failing step fails the request with its kind, naming the step', async () => {
    const bad = await infer(server.port, 'mix', v2Request(fp32([[1, 1, 1]], 'IN'), { parameters: { fail_step: 'plus1' } }));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("ensemble 'mix' step[1] (model 'plus1'): plus1 refuses this input");
    const internal = await infer(server.port, 'mix', v2Request(fp32([[1, 1, 1]], 'IN'), { parameters: { fail_step: 'double', fail_code: 'x' } }));
    expect(internal.status).toBe(500);
    expect(internal.body.error).toMatch(/step\[0\] \(model 'double'\): double refuses/);
    const input = await infer(server.port, 'mix', v2Request(fp32([[1, 1]], 'IN')));
    expect(input.status).toBe(400);
    expect(input.body.error).toMatch(/input 'IN': expected shape \[-1,3\], got \[1,2\]/);
  });

  it('reports each step as a composing model in /stats, and per-step metrics', async () => {
    const before = (await get(server.port, '/v2/models/mix/stats')).json().model_stats[0];
    for (let i = 0; i < 3; i++) expect((await infer(server.port, 'mix', v2Request(fp32([[i, i, i]], 'IN')))).status).toBe(200);
    const after = (await get(server.port, '/v2/models/mix/stats')).json().model_stats[0];
    expect(after.inference_stats.success.count - before.inference_stats.success.count).toBe(3);
    expect(after.composing_models.map((c: { step: number; name: string; version: string }) => [c.step, c.name, c.version])).toEqual([
      [0, 'double', '1'],
      [1, 'plus1', '1'],
      [2, 'add', '1'],
    ]);
    const add = after.composing_models[2];
    const addBefore = before.composing_models?.[2]?.inference_stats.success.count ?? 0;
    expect(add.inference_stats.success.count - addBefore).toBe(3);
    expect(add.inference_stats.success.ns).toBeGreaterThan(0);
    const text = await metricsText(server.port);
    expect(metricValue(text, 'tensorgate_ensemble_step_requests_total', { model: 'mix', step: '2', step_model: 'add', outcome: 'success' })).toBe(add.inference_stats.success.count);
    expect(text).toMatch(/tensorgate_ensemble_step_duration_seconds_count\{model="mix",version="1",step="0",step_model="double",step_version="1"\}/);
    expect(metricValue(text, 'nv_inference_request_success', { model: 'mix' })).toBe(after.inference_stats.success.count);
  });

  it('max_inflight_requests bounds the calls in flight per step', async () => {
    const answers = await Promise.all([0, 1, 2].map(() => infer(server.port, 'gated', v2Request(fp32([[1, 1, 1]], 'IN'), { parameters: { sleep_ms: 150 } }))));
    const spans = answers.map((a) => {
      expect(a.status, a.http.text()).toBe(200);
      return a.out('SPAN') as number[];
    });
    spans.sort((x, y) => x[0]! - y[0]!);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]!);
  });

  it("swaps a step's model under load without reloading the ensemble: zero failed requests", async () => {
    let stop = false;
    const seen = new Set<number>();
    const failures: string[] = [];
    const statsBefore = (await get(server.port, '/v2/models/swapme/stats')).json().model_stats[0].inference_stats.success.count;
    let done = 0;
    const client = async (): Promise<void> => {
      while (!stop) {
        const r = await infer(server.port, 'swapme', v2Request(fp32([[0, 0, 0]], 'IN')));
        done++;
        if (r.status !== 200) failures.push(`${r.status} ${r.http.text()}`);
        else seen.add(r.out('OUT')[0]);
      }
    };
    const clients = Array.from({ length: 8 }, client);
    await new Promise((r) => setTimeout(r, 200));
    putModel(repo.root, 'addc', 2, addConstModel(2, 3));
    expect((await load('addc')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual([1, 2]);
    // The same ensemble instance served throughout: its statistics kept counting.
    const statsAfter = (await get(server.port, '/v2/models/swapme/stats')).json().model_stats[0];
    expect(statsAfter.inference_stats.success.count - statsBefore).toBe(done);
    expect(statsAfter.composing_models.map((c: { version: string }) => c.version)).toEqual(['1', '2']);
  }, 60_000);

  it('a step swapped for a model that no longer fits makes the ensemble not ready, with the reason, until it fits again', async () => {
    putModel(repo.root, 'addc', 3, addConstModel(3, 4)); // width 4: IN [-1,3] no longer fits
    expect((await load('addc')).status).toBe(200);
    await until(async () => (await get(server.port, '/v2/models/swapme/ready')).status === 503, 'swapme not ready');
    const entry = (await indexOf(server.port)).find((e) => e.name === 'swapme')!;
    expect(entry.state).toBe('UNAVAILABLE');
    expect(entry.reason).toMatch(/ensemble_scheduling\.step\[0\]\.input_map\.x: tensor 'IN' has shape \[-1,3\] .* but model 'addc' input 'x' takes FP32 \[-1,4\]/);
    const refused = await infer(server.port, 'swapme', v2Request(fp32([[0, 0, 0]], 'IN')));
    expect(refused.status).toBe(503);
    putModel(repo.root, 'addc', 4, addConstModel(4, 3));
    expect((await load('addc')).status).toBe(200);
    await until(async () => (await get(server.port, '/v2/models/swapme/ready')).status === 200, 'swapme ready again');
    expect((await infer(server.port, 'swapme', v2Request(fp32([[0, 0, 0]], 'IN')))).out('OUT')).toEqual([4, 4, 4]);
  });

  it('the response cache answers repeats, and a swapped step is never answered from the old one', async () => {
    const body = v2Request(fp32([[5, 5, 5]], 'IN'));
    const steps = async () => (await get(server.port, '/v2/models/cached/stats')).json().model_stats[0].composing_models?.reduce((n: number, c: { inference_stats: { success: { count: number } } }) => n + c.inference_stats.success.count, 0) ?? 0;
    const first = await infer(server.port, 'cached', body);
    expect(first.status, first.http.text()).toBe(200);
    const value = first.out('OUT')[0];
    const calls = await steps();
    expect((await infer(server.port, 'cached', body)).out('OUT')[0]).toBe(value);
    expect(await steps()).toBe(calls); // answered by the cache
    const c = value - 5 + 1;
    putModel(repo.root, 'addc', 10 + c, addConstModel(c + 100, 3));
    expect((await load('addc')).status).toBe(200);
    const after = await infer(server.port, 'cached', body);
    expect(after.out('OUT')[0]).toBe(5 + c + 100);
    expect(await steps()).toBe(calls + 1);
  });
});

describe('ensemble validation', () => {
  const repo = tempRepo();
  let server: TestServer;

  beforeAll(async () => {
    putModel(repo.root, 'add', 1, addModel());
    putJsModel(repo.root, 'double', STEP, stepConfig('double'));
    putJsModel(repo.root, 'plus1', STEP, stepConfig('plus1'));
    putEnsemble(repo.root, 'outer', single('inner'));
    putEnsemble(repo.root, 'inner', single('outer'));
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, modelControlMode: 'explicit', loadModel: ['add', 'double', 'plus1'] });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    repo.cleanup();
  });

  const step = (model: string, input_map: Record<string, string>, output_map: Record<string, string>, model_version = -1) => ({ model_name: model, model_version, input_map, output_map });
  const ens = (steps: unknown[], extra: Record<string, unknown> = {}) => ({ platform: 'ensemble', ...IO, ensemble_scheduling: { step: steps }, ...extra });

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown model', ens([step('nope', { x: 'IN' }, { y: 'OUT' })]), /e\d+\/config\.json: ensemble_scheduling\.step\[0\]\.model_name: unknown model 'nope'/],
    ['a version that is not served', ens([step('double', { x: 'IN' }, { y: 'OUT' }, 7)]), /step\[0\]\.model_name: model 'double' has no served version 7/],
    [
      'a cycle between steps',
      ens([step('double', { x: 't1' }, { y: 't0' }), step('plus1', { x: 't0' }, { y: 't1' }), step('double', { x: 'IN' }, { y: 'OUT' })]),
      /ensemble_scheduling\.step: the steps form a cycle: step\[0\] \(model 'double'\) -> step\[1\] \(model 'plus1'\) -> step\[0\] \(model 'double'\)/,
    ],
    ['a tensor nobody produces', ens([step('double', { x: 'ghost' }, { y: 'OUT' })]), /step\[0\]\.input_map\.x: tensor 'ghost' is produced by no step and is not an ensemble input/],
    ['a datatype mismatch', ens([step('double', { x: 'IN' }, { y: 'OUT' })], { input: [tensor('IN', 'TYPE_INT32', [3])] }), /step\[0\]\.input_map\.x: tensor 'IN' is INT32 \(from the ensemble input\) but model 'double' input 'x' takes FP32/],
    ['a shape mismatch', ens([step('double', { x: 'IN' }, { y: 'OUT' })], { input: [tensor('IN', 'TYPE_FP32', [4])] }), /step\[0\]\.input_map\.x: tensor 'IN' has shape \[-1,4\] \(from the ensemble input\) but model 'double' input 'x' takes FP32 \[-1,3\]/],
    ['an output that does not fit', ens([step('double', { x: 'IN' }, { span: 'OUT' })]), /output\[0\]: ensemble output 'OUT' is declared FP32 \[-1,3\] but step\[0\] \(model 'double'\) output 'span' gives FP64 \[-1,2\]/],
    ['an unmapped step input', ens([step('add', { a: 'IN' }, { sum: 'OUT' })]), /step\[0\]\.input_map: model 'add' input 'b' is not mapped/],
    ['an unknown step input', ens([step('double', { x: 'IN', z: 'IN' }, { y: 'OUT' })]), /step\[0\]\.input_map\.z: model 'double' has no input 'z' \(inputs: x\)/],
    ['an unknown step output', ens([step('double', { x: 'IN' }, { nope: 'OUT' })]), /step\[0\]\.output_map\.nope: model 'double' has no output 'nope' \(outputs: y, span\)/],
    ['two producers of one tensor', ens([step('double', { x: 'IN' }, { y: 'OUT' }), step('plus1', { x: 'IN' }, { y: 'OUT' })]), /step\[1\]\.output_map\.y: tensor 'OUT' is already produced by step\[0\]/],
    ['an output nobody produces', ens([step('double', { x: 'IN' }, { y: 't' })]), /output\[0\]\.name: ensemble output 'OUT' is produced by no step/],
    ['itself as a step', ens([step('SELF', { x: 'IN' }, { y: 'OUT' })]), /step\[0\]\.model_name: an ensemble cannot be a step of itself/],
    ['instance_group', ens([step('double', { x: 'IN' }, { y: 'OUT' })], { instance_group: [{ count: 2 }] }), /instance_group: ensembles have no instances of their own/],
    ['dynamic_batching', ens([step('double', { x: 'IN' }, { y: 'OUT' })], { dynamic_batching: {} }), /dynamic_batching: not used by ensembles/],
    ['no ensemble_scheduling', { platform: 'ensemble', ...IO }, /ensemble_scheduling: required for platform 'ensemble'/],
    ['ensemble_scheduling without the platform', { ...IO, backend: 'js', ensemble_scheduling: { step: [step('double', { x: 'IN' }, { y: 'OUT' })] } }, /ensemble_scheduling: only for platform 'ensemble'/],
    ['no steps', { platform: 'ensemble', ...IO, ensemble_scheduling: { step: [] } }, /ensemble_scheduling\.step: an ensemble has at least one step/],
    ['no declared inputs', { platform: 'ensemble', output: IO.output, ensemble_scheduling: { step: [step('double', { x: 'IN' }, { y: 'OUT' })] } }, /config\.json: input: an ensemble declares its inputs/],
  ];

  let n = 0;
  it.each(cases)('refuses %s, naming the file, the step and the tensor', async (_, config, message) => {
    const name = `e${++n}`;
    const text = JSON.stringify(config).replace(/SELF/g, name);
    mkdirSync(join(repo.root, name, '1'), { recursive: true });
    putConfig(repo.root, name, JSON.parse(text)); // as given: some cases lack the platform on purpose
    const r = await post(server.port, `/v2/repository/models/${name}/load`, {});
    expect(r.status, r.text()).toBe(400);
    expect(r.json().error).toMatch(message);
  });

  it('refuses ensembles that contain each other (outer -> inner -> outer)', async () => {
    const r = await post(server.port, '/v2/repository/models/outer/load', {});
    expect(r.status).toBe(400);
    expect(r.json().error).toMatch(/outer\/config\.json: ensemble_scheduling\.step\[0\]\.model_name: model 'inner' leads back to this ensemble \(outer -> inner -> outer\)/);
  });

  it('an explicit load of an ensemble loads its steps first (as Triton does)', async () => {
    putEnsemble(repo.root, 'needs', single('double'));
    expect((await post(server.port, '/v2/repository/models/double/unload', {})).status).toBe(200);
    expect((await get(server.port, '/v2/models/double/ready')).status).toBe(503);
    const r = await post(server.port, '/v2/repository/models/needs/load', {});
    expect(r.status, r.text()).toBe(200);
    expect((await get(server.port, '/v2/models/double/ready')).status).toBe(200);
    expect((await infer(server.port, 'needs', v2Request(fp32([[1, 2, 3]], 'IN')))).out('OUT')).toEqual([2, 4, 6]);
  });

  it('an ensemble whose step failed to load names it, and loads by itself once the step is served', async () => {
    putJsModel(repo.root, 'fixme', 'export function execute( {', stepConfig('double'));
    putEnsemble(repo.root, 'waits', single('fixme'));
    const r = await post(server.port, '/v2/repository/models/waits/load', {});
    expect(r.status).toBe(400);
    expect(r.json().error).toMatch(/waits\/config\.json: ensemble_scheduling\.step\[0\]\.model_name: model 'fixme' is not ready/);
    putJsModel(repo.root, 'fixme', STEP, stepConfig('double'));
    expect((await post(server.port, '/v2/repository/models/fixme/load', {})).status).toBe(200);
    await until(async () => (await get(server.port, '/v2/models/waits/ready')).status === 200, 'waits loaded after its step');
    expect((await infer(server.port, 'waits', v2Request(fp32([[1, 2, 3]], 'IN')))).out('OUT')).toEqual([2, 4, 6]);
  });
});
