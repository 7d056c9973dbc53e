// Weighted split: the share each target gets (chi-square at p = 0.001, fixed seeds), end to end over
// HTTP (the reply names the target: model_name, parameters, tensorgate-target header), pinning,
// weights changed through the management API, and the metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/routing/rng.js';
import { WeightedSplit } from '../src/routing/weighted-split.js';
import { get, post, request, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { chiSquare, CHI2_CRITICAL_P001, inferBody, offsetOf, pickContext, routingRepo, runtimeFor, type RoutingRepo } from './helpers/routing-kit.js';

describe('weighted split (100,000 draws, seed 7: chi-square does not reject at p = 0.001)', () => {
  for (const weights of [
    [95, 5],
    [50, 30, 20],
  ]) {
    it(`${weights.join('/')}`, () => {
      const split = new WeightedSplit(weights);
      const rng = new Rng(7);
      const counts = new Array<number>(weights.length).fill(0);
      for (let i = 0; i < 100_000; i++) counts[split.pick(rng.next())]!++;
      const total = weights.reduce((a, b) => a + b, 0);
      const chi2 = chiSquare(counts, weights.map((w) => w / total));
      expect(chi2, `counts ${counts.join('/')}, chi-square ${chi2.toFixed(3)}`).toBeLessThan(CHI2_CRITICAL_P001[weights.length - 1]!);
    });
  }

  it('through the route runtime (the path requests take), 95/5 over 100,000 picks', () => {
    const route = runtimeFor({ targets: [{ model: 'a', weight: 95 }, { model: 'b', weight: 5 }], seed: 11 });
    const ctx = pickContext();
    const counts = [0, 0];
    for (let i = 0; i < 100_000; i++) counts[route.pick(ctx).index]!++;
    expect(chiSquare(counts, [0.95, 0.05])).toBeLessThan(CHI2_CRITICAL_P001[1]!);
    expect([...route.requests]).toEqual(counts);
  });

  it('weights are proportional (any scale); a weight of 0 gets nothing; all 0 has no target', () => {
    const split = new WeightedSplit([2, 0, 6]);
    expect(split.percents()).toEqual([25, 0, 75]);
    const rng = new Rng(3);
    for (let i = 0; i < 10_000; i++) expect(split.pick(rng.next())).not.toBe(1);
    expect(new WeightedSplit([0, 0]).pick(0.5)).toBe(-1);
    expect(() => new WeightedSplit([1, -1])).toThrow(/not a finite non-negative/);
  });

  it('without weights every target gets an equal share', () => {
    const route = runtimeFor({ targets: [{ model: 'a' }, { model: 'b' }, { model: 'c' }] });
    expect(route.split.percents().map((p) => Math.round(p * 100) / 100)).toEqual([33.33, 33.33, 33.33]);
  });
});

describe('a route over HTTP', () => {
  let repo: RoutingRepo;
  let server: TestServer;
  const token = { authorization: 'Bearer s3cret' };

  beforeAll(async () => {
    repo = routingRepo(
      { a: 1, b: 2, c: 3 },
      {
        r: { targets: [{ model: 'a', weight: 50 }, { model: 'b', weight: 30 }, { model: 'c', weight: 20 }], seed: 5 },
        pinnable: { targets: [{ model: 'a', weight: 100 }, { name: 'bee', model: 'b', version: 1, weight: 0 }], allow_pin: true },
      },
    );
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, adminToken: 's3cret' });
  });
  afterAll(async () => {
    await server?.stop();
    repo?.cleanup();
  });

  it('is served like a model: the reply is the target’s, named by model_name, parameters and the tensorgate-target header', async () => {
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    const n = 600;
    for (let i = 0; i < n; i++) {
      const res = await post(server.port, '/v2/models/r/infer', inferBody(10, { id: `q${i}` }));
      expect(res.status, res.text()).toBe(200);
      const body = res.json();
      const target = body.model_name as string;
      expect(offsetOf(body, 10)).toBe({ a: 1, b: 2, c: 3 }[target]);
      expect(body.model_version).toBe('1');
      expect(body.id).toBe(`q${i}`);
      expect(body.parameters).toEqual({ tensorgate_route: 'r', tensorgate_target: target, tensorgate_reason: 'weight' });
      expect(res.headers['tensorgate-target']).toBe(target);
      counts[target]!++;
    }
    expect(chiSquare([counts.a!, counts.b!, counts.c!], [0.5, 0.3, 0.2])).toBeLessThan(CHI2_CRITICAL_P001[2]!);
    const status = (await get(server.port, '/v2/models/r/routing', token)).json();
    expect(status.mode).toBe('split');
    expect(status.targets.map((t: { requests: number }) => t.requests)).toEqual([counts.a, counts.b, counts.c]);
    const metrics = (await get(server.port, '/metrics')).text();
    expect(metrics).toContain(`tensorgate_route_requests_total{route="r",target="a"} ${counts.a}`);
    expect(metrics).toContain('tensorgate_route_weight_percent{route="r",target="b"} 30');
  });

  it('binary requests and replies work through a route (the parameters ride in the JSON header)', async () => {
    const header = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: 16 } }], outputs: [{ name: 'y', parameters: { binary_data: true } }] });
    const body = Buffer.concat([Buffer.from(header), Buffer.from(new Float32Array([1, 2, 3, 4]).buffer)]);
    const res = await post(server.port, '/v2/models/pinnable/infer', body, { 'inference-header-content-length': header.length });
    expect(res.status, res.text()).toBe(200);
    const jsonLength = Number(res.headers['inference-header-content-length']);
    const json = JSON.parse(res.body.subarray(0, jsonLength).toString());
    expect(json.parameters.tensorgate_target).toBe('a');
    expect([...new Float32Array(res.body.subarray(jsonLength).buffer.slice(res.body.byteOffset + jsonLength, res.body.byteOffset + res.body.length))]).toEqual([2, 3, 4, 5]);
  });

  it('a client may pin a target with the tensorgate-target header where the route allows it', async () => {
    const res = await post(server.port, '/v2/models/pinnable/infer', inferBody(0), { 'tensorgate-target': 'bee' });
    expect(res.status, res.text()).toBe(200);
    expect(res.json().model_name).toBe('b'); // weight 0, but pinned
    expect(res.json().parameters.tensorgate_reason).toBe('pinned');
    const unknown = await post(server.port, '/v2/models/pinnable/infer', inferBody(0), { 'tensorgate-target': 'zzz' });
    expect(unknown.status).toBe(400);
    expect(unknown.json().error).toMatch(/has no target 'zzz'/);
    const refused = await post(server.port, '/v2/models/r/infer', inferBody(0), { 'tensorgate-target': 'a' });
    expect(refused.status).toBe(400);
    expect(refused.json().error).toMatch(/does not allow pinning.*allow_pin/);
  });

  it('weights change through the management API (admin token) and apply at once', async () => {
    expect((await post(server.port, '/v2/models/pinnable/routing', { action: 'weights', weights: { bee: 100 } })).status).toBe(401);
    const bad = await post(server.port, '/v2/models/pinnable/routing', { action: 'weights', weights: { nope: 1 } }, token);
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatch(/no target 'nope'/);
    const set = await post(server.port, '/v2/models/pinnable/routing', { action: 'weights', weights: { a: 0, bee: 1 } }, token);
    expect(set.status, set.text()).toBe(200);
    expect(set.json().targets.map((t: { weight_percent: number }) => t.weight_percent)).toEqual([0, 100]);
    for (let i = 0; i < 20; i++) expect((await post(server.port, '/v2/models/pinnable/infer', inferBody(0))).json().model_name).toBe('b');
    const conflict = await post(server.port, '/v2/models/r/routing', { action: 'pause' }, token);
    expect(conflict.status).toBe(409);
    expect(conflict.json().error).toMatch(/no canary/);
  });

  it('management endpoints: 404 for unknown models and for models that are not routes', async () => {
    expect((await get(server.port, '/v2/models/nope/routing', token)).status).toBe(404);
    const plain = await get(server.port, '/v2/models/a/routing', token);
    expect(plain.status).toBe(404);
    expect(plain.json().error).toMatch(/not a loaded route/);
    expect((await post(server.port, '/v2/models/r/routing', { action: 'fly' }, token)).status).toBe(400);
    expect((await request(server.port, 'PUT', '/v2/models/r/routing', { headers: token })).status).toBe(405);
    expect((await get(server.port, '/v2/models/r/feedback', token)).status).toBe(405);
  });

  it('metadata, readiness and config of a route are its primary target’s and its own', async () => {
    const meta = (await get(server.port, '/v2/models/r')).json();
    expect(meta.platform).toBe('tensorgate_route');
    expect(meta.inputs).toEqual([{ name: 'x', datatype: 'FP32', shape: [-1, 4] }]);
    expect((await get(server.port, '/v2/models/r/ready')).status).toBe(200);
    const config = (await get(server.port, '/v2/models/r/config')).json();
    expect(config.routing.targets).toHaveLength(3);
  });
});
