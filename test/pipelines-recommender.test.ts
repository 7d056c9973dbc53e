// The recommender case study (examples/recommender) served for real: the ensembles' answers checked
// against the same steps called one by one over HTTP, and against references computed here
// independently (mean-pooled user vector and dot products for the top-k step, the tree ensemble's
// pure-JS evaluation for the fallback); the two encoder versions give different answers, each equal
// to its own reference; the route answers from the primary, then the tree fallback, then the static
// popular items as what they need goes away; the load replay runs briefly and writes its summary and
// picture.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIM, ITEMS, ITEM_EMBEDDINGS, TOPK } from '../examples/recommender/lib/catalog.mjs';
import { canaryConfig, prepareRepository, routeBackendPresent } from '../examples/recommender/setup.js';
import { treeEnsembleParams, treeEnsembleReference } from '../src/onnx/models.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { infer, v2Request, type V2Request } from './helpers/pipelines.js';

const ROOT = resolve(import.meta.dirname, '..');

const USERS = [
  { user: 7, recent: [3, 15, 15, 200], text: 'running shoes for winter' },
  { user: 123456, recent: [], text: 'coffee' },
  { user: 42, recent: [0, 1, 2, 3, 4, 5, 6, 7, 8], text: 'Lego Puzzle, book & NOVEL' },
];

const request = (u: (typeof USERS)[number]): V2Request =>
  v2Request({
    user_id: { datatype: 'INT64', shape: [1], data: [u.user] },
    recent_items: { datatype: 'INT32', shape: [u.recent.length], data: u.recent },
    text: { datatype: 'BYTES', shape: [1], data: [u.text] },
  });

/** The top-k step computed independently: mean over the sequence, dot with every item, best k not seen. */
function topkReference(encoded: number[], seq: number, recent: number[]): number[] {
  const user = new Float64Array(DIM);
  for (let t = 0; t < seq; t++) for (let d = 0; d < DIM; d++) user[d] = user[d]! + encoded[t * DIM + d]! / seq;
  const scored: Array<[number, number]> = [];
  for (let i = 0; i < ITEMS; i++) {
    if (recent.includes(i)) continue;
    let s = 0;
    for (let d = 0; d < DIM; d++) s += user[d]! * ITEM_EMBEDDINGS[i * DIM + d]!;
    scored.push([Math.fround(s), i]);
  }
  scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return scored.slice(0, TOPK).map(([, i]) => i);
}

describe('the recommender case study', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-recommender-test-'));
  let server: TestServer;

  beforeAll(async () => {
    const { repository } = prepareRepository(dir, { routes: false });
    server = await serve(DEFAULT_ENGINE, {
      modelRepository: repository,
      modelControlMode: 'explicit',
      loadModel: ['features', 'encoder', 'topk', 'trees', 'topk_trees', 'recommender', 'recommender_v1', 'recommender_v2', 'recommender_fallback'],
      cache: ['local,size=16MiB'],
    });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(USERS.map((u) => [u.user, u] as const))('user %s: each encoder version answers as its steps called one by one, and as the independent reference', async (_, u) => {
    const answers: number[][] = [];
    for (const version of ['1', '2']) {
      const r = await infer(server.port, `recommender_v${version}`, request(u));
      expect(r.status, r.http.text()).toBe(200);
      const features = await infer(server.port, 'features', request(u));
      expect(features.status, features.http.text()).toBe(200);
      const tokens = features.body.outputs.find((o: { name: string }) => o.name === 'tokens');
      const encoded = await infer(server.port, 'encoder', v2Request({ x: { datatype: 'FP32', shape: tokens.shape, data: tokens.data } }), { version });
      expect(encoded.status, encoded.http.text()).toBe(200);
      const seq = tokens.shape[1];
      const topk = await infer(server.port, 'topk', v2Request({
        embedding: { datatype: 'FP32', shape: [1, seq, DIM], data: encoded.out('y') },
        recent_items: { datatype: 'INT32', shape: [u.recent.length], data: u.recent },
      }));
      expect(r.out('item_ids')).toEqual(topk.out('item_ids'));
      expect(r.out('scores')).toEqual(topk.out('scores'));
      expect(r.out('item_ids')).toEqual(topkReference(encoded.out('y'), seq, u.recent));
      expect(r.out('item_ids').some((i: number) => u.recent.includes(i))).toBe(false);
      answers.push(r.out('item_ids'));
    }
    expect(answers[0]).not.toEqual(answers[1]); // two encoders, two answers
    // 'recommender' follows the encoder's latest version (2).
    expect((await infer(server.port, 'recommender', request(u))).out('item_ids')).toEqual(answers[1]);
  });

  it('the tree-ensemble fallback answers as its steps, and as the trees evaluated in JavaScript', async () => {
    const params = treeEnsembleParams();
    for (const u of USERS) {
      const r = await infer(server.port, 'recommender_fallback', request(u));
      expect(r.status, r.http.text()).toBe(200);
      const features = await infer(server.port, 'features', request(u));
      const cand = features.out('cand_features') as number[];
      const ids = features.out('cand_ids') as number[];
      const trees = await infer(server.port, 'trees', v2Request({ x: { datatype: 'FP32', shape: [ids.length, 8], data: cand } }));
      const scores = trees.out('y') as number[];
      const reference = treeEnsembleReference(params, Float32Array.from(cand));
      // ORT adds the leaves in float32 in its own order: equal to the JS evaluation within rounding.
      reference.forEach((v, i) => expect(scores[i]).toBeCloseTo(v, 5));
      const order = ids.map((id, i) => [scores[i]!, id] as const).filter(([, id]) => !u.recent.includes(id)).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
      expect(r.out('item_ids')).toEqual(order.slice(0, TOPK).map(([, id]) => id));
    }
  });

  it('reports per-step statistics for the case study ensembles', async () => {
    const stats = (await get(server.port, '/v2/models/recommender_v1/stats')).json().model_stats[0];
    expect(stats.composing_models.map((c: { name: string }) => c.name)).toEqual(['features', 'encoder', 'topk']);
  });

  it('the route: the primary answers; with the encoder gone the tree fallback does, then the static popular items', async () => {
    const support = routeBackendPresent();
    if (!support.present) {
      expect(support.reason).toMatch(/routes\/recommend\/config\.json: platform/);
      return;
    }
    const withRoutes = prepareRepository(join(dir, 'with-routes'), { routes: true });
    expect(withRoutes.routes).toEqual(['recommend']);
    cpSync(join(withRoutes.repository, 'recommend'), join(server.running.repository.root, 'recommend'), { recursive: true });
    expect((await post(server.port, '/v2/repository/models/recommend/load', {})).status).toBe(200);
    const u = USERS[0]!;
    const routed = await infer(server.port, 'recommend', request(u), { headers: { 'x-user-id': String(u.user) } });
    expect(routed.status, routed.http.text()).toBe(200);
    expect(routed.http.headers['tensorgate-target']).toBe('recommender_v1');
    expect(routed.out('item_ids')).toEqual((await infer(server.port, 'recommender_v1', request(u))).out('item_ids'));
    const fallback = (await infer(server.port, 'recommender_fallback', request(u))).out('item_ids');
    expect((await post(server.port, '/v2/repository/models/encoder/unload', {})).status).toBe(200);
    const viaTrees = await infer(server.port, 'recommend', request(u));
    expect(viaTrees.status, viaTrees.http.text()).toBe(200);
    expect(viaTrees.http.headers['tensorgate-target']).toBe('recommender_fallback');
    expect(viaTrees.out('item_ids')).toEqual(fallback);
    expect((await post(server.port, '/v2/repository/models/trees/unload', {})).status).toBe(200);
    const popular = await infer(server.port, 'recommend', request(u));
    expect(popular.status, popular.http.text()).toBe(200);
    expect(popular.http.headers['tensorgate-target']).toBe('static');
    expect(popular.out('item_ids')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const m of ['encoder', 'trees', 'recommender_v1', 'recommender_fallback']) expect((await post(server.port, `/v2/repository/models/${m}/load`, {})).status).toBe(200);
    const back = await infer(server.port, 'recommend', request(u));
    expect(back.http.headers['tensorgate-target']).toBe('recommender_v1');
    // The rollout's config (the canary) loads as a reload of the same route.
    expect((await post(server.port, '/v2/repository/models/recommend/load', { parameters: { config: JSON.stringify(canaryConfig()) } })).status).toBe(200);
    const canary = (await get(server.port, '/v2/models/recommend/routing')).json().canary;
    expect(canary).toMatchObject({ candidate: 'recommender_v2', steps: [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100] });
  });

  it('the load replay runs, prints its summary and draws latency over time', async () => {
    const out = join(dir, 'results');
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'examples/recommender/replay.ts')], {
      env: { ...process.env, RECOMMENDER_SECONDS: '3', RECOMMENDER_RATE: '40', RECOMMENDER_CLIENTS: '8', RECOMMENDER_OUT: out },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/availability \d+\.\d+ %/);
    expect(stdout).toMatch(/P50 .* P90 .* P99 .* P999/);
    expect(stdout).toMatch(/answered by:/);
    if (!routeBackendPresent().present) expect(stdout).toMatch(/The route backend is not in this build/);
    const summary = JSON.parse(readFileSync(join(out, 'recommender.json'), 'utf8'));
    expect(summary.requests).toBeGreaterThan(0);
    expect(summary.phases).toHaveLength(4);
    expect(existsSync(join(out, 'recommender-latency.svg'))).toBe(true);
    expect(readFileSync(join(out, 'recommender-latency.svg'), 'utf8')).toMatch(/^<svg/);
  }, 180_000);
});
