// Multi-armed bandits: the policies on three arms with known reward rates (0.05 / 0.10 / 0.15, fixed
// seeds): Thompson sampling and UCB1 send at least 80 % of the last 1,000 of 10,000 pulls to the best
// arm, and every policy's cumulative regret is reported. The feedback ledger (ttl, bound, duplicates,
// unknown ids); rewards by request id over HTTP; arm statistics surviving a restart (--state-dir) and
// shared by two replicas through Redis (--state-redis).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routingSchema } from '../src/repository/routing-schema.js';
import { Bandit } from '../src/routing/bandit.js';
import { FeedbackLedger } from '../src/routing/feedback-ledger.js';
import { Rng } from '../src/routing/rng.js';
import { until } from './helpers/fixtures.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { RedisServer, redisServerAvailable } from './helpers/redis-server.js';
import { inferBody, routingRepo, type RoutingRepo } from './helpers/routing-kit.js';

const RATES = [0.05, 0.1, 0.15];
const BEST = 2;

function simulate(bandit: Record<string, unknown>, seed: number, pulls = 10_000) {
  const config = routingSchema.parse({ targets: [{ model: 'a' }, { model: 'b' }, { model: 'c' }], bandit }).bandit!;
  const b = new Bandit(config, ['a', 'b', 'c'], new Rng(seed));
  const world = new Rng(seed + 1000);
  let regret = 0;
  let lastBest = 0;
  for (let t = 0; t < pulls; t++) {
    const arm = b.choose();
    regret += RATES[BEST]! - RATES[arm]!;
    if (t >= pulls - 1000 && arm === BEST) lastBest++;
    b.reward(arm, world.next() < RATES[arm]! ? 1 : 0);
  }
  return { regret, lastBestShare: lastBest / 1000, pulls: b.report().map((a) => a.pulls) };
}

describe('bandit policies on arms with reward rates 0.05 / 0.10 / 0.15 (10,000 pulls, seed 42)', () => {
  const policies: Array<[string, Record<string, unknown>]> = [
    ['thompson', { policy: 'thompson' }],
    ['ucb1', { policy: 'ucb1' }],
    ['epsilon_greedy ε=0.1', { policy: 'epsilon_greedy', epsilon: 0.1 }],
    ['epsilon_greedy ε=1 decaying (1000)', { policy: 'epsilon_greedy', epsilon: 1, epsilon_decay: 1000 }],
  ];
  const results = new Map<string, ReturnType<typeof simulate>>();

  for (const [name, config] of policies) {
    it(`${name}: cumulative regret reported${name === 'thompson' || name === 'ucb1' ? '; ≥ 80 % of the last 1,000 pulls on the best arm' : ''}`, () => {
      const r = simulate(config, 42);
      results.set(name, r);
      if (name === 'thompson' || name === 'ucb1') expect(r.lastBestShare).toBeGreaterThanOrEqual(0.8);
      // Uniform random choice would lose 0.05 per pull on average: 500 over 10,000 pulls.
      expect(r.regret).toBeLessThan(500);
    });
  }

  afterAll(() => {
    console.log(
      'bandit regret after 10,000 pulls (seed 42):\n' +
        [...results].map(([name, r]) => `  ${name.padEnd(36)} regret ${r.regret.toFixed(1).padStart(6)}  last-1000 on best ${(r.lastBestShare * 100).toFixed(1)} %  pulls ${r.pulls.join('/')}`).join('\n'),
    );
  });

  it('thompson with gaussian rewards finds the arm with the highest mean', () => {
    const config = routingSchema.parse({ targets: [{ model: 'a' }, { model: 'b' }], bandit: { policy: 'thompson', reward: 'gaussian' } }).bandit!;
    const b = new Bandit(config, ['a', 'b'], new Rng(5));
    const world = new Rng(6);
    let last = 0;
    for (let t = 0; t < 3000; t++) {
      const arm = b.choose();
      if (t >= 2000 && arm === 1) last++;
      b.reward(arm, (arm === 1 ? 10.5 : 10) + 2 * world.normal());
    }
    expect(last / 1000).toBeGreaterThanOrEqual(0.8);
  });
});

describe('the feedback ledger', () => {
  it('accepts each kind of feedback once per id: a repeat is a duplicate, an unseen id unknown', () => {
    const l = new FeedbackLedger(60_000, 100);
    l.remember('a', 2, 0);
    expect(l.claim('a', 0, 1)).toEqual({ result: 'accepted', target: 2 });
    expect(l.claim('a', 0, 2)).toEqual({ result: 'duplicate' });
    expect(l.claim('a', 1, 3)).toEqual({ result: 'accepted', target: 2 }); // an outcome is another kind
    expect(l.claim('nope', 0, 4)).toEqual({ result: 'unknown' });
  });

  it('forgets ids after the ttl (expired) and beyond its size, oldest first (evicted)', () => {
    const l = new FeedbackLedger(1000, 3);
    l.remember('old', 0, 0);
    expect(l.claim('old', 0, 1001)).toEqual({ result: 'unknown' });
    expect(l.expired).toBe(1);
    for (const id of ['a', 'b', 'c', 'd', 'e']) l.remember(id, 1, 2000);
    expect(l.size).toBe(3);
    expect(l.evicted).toBe(2);
    expect(l.claim('a', 0, 2001).result).toBe('unknown');
    expect(l.claim('e', 0, 2001).result).toBe('accepted');
  });

  it('a repeated request id credits its latest target; evicting the old slot keeps the new one', () => {
    const l = new FeedbackLedger(60_000, 2);
    l.remember('x', 0, 0);
    l.remember('x', 1, 1);
    l.remember('y', 0, 2); // evicts x's first slot
    expect(l.claim('x', 0, 3)).toEqual({ result: 'accepted', target: 1 });
  });
});

/**
 * Sends `n` requests with ids and rewards each by the served arm's rate (feedback to `feedbackPort`,
 * default the same server); returns the rewards sent.
 */
async function play(port: number, route: string, n: number, seed: number, prefix: string, feedbackPort = port): Promise<number> {
  const world = new Rng(seed);
  const rates: Record<string, number> = { a: 0.05, b: 0.1, c: 0.15 };
  let batch: Array<{ id: string; reward: number }> = [];
  let sent = 0;
  for (let i = 0; i < n; i++) {
    const res = await post(port, `/v2/models/${route}/infer`, inferBody(0, { id: `${prefix}${i}` }));
    expect(res.status, res.text()).toBe(200);
    const arm = res.json().model_name as string;
    batch.push({ id: `${prefix}${i}`, reward: world.next() < rates[arm]! ? 1 : 0 });
    if (batch.length === 50 || i === n - 1) {
      const fb = await post(feedbackPort, `/v2/models/${route}/feedback`, { feedback: batch });
      expect(fb.status, fb.text()).toBe(200);
      expect(fb.json().accepted).toBe(batch.length);
      sent += batch.length;
      batch = [];
    }
  }
  return sent;
}

const arms = async (port: number, route: string) => (await get(port, `/v2/models/${route}/routing`)).json().bandit.arms as Array<{ arm: string; pulls: number; rewards: number; mean_reward: number | null }>;

describe('a bandit route over HTTP', () => {
  let repo: RoutingRepo;
  let server: TestServer;
  const stateDir = mkdtempSync(join(tmpdir(), 'tg-state-'));

  beforeAll(async () => {
    repo = routingRepo({ a: 1, b: 2, c: 3 }, { mab: { targets: [{ model: 'a' }, { model: 'b' }, { model: 'c' }], bandit: { policy: 'thompson' }, feedback: { ttl_s: 600, max_ids: 10_000 }, seed: 3 } });
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, stateDir });
  });
  afterAll(async () => {
    await server?.stop();
    repo?.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('learns from rewards sent by request id; duplicates, unknown ids and bad rewards are refused and counted', async () => {
    const rewarded = await play(server.port, 'mab', 400, 9, 'q');
    const report = await arms(server.port, 'mab');
    expect(report.reduce((n, a) => n + a.pulls, 0)).toBe(400);
    expect(report.reduce((n, a) => n + a.rewards, 0)).toBe(rewarded);
    const dup = await post(server.port, '/v2/models/mab/feedback', { feedback: [{ id: 'q1', reward: 1 }, { id: 'never', reward: 1 }, { id: 'q2', reward: 7 }] });
    expect(dup.json()).toMatchObject({ accepted: 0, duplicate: 1, unknown: 1, invalid: 1 });
    expect(dup.json().results[2].error).toMatch(/\[0, 1\]/);
    const single = await post(server.port, '/v2/models/mab/feedback', { id: 'q3', reward: 'yes' });
    expect(single.status).toBe(400);
    const metrics = (await get(server.port, '/metrics')).text();
    expect(metrics).toMatch(/tensorgate_route_bandit_pulls_total\{route="mab",arm="c"\} \d+/);
    expect(metrics).toContain('tensorgate_route_feedback_total{route="mab",kind="reward",result="duplicate"} 1');
    expect(metrics).toMatch(/tensorgate_route_bandit_mean_reward\{route="mab",arm="a"\} [\d.]+/);
  });

  it('a request without an id gets one in the reply, and feedback for it is accepted', async () => {
    const res = await post(server.port, '/v2/models/mab/infer', inferBody(0));
    const id = res.json().id as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json().parameters.tensorgate_reason).toBe('bandit');
    expect((await post(server.port, '/v2/models/mab/feedback', { id, reward: 1 })).json().accepted).toBe(1);
  });

  it('arm statistics survive a restart (--state-dir)', async () => {
    const before = await arms(server.port, 'mab');
    await server.stop();
    server = await serve('node', { modelRepository: repo.root, stateDir });
    expect(await arms(server.port, 'mab')).toEqual(before);
  });
});

describe.skipIf(!redisServerAvailable())('two replicas sharing arm statistics through Redis (--state-redis)', () => {
  let repo: RoutingRepo;
  let redis: RedisServer;
  let one: TestServer;
  let two: TestServer;

  beforeAll(async () => {
    redis = await RedisServer.start();
    repo = routingRepo({ a: 1, b: 2, c: 3 }, { mab: { targets: [{ model: 'a' }, { model: 'b' }, { model: 'c' }], bandit: { policy: 'ucb1' } } });
    one = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, stateRedis: redis.url });
    two = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, stateRedis: redis.url });
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    await redis?.stop();
    repo?.cleanup();
  });

  it('feedback for a request one replica served is taken by the other, once', async () => {
    const served = await post(one.port, '/v2/models/mab/infer', inferBody(0, { id: 'cross-1' }));
    expect(served.status).toBe(200);
    expect((await post(two.port, '/v2/models/mab/feedback', { id: 'cross-1', reward: 1 })).json().accepted).toBe(1);
    expect((await post(one.port, '/v2/models/mab/feedback', { id: 'cross-1', reward: 1 })).json().duplicate).toBe(1);
    expect((await post(one.port, '/v2/models/mab/feedback', { id: 'never-served', reward: 1 })).json().unknown).toBe(1);
    expect((await get(two.port, '/v2/models/mab/routing')).json().feedback.ids_kept_in).toBe('redis');
  });

  it('what one replica learns, the other knows within a sync interval (1 s)', async () => {
    const rewarded = 1 + (await play(one.port, 'mab', 200, 4, 'r', two.port)); // and cross-1's, above
    await until(async () => (await arms(two.port, 'mab')).reduce((n, a) => n + a.rewards, 0) === rewarded, 'replica two sees the rewards', 10_000, 100);
    const a = await arms(one.port, 'mab');
    await until(async () => JSON.stringify(await arms(two.port, 'mab')) === JSON.stringify(await arms(one.port, 'mab')), 'the same arm statistics', 10_000, 100);
    expect(a.reduce((n, x) => n + x.pulls, 0)).toBe(201);
  });
});
