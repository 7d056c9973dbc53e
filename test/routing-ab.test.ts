// A/B results: the statistics against reference values (computed with SciPy 1.17, stated below), the
// sample size a power calculation predicts for 10 % vs 12 % conversions, and the route's report fed
// through its feedback API: significant at that sample size (within 20 %) for 10 % vs 12 %, not for
// 10 % vs 10 %; over 50 seeded experiments the share called significant matches the power (0.8) and
// the false-positive rate (0.05). End to end over HTTP: outcomes by request id, report and metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalCdf, normalQuantile, sampleSizeMeans, sampleSizeProportions, studentTwoSidedP, twoProportionTest, welchTest } from '../src/routing/ab-stats.js';
import { RoutingControl } from '../src/routing/control.js';
import type { OutcomeComparison } from '../src/routing/outcomes.js';
import { Rng } from '../src/routing/rng.js';
import type { RoutingRuntime } from '../src/routing/runtime.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { inferBody, routingRepo, runtimeFor, type RoutingRepo } from './helpers/routing-kit.js';

describe('statistics against reference values (SciPy 1.17)', () => {
  it('normal quantiles and CDF', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(0.8)).toBeCloseTo(0.8416212335729143, 8);
    expect(normalQuantile(1e-6)).toBeCloseTo(-4.753424308822899, 7);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6);
  });

  it("Student's t two-sided p-values", () => {
    expect(studentTwoSidedP(2.0, 5)).toBeCloseTo(0.10193947882985835, 8);
    expect(studentTwoSidedP(2.5, 12.3)).toBeCloseTo(0.027492775039948656, 8);
    expect(studentTwoSidedP(0.3, 1000.5)).toBeCloseTo(0.7642394730127325, 8);
  });

  it('the pooled two-proportion z-test: 384/3841 vs 461/3841', () => {
    const r = twoProportionTest(384, 3841, 461, 3841);
    expect(r.statistic).toBeCloseTo(2.807803636427407, 6);
    expect(r.p_value).toBeCloseTo(0.0049880631755667825, 6);
  });

  it("Welch's t-test: mean 10 sd 2 n 50 vs mean 11 sd 3 n 40", () => {
    const r = welchTest(10, 4, 50, 11, 9, 40);
    expect(r.statistic).toBeCloseTo(1.8107149208503706, 8);
    expect(r.df).toBeCloseTo(65.11213361536137, 8);
    expect(r.p_value).toBeCloseTo(0.07479873860026835, 8);
  });

  it('sample size per arm for 10 % vs 12 % at alpha 0.05, power 0.8: 3841 (the textbook formula)', () => {
    expect(sampleSizeProportions(0.1, 0.12, 0.05, 0.8)).toBe(3841);
    expect(sampleSizeProportions(0.1, 0.1, 0.05, 0.8)).toBe(Infinity);
    // Means: (1.96 + 0.8416)^2 · (1 + 1) / 0.2^2 = 392.4 → 393.
    expect(sampleSizeMeans(1, 1, 0.2, 0.05, 0.8)).toBe(393);
  });
});

const PREDICTED = 3841;

/** Runs one simulated experiment through a route's feedback API: n requests per arm with conversion rates a, b. */
async function experiment(rates: [number, number], n: number, seed: number): Promise<OutcomeComparison> {
  const route = runtimeFor({ targets: [{ model: 'control' }, { model: 'variant' }], ab: { outcomes: [{ name: 'converted', kind: 'rate' }] } });
  const runtime = { route: () => route } as unknown as RoutingRuntime;
  const control = new RoutingControl({ routing: runtime, exists: () => true });
  const world = new Rng(seed);
  const items = [];
  for (let i = 0; i < 2 * n; i++) {
    const arm = i % 2;
    route.feedback!.remember(`r${i}`, arm);
    items.push({ id: `r${i}`, outcomes: { converted: world.next() < rates[arm]! } });
  }
  const reply = await control.feedback('r', { feedback: items });
  expect(reply.accepted).toBe(2 * n);
  const report = control.status('r') as { ab: { outcomes: Array<{ comparisons: OutcomeComparison[] }> } };
  await route.close();
  return report.ab.outcomes[0]!.comparisons[0]!;
}

describe('the route’s A/B report', () => {
  it('10 % vs 12 %: significant at the predicted sample size (3841 per arm, seed 1), and it predicts that size within 20 %', async () => {
    const c = await experiment([0.1, 0.12], PREDICTED, 1);
    expect(c.significant, JSON.stringify(c)).toBe(true);
    expect(c.p_value!).toBeLessThan(0.05);
    expect(c.samples_needed!).toBeGreaterThan(PREDICTED * 0.8);
    expect(c.samples_needed!).toBeLessThan(PREDICTED * 1.2);
    expect(c.test).toBe('two-proportion z');
  });

  it('10 % vs 10 %: not significant at the same size (seed 1)', async () => {
    const c = await experiment([0.1, 0.1], PREDICTED, 1);
    expect(c.significant, JSON.stringify(c)).toBe(false);
  });

  it('over 50 experiments (seeds 100–149) the share called significant is the power for 12 % (0.8) and alpha for 10 % (0.05)', async () => {
    let hits = 0;
    let falseAlarms = 0;
    for (let s = 100; s < 150; s++) {
      if ((await experiment([0.1, 0.12], PREDICTED, s)).significant) hits++;
      if ((await experiment([0.1, 0.1], PREDICTED, s + 1000)).significant) falseAlarms++;
    }
    // Binomial(50, 0.8): mean 40, sd 2.8 → [30, 48] is ±3.5 sd; Binomial(50, 0.05): mean 2.5 → ≤ 8.
    expect(hits).toBeGreaterThanOrEqual(30);
    expect(hits).toBeLessThanOrEqual(48);
    expect(falseAlarms).toBeLessThanOrEqual(8);
  });
});

describe('A/B outcomes over HTTP', () => {
  let repo: RoutingRepo;
  let server: TestServer;

  beforeAll(async () => {
    repo = routingRepo(
      { a: 1, b: 2 },
      {
        shop: {
          targets: [{ model: 'a' }, { model: 'b' }],
          sticky: { header: 'x-user' },
          ab: { outcomes: [{ name: 'converted', kind: 'rate' }, { name: 'revenue', kind: 'value' }] },
        },
      },
    );
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root });
  });
  afterAll(async () => {
    await server?.stop();
    repo?.cleanup();
  });

  it('takes conversions and values by request id, reports rates, means and tests, and exports them as metrics', async () => {
    const world = new Rng(8);
    const feedback = [];
    for (let i = 0; i < 300; i++) {
      const res = await post(server.port, '/v2/models/shop/infer', inferBody(0, { id: `o${i}` }), { 'x-user': `u${i}` });
      const arm = res.json().model_name as string;
      const converted = world.next() < (arm === 'a' ? 0.1 : 0.3);
      feedback.push({ id: `o${i}`, outcomes: { converted, ...(converted ? { revenue: arm === 'a' ? 10 + world.next() : 12 + world.next() } : {}) } });
    }
    const reply = (await post(server.port, '/v2/models/shop/feedback', { feedback })).json();
    expect(reply.invalid).toBe(0);
    expect(reply.duplicate).toBe(0);
    const bad = await post(server.port, '/v2/models/shop/feedback', { id: 'o1', outcomes: { clicks: 1 } });
    expect(bad.status).toBe(400);
    expect(bad.json().error).toMatch(/unknown outcome 'clicks' \(this route declares converted, revenue\)/);
    const ab = (await get(server.port, '/v2/models/shop/routing')).json().ab;
    expect(ab.control).toBe('a');
    const converted = ab.outcomes.find((o: { name: string }) => o.name === 'converted');
    expect(converted.arms.map((a: { count: number }) => a.count).reduce((x: number, y: number) => x + y, 0)).toBe(300);
    expect(converted.comparisons[0]).toMatchObject({ target: 'b', control: 'a', test: 'two-proportion z', significant: true });
    const revenue = ab.outcomes.find((o: { name: string }) => o.name === 'revenue');
    expect(revenue.comparisons[0].test).toBe('welch t');
    expect(revenue.comparisons[0].significant).toBe(true);
    const metrics = (await get(server.port, '/metrics')).text();
    expect(metrics).toMatch(/tensorgate_route_outcome_mean\{route="shop",target="b",outcome="converted"\} 0\.\d+/);
    expect(metrics).toContain('tensorgate_route_outcome_significant{route="shop",target="b",control="a",outcome="converted"} 1');
    expect(metrics).toMatch(/tensorgate_route_outcome_samples_needed\{route="shop",target="b",control="a",outcome="revenue"\} \d+/);
  });
});
