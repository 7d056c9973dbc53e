// Sticky assignment: the same key always gets the same target while weights stay (10,000 keys over
// 1,000,000 picks in-process, and over HTTP across a server restart); raising the canary from 5 % to
// 10 % moves keys only into the canary; keys from a header, a request parameter or an input tensor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rendezvous } from '../src/routing/rendezvous.js';
import { hashString, KEY_SEED_A, KEY_SEED_B } from '../src/routing/hash.js';
import { post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { chiSquare, CHI2_CRITICAL_P001, inferBody, pickContext, routingRepo, runtimeFor, type RoutingRepo } from './helpers/routing-kit.js';

const KEYS = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

describe('sticky keys in-process', () => {
  it('10,000 keys keep their target across 1,000,000 picks; shares match the weights (chi-square, p = 0.001)', () => {
    const route = runtimeFor({ targets: [{ model: 'a', weight: 95 }, { model: 'b', weight: 5 }], sticky: { header: 'X-User' }, seed: 1 });
    const first = new Int8Array(KEYS.length).fill(-1);
    const ctx = pickContext();
    const headers = KEYS.map((key) => ({ 'x-user': key }));
    let moved = 0;
    let unsticky = 0;
    for (let round = 0; round < 100; round++) {
      for (let k = 0; k < KEYS.length; k++) {
        ctx.headers = headers[k];
        const d = route.pick(ctx);
        if (d.reason !== 'sticky') unsticky++;
        if (first[k] === -1) first[k] = d.index;
        else if (first[k] !== d.index) moved++;
      }
    }
    expect(moved).toBe(0);
    expect(unsticky).toBe(0);
    const perTarget = [0, 0];
    for (const t of first) perTarget[t]!++;
    expect(chiSquare(perTarget, [0.95, 0.05]), `keys per target ${perTarget.join('/')}`).toBeLessThan(CHI2_CRITICAL_P001[1]!);
  });

  it('raising the canary from 5 % to 10 % moves keys only into the canary, about 5 % of them', async () => {
    const route = runtimeFor({
      targets: [{ model: 'stable' }, { model: 'canary' }],
      canary: { candidate: 'canary', steps: [5, 10, 25], interval_s: 3600 },
      sticky: { header: 'x-user' },
    });
    await route.start();
    expect(route.canary!.weight).toBe(5);
    const ctx = pickContext();
    const at = (): number[] =>
      KEYS.map((key) => {
        ctx.headers = { 'x-user': key };
        return route.pick(ctx).index;
      });
    const before = at();
    await route.canary!.setWeight(10);
    const after = at();
    let intoCanary = 0;
    for (let k = 0; k < KEYS.length; k++) {
      if (before[k] === after[k]) continue;
      expect([before[k], after[k]], `key ${KEYS[k]} moved the wrong way`).toEqual([0, 1]);
      intoCanary++;
    }
    // Expected 10,000 × 5 % = 500 (binomial sd ≈ 22): bounds at ±5 sd.
    expect(intoCanary).toBeGreaterThan(500 - 110);
    expect(intoCanary).toBeLessThan(500 + 110);
    await route.close();
  });

  it('with three targets, growing one never moves keys between the other two (rendezvous monotonicity)', () => {
    const hrw = new Rendezvous(['a', 'b', 'c']);
    const w1 = Float64Array.from([60, 35, 5]);
    const w2 = Float64Array.from([60 * 0.8, 35 * 0.8, 25]); // c grows, the others scale by a common factor
    for (const key of KEYS) {
      const a = hashString(key, KEY_SEED_A);
      const b = hashString(key, KEY_SEED_B);
      const x = hrw.pick(a, b, w1);
      const y = hrw.pick(a, b, w2);
      if (x !== y) expect(y).toBe(2);
    }
  });

  it('a request without the key is routed by weight (and counted)', () => {
    const route = runtimeFor({ targets: [{ model: 'a' }, { model: 'b' }], sticky: { header: 'x-user' } });
    const d = route.pick(pickContext({}));
    expect(d.reason).toBe('weight');
    expect(route.unkeyed).toBe(1);
  });
});

describe('sticky keys over HTTP', () => {
  let repo: RoutingRepo;
  let server: TestServer;

  beforeAll(async () => {
    repo = routingRepo(
      { a: 1, b: 2 },
      {
        byheader: { targets: [{ model: 'a', weight: 80 }, { model: 'b', weight: 20 }], sticky: { header: 'x-user-id' } },
        byparam: { targets: [{ model: 'a' }, { model: 'b' }], sticky: { parameter: 'user' } },
        byinput: { targets: [{ model: 'a' }, { model: 'b' }], sticky: { input: 'x' } },
      },
    );
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root });
  });
  afterAll(async () => {
    await server?.stop();
    repo?.cleanup();
  });

  const target = async (port: number, route: string, body: string, headers?: Record<string, string>) => {
    const res = await post(port, `/v2/models/${route}/infer`, body, headers);
    expect(res.status, res.text()).toBe(200);
    return res.json().model_name as string;
  };

  it('a key keeps its target across a server restart (the hash depends only on the key and target ids)', async () => {
    const keys = KEYS.slice(0, 300);
    const before = [];
    for (const k of keys) before.push(await target(server.port, 'byheader', inferBody(0), { 'x-user-id': k }));
    expect(new Set(before)).toEqual(new Set(['a', 'b']));
    await server.stop();
    server = await serve('node', { modelRepository: repo.root });
    for (let i = 0; i < keys.length; i++) expect(await target(server.port, 'byheader', inferBody(0), { 'x-user-id': keys[i]! })).toBe(before[i]);
  });

  it('a request parameter is the key', async () => {
    const seen = new Map<string, string>();
    for (let round = 0; round < 3; round++) {
      for (let u = 0; u < 40; u++) {
        const t = await target(server.port, 'byparam', inferBody(round, { parameters: { user: `u${u}` } }));
        if (seen.has(`u${u}`)) expect(t).toBe(seen.get(`u${u}`));
        seen.set(`u${u}`, t);
      }
    }
    expect(new Set(seen.values()).size).toBe(2);
  });

  it("an input tensor's value is the key (decoded once)", async () => {
    const seen = new Map<number, string>();
    for (let round = 0; round < 3; round++) {
      for (let v = 0; v < 40; v++) {
        const t = await target(server.port, 'byinput', inferBody(v));
        if (seen.has(v)) expect(t).toBe(seen.get(v));
        seen.set(v, t);
      }
    }
    expect(new Set(seen.values()).size).toBe(2);
  });
});
