// Calls from JavaScript model code to other served models (Triton's BLS), over real HTTP: ONNX models
// run from the worker on the shared native engine, JavaScript models and ensembles through the main
// thread's repository; the caller's deadline, priority and trace context travel with the call; a
// version swap of the called model loses no call; a call chain that could only wait on itself is
// refused with the chain in the message, never a deadlock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { addConstModel } from './helpers/repo-fixtures.js';
import { addModel, slowBatchModel } from '../src/onnx/models.js';
import { MAX_CALL_DEPTH, enterChain } from '../src/pipelines/calls.js';
import { putConfig, putModel, tempRepo } from './helpers/fixtures.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { fp32, infer, putEnsemble, putJsModel, tensor, v2Request } from './helpers/pipelines.js';

const CALLER = readFileSync(new URL('./fixtures/js-models/caller.mjs', import.meta.url), 'utf8');
const io = { max_batch_size: 8, input: [tensor('x', 'TYPE_FP32', [3])], output: [tensor('y', 'TYPE_FP32', [3]), tensor('info', 'TYPE_STRING', [1])] };
const one = (...counts: number[]) => ({ instance_group: counts.map((count) => ({ count })) });
const row = fp32([[1, 2, 3]]);
const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const SLOW = 256;

describe('calls from JavaScript models', () => {
  const repo = tempRepo();
  let server: TestServer;

  beforeAll(async () => {
    const root = repo.root;
    putModel(root, 'add', 1, addModel());
    putModel(root, 'addc', 1, addConstModel(1, 3));
    putModel(root, 'slow', 1, slowBatchModel({ ms: 150, size: SLOW }));
    putConfig(root, 'slow', { max_batch_size: 1, parameters: { intra_op_thread_count: { string_value: '1' } } });
    putJsModel(root, 'caller', CALLER, { ...io, ...one(4) });
    putJsModel(root, 'helper', CALLER, io);
    putJsModel(root, 'caller256', CALLER, { ...io, input: [tensor('x', 'TYPE_FP32', [SLOW])], output: [tensor('y', 'TYPE_FP32', [SLOW]), tensor('info', 'TYPE_STRING', [1])] });
    putJsModel(root, 'self1', CALLER, { ...io, ...one(1) });
    putJsModel(root, 'rec2', CALLER, { ...io, ...one(2) });
    putJsModel(root, 'ping', CALLER, { ...io, ...one(1) });
    putJsModel(root, 'pong', CALLER, { ...io, ...one(1) });
    putConfig(root, 'helper_route', { platform: 'tensorgate_route', routing: { targets: [{ model: 'helper' }] } });
    putEnsemble(root, 'ens', {
      max_batch_size: 8,
      input: [tensor('x', 'TYPE_FP32', [3])],
      output: [tensor('y', 'TYPE_FP32', [3])],
      ensemble_scheduling: { step: [{ model_name: 'add', model_version: -1, input_map: { a: 'x', b: 'x' }, output_map: { sum: 'y' } }] },
    });
    server = await serve(DEFAULT_ENGINE, { modelRepository: root, modelControlMode: 'explicit', loadModel: ['*'] });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    repo.cleanup();
  });

  const call = (target: string, params: Record<string, unknown> = {}, options: { headers?: Record<string, string>; model?: string; input?: ReturnType<typeof fp32> } = {}) =>
    infer(server.port, options.model ?? 'caller', v2Request(options.input ?? row, { parameters: { call: target, ...params } }), options.headers ? { headers: options.headers } : {});

  it('runs an ONNX model from the worker, on the shared engine (its own statistics count the call)', async () => {
    const before = (await get(server.port, '/v2/models/add/stats')).json().model_stats[0].inference_stats.success.count;
    const r = await call('add', { kind: 'add' });
    expect(r.status, r.http.text()).toBe(200);
    expect(r.out('y')).toEqual([2, 4, 6]);
    const after = (await get(server.port, '/v2/models/add/stats')).json().model_stats[0].inference_stats.success.count;
    expect(after).toBe(before + 1);
  });

  it('runs a JavaScript model, a route and an ensemble through the repository, with trace context and priority', async () => {
    const js = await call('helper', { kind: 'js', priority: 2 }, { headers: { traceparent: TRACE } });
    expect(js.status, js.http.text()).toBe(200);
    expect(js.out('y')).toEqual([101, 102, 103]);
    const info = JSON.parse(js.out('info')[0]);
    expect(info.trace.traceparent).toBe(TRACE);
    expect(info.priority).toBe(2);
    expect(info.inner).toMatchObject({ trace: { traceparent: TRACE }, priority: 2 });
    const routed = await call('helper_route', { kind: 'js' });
    expect(routed.status, routed.http.text()).toBe(200);
    expect(routed.out('y')).toEqual([101, 102, 103]);
    const ens = await call('ens', { kind: 'js' });
    expect(ens.status, ens.http.text()).toBe(200);
    expect(ens.out('y')).toEqual([2, 4, 6]);
  });

  it("passes the caller's deadline on: the called model gets what is left of it", async () => {
    const r = await call('helper', { kind: 'js', timeout: 5_000_000 });
    expect(r.status, r.http.text()).toBe(200);
    const { remaining, inner } = JSON.parse(r.out('info')[0]);
    expect(remaining).toBeGreaterThan(0);
    expect(inner.remaining).toBeGreaterThan(0);
    expect(inner.remaining).toBeLessThanOrEqual(5000);
    const without = await call('helper', { kind: 'js' });
    expect(JSON.parse(without.out('info')[0]).inner.remaining).toBeNull();
  });

  it('a call that cannot be served before the deadline fails with TIMEOUT (503), and the caller finishes', async () => {
    // Occupy the slow model's single runner, then call it from a request with 50 ms left.
    const input = (v: number) => ({ x: { datatype: 'FP32', shape: [1, SLOW], data: new Array(SLOW).fill(v) } });
    const busy = infer(server.port, 'slow', v2Request(input(1)));
    await new Promise((r) => setTimeout(r, 30));
    const r = await infer(server.port, 'caller256', v2Request(input(2), { parameters: { call: 'slow', kind: 'js', timeout: 50_000 } }));
    expect(r.status, r.http.text()).toBe(503);
    expect(r.body.error).toMatch(/timed out|deadline/);
    expect((await busy).status).toBe(200);
    const ok = await infer(server.port, 'caller256', v2Request(input(3), { parameters: { call: 'slow', kind: 'js' } }));
    expect(ok.status, ok.http.text()).toBe(200);
    expect(ok.out('y')[0]).toBe(3);
  });

  it('an unknown model answers as the repository does (404), through the model code that rethrows', async () => {
    const r = await call('nope', { kind: 'js' });
    expect(r.status).toBe(404);
    expect(r.body.error).toMatch(/unknown model 'nope'/);
  });

  it('recursion works while workers are free (rec2 has 2 workers: rec2 -> rec2)', async () => {
    const r = await call('rec2', { kind: 'js', inner: { call: 'rec2', stop: true } }, { model: 'rec2' });
    expect(r.status, r.http.text()).toBe(200);
    expect(r.out('y')).toEqual([101, 102, 103]);
  });

  it('a model calling itself with its only worker busy is refused, naming the chain, instead of hanging', async () => {
    const r = await call('self1', { kind: 'js', inner: { stop: true } }, { model: 'self1' });
    expect(r.status).toBe(503);
    expect(r.body.error).toMatch(/model 'self1' version 1 cannot take this call/);
    expect(r.body.error).toMatch(/call chain: self1 -> self1/);
    // Deeper than its workers: rec2 -> rec2 -> rec2 needs three.
    const deep = await call('rec2', { kind: 'js', inner: { call: 'rec2', kind: 'js', inner: { stop: true } } }, { model: 'rec2' });
    expect(deep.status).toBe(503);
    expect(deep.body.error).toMatch(/call chain: rec2 -> rec2 -> rec2/);
  });

  it('a cycle through two models (ping -> pong -> ping) is refused', async () => {
    const r = await call('pong', { kind: 'js', inner: { call: 'ping', kind: 'js', inner: { stop: true } } }, { model: 'ping' });
    expect(r.status).toBe(503);
    expect(r.body.error).toMatch(/call chain: ping -> pong -> ping/);
  });

  it('two requests that would wait on each other across models: one is refused, the other completes', async () => {
    // ping's execute and pong's execute each hold their only worker (both reach the barrier), then call the other.
    const barrier = join(repo.staging, 'barrier');
    const a = call('pong', { kind: 'js', barrier, inner: { stop: true } }, { model: 'ping' });
    const b = call('ping', { kind: 'js', barrier, inner: { stop: true } }, { model: 'pong' });
    const results = await Promise.all([a, b]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 503]);
    const refused = results.find((r) => r.status === 503)!;
    expect(refused.body.error).toMatch(/it would wait for ever/);
  });

  it('a swap of the called ONNX model loses no call (the worker follows the directory)', async () => {
    let stop = false;
    const seen = new Set<number>();
    const failures: string[] = [];
    const client = async (): Promise<void> => {
      while (!stop) {
        const r = await call('addc', { kind: 'js' }, { input: fp32([[0, 0, 0]]) }).catch((e: Error) => ({ status: 0, http: { text: () => e.message } }) as never);
        if (r.status !== 200) failures.push(`${r.status} ${r.http.text()}`);
        else seen.add(r.out('y')[0]);
      }
    };
    // addc: x FP32 [batch, 3] -> y = x + c; the caller feeds x and reads y.
    const clients = Array.from({ length: 8 }, client);
    await new Promise((r) => setTimeout(r, 200));
    for (const c of [2, 3]) {
      putModel(repo.root, 'addc', c, addConstModel(c, 3));
      expect((await post(server.port, '/v2/repository/models/addc/load', {})).status).toBe(200);
      await new Promise((r) => setTimeout(r, 200));
    }
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual([1, 2, 3]);
  }, 60_000);
});

describe('call chains', () => {
  it(`are bounded at ${MAX_CALL_DEPTH} models`, () => {
    let chain: readonly string[] = [];
    for (let i = 0; i < MAX_CALL_DEPTH; i++) chain = enterChain(chain, `m${i}`);
    expect(() => enterChain(chain, 'one-more')).toThrow(/call chain deeper than 16 models \(m0 -> m1 -> .* -> one-more\)/);
  });
});
