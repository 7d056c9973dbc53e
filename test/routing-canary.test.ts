// Canary rollouts: the controller's state machine (pure), then end to end over HTTP with real models:
// a healthy candidate promotes through every step; a candidate that starts failing is rolled back at
// the first check after the breach, and no client request fails because of the rollback itself; a
// slow candidate is rolled back by its p99 gate; a restart mid-rollout resumes the same step; the
// management API (pause, resume, promote, rollback, restart, weights).
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CanaryConflict, CanaryController } from '../src/routing/canary.js';
import type { WindowFigures } from '../src/routing/window.js';
import { LatencyWindow } from '../src/routing/window.js';
import { until } from './helpers/fixtures.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { canaryConfig, inferBody, routingRepo, type RoutingRepo } from './helpers/routing-kit.js';

const fig = (requests: number, errors = 0, p99 = 5): WindowFigures => ({ requests, errors, error_rate: requests ? errors / requests : 0, p99_ms: requests ? p99 : null });

describe('the canary controller (pure)', () => {
  const config = canaryConfig({ steps: [5, 25, 100], threshold: 2, gates: { min_requests: 10, error_rate: { max: 0.05, max_increase: 0.02 }, p99_ms: { max: 100, max_ratio: 2 } } });

  it('steps through on passing checks and promotes after the last step passes', () => {
    const c = new CanaryController(config, undefined, 0);
    expect(c.weight).toBe(5);
    expect(c.check(fig(20), fig(200), 1)?.kind).toBe('step');
    expect(c.weight).toBe(25);
    expect(c.check(fig(20), fig(200), 2)?.kind).toBe('step');
    expect(c.weight).toBe(100);
    const t = c.check(fig(20), fig(0), 3)!;
    expect(t.kind).toBe('promoted');
    expect(c.state.status).toBe('promoted');
    expect(c.weight).toBe(100);
    expect(c.check(fig(20, 20), fig(0), 4)).toBeUndefined(); // done: nothing moves any more
  });

  it('too few candidate requests is inconclusive: no step, no failure', () => {
    const c = new CanaryController(config, undefined, 0);
    expect(c.check(fig(9, 9), fig(100), 1)).toBeUndefined();
    expect(c.state.failures).toBe(0);
    expect(c.state.checks.at(-1)!.result).toBe('inconclusive');
  });

  it('rolls back after `threshold` consecutive failed checks; a pass in between resets the count', () => {
    const c = new CanaryController(config, undefined, 0);
    expect(c.check(fig(100, 10), fig(100), 1)).toBeUndefined(); // 10 % errors > 5 %
    expect(c.state.failures).toBe(1);
    expect(c.check(fig(100), fig(100), 2)?.kind).toBe('step');
    expect(c.state.failures).toBe(0);
    expect(c.check(fig(100, 10), fig(100), 3)).toBeUndefined();
    const t = c.check(fig(100, 0, 500), fig(100), 4)!; // p99 500 ms > 100 ms
    expect(t.kind).toBe('rolled_back');
    expect(t.reason).toMatch(/p99 500 ms > max 100 ms/);
    expect(c.weight).toBe(0);
  });

  it('relative gates compare with the primary over the same interval', () => {
    const c = new CanaryController(canaryConfig({ threshold: 1, gates: { min_requests: 1, error_rate: { max_increase: 0.02 }, p99_ms: { max_ratio: 2 } } }), undefined, 0);
    expect(c.check(fig(100, 4, 10), fig(100, 3, 6), 1)?.kind).toBe('step'); // +1 point, ×1.67
    const t = c.check(fig(100, 4, 13), fig(100, 1, 6), 2)!;
    expect(t.kind).toBe('rolled_back');
    expect(t.reason).toMatch(/exceeds the primary's 0.01 by more than 0.02/);
    expect(t.reason).toMatch(/> 2 × the primary's 6 ms/);
  });

  it('management actions, and the ones that do not apply', () => {
    const c = new CanaryController(config, undefined, 0);
    expect(() => c.act('resume', 1)).toThrow(CanaryConflict);
    expect(c.act('pause', 1).to.status).toBe('paused');
    expect(c.check(fig(100, 100), fig(100), 2)).toBeUndefined(); // paused: the operator holds it
    expect(c.state.status).toBe('paused');
    expect(c.act('resume', 3).to.status).toBe('progressing');
    expect(c.setWeight(40, 4).to).toEqual({ status: 'paused', step: 0, weight: 40 });
    expect(c.act('rollback', 5).to.weight).toBe(0);
    expect(() => c.act('rollback', 6)).toThrow(/already rolled back/);
    expect(c.act('restart', 7).to).toEqual({ status: 'progressing', step: 0, weight: 5 });
    expect(c.act('promote', 8).to.weight).toBe(100);
    expect(c.state.revision).toBe(6); // one per transition
  });

  it('the latency window estimates p99 within its bucket resolution (≈ 9 %)', () => {
    const w = new LatencyWindow();
    for (let i = 1; i <= 1000; i++) w.record(i / 10, false); // 0.1 … 100 ms
    const p99 = w.figures().p99_ms!;
    expect(p99).toBeGreaterThan(99 * 0.91);
    expect(p99).toBeLessThan(99 * 1.09);
  });
});

/** Sends requests from `clients` loops until `stop()` says so; counts outcomes. */
function drive(port: number, route: string, clients: number, value: () => number) {
  const stats = { ok: 0, failed: 0, byTarget: new Map<string, number>(), errors: [] as string[] };
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const res = await post(port, `/v2/models/${route}/infer`, inferBody(value()));
      if (res.status === 200) {
        stats.ok++;
        const t = res.headers['tensorgate-target'] as string;
        stats.byTarget.set(t, (stats.byTarget.get(t) ?? 0) + 1);
      } else {
        stats.failed++;
        stats.errors.push(res.text());
      }
    }
  });
  return {
    stats,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

const routing = async (port: number, route: string) => (await get(port, `/v2/models/${route}/routing`)).json();

describe('canary rollouts over HTTP', () => {
  let repo: RoutingRepo;
  let server: TestServer;
  const stateDir = mkdtempSync(join(tmpdir(), 'tg-state-'));

  beforeAll(async () => {
    repo = routingRepo(
      { stable: 1, good: 2, flaky: { offset: 3, failAbove: 50 }, slow: { offset: 4, slowLayers: 250 } },
      {
        healthy: { targets: [{ model: 'stable' }, { model: 'good' }], canary: { candidate: 'good', steps: [20, 50, 100], interval_s: 0.3, threshold: 1, gates: { min_requests: 5, error_rate: { max: 0.01 } } } },
        breaks: { targets: [{ model: 'stable' }, { model: 'flaky' }], canary: { candidate: 'flaky', steps: [20, 50, 100], interval_s: 0.3, threshold: 1, gates: { min_requests: 5, error_rate: { max: 0 } } } },
        slowcanary: { targets: [{ model: 'stable' }, { model: 'slow' }], canary: { candidate: 'slow', steps: [50, 100], interval_s: 0.4, threshold: 1, gates: { min_requests: 3, p99_ms: { max: 15 } } } },
        managed: { targets: [{ model: 'stable' }, { model: 'good' }], canary: { candidate: 'good', steps: [10, 20, 30, 40, 100], interval_s: 3600 } },
      },
    );
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, stateDir });
  });
  afterAll(async () => {
    await server?.stop();
    repo?.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('a healthy candidate promotes through every step by itself, with no failed request', async () => {
    const load = drive(server.port, 'healthy', 3, () => 0);
    await until(async () => (await routing(server.port, 'healthy')).canary.status === 'promoted', 'promotion', 30_000, 50);
    await load.stop();
    const state = (await routing(server.port, 'healthy')).canary;
    expect(state.weight_percent).toBe(100);
    const passes = state.checks.filter((c: { result: string }) => c.result === 'pass').map((c: { step: number; weight: number }) => [c.step, c.weight]);
    expect(passes).toEqual([
      [0, 20],
      [1, 50],
      [2, 100],
    ]);
    expect(load.stats.failed).toBe(0);
    for (let i = 0; i < 10; i++) expect((await post(server.port, '/v2/models/healthy/infer', inferBody(0))).json().model_name).toBe('good');
    const metrics = (await get(server.port, '/metrics')).text();
    expect(metrics).toContain('tensorgate_route_promotions_total{route="healthy"} 1');
    expect(metrics).toContain('tensorgate_route_canary_status{route="healthy",status="promoted"} 1');
  });

  it('a candidate that starts failing mid-rollout is rolled back at the first check after the breach; only its own errors reach clients', async () => {
    let breach = false;
    let i = 0;
    const load = drive(server.port, 'breaks', 3, () => (breach && i++ % 2 === 0 ? 100 : 0));
    await until(async () => (await routing(server.port, 'breaks')).canary.step >= 1, 'step 1', 30_000, 20);
    breach = true; // from here on, half the inputs make the candidate fail
    await until(async () => (await routing(server.port, 'breaks')).canary.status === 'rolled_back', 'rollback', 30_000, 20);
    await load.stop();
    const report = await routing(server.port, 'breaks');
    const checks = report.canary.checks as Array<{ result: string; candidate: { errors: number } }>;
    const firstWithErrors = checks.findIndex((c) => c.candidate.errors > 0);
    expect(firstWithErrors, JSON.stringify(checks)).toBe(checks.length - 1); // the very check that saw the breach…
    expect(checks.at(-1)!.result).toBe('fail'); // …rolled it back (threshold 1)
    // Every failed client request is one of the candidate's own errors, none came from the rollback.
    const [stable, flaky] = report.targets as Array<{ errors: number }>;
    expect(stable!.errors).toBe(0);
    expect(load.stats.failed).toBe(flaky!.errors);
    // After the rollback everything goes to the stable version, inputs that broke the candidate included.
    for (let k = 0; k < 20; k++) {
      const res = await post(server.port, '/v2/models/breaks/infer', inferBody(100));
      expect(res.status).toBe(200);
      expect(res.json().model_name).toBe('stable');
    }
    expect((await get(server.port, '/metrics')).text()).toContain('tensorgate_route_rollbacks_total{route="breaks"} 1');
  });

  it('a slow candidate is rolled back by its p99 gate', async () => {
    const load = drive(server.port, 'slowcanary', 2, () => 0);
    await until(async () => (await routing(server.port, 'slowcanary')).canary.status === 'rolled_back', 'rollback', 30_000, 20);
    await load.stop();
    const last = (await routing(server.port, 'slowcanary')).canary.checks.at(-1);
    expect(last.failed.join()).toMatch(/p99 .* ms > max 15 ms/);
    expect(load.stats.failed).toBe(0);
  });

  it('the management API: pause, resume, weights, rollback, restart, promote (admin actions, 409 when they do not apply)', async () => {
    const act = (body: object) => post(server.port, '/v2/models/managed/routing', body);
    expect((await act({ action: 'resume' })).status).toBe(409);
    expect((await act({ action: 'pause' })).json().canary.status).toBe('paused');
    expect((await act({ action: 'resume' })).json().canary.status).toBe('progressing');
    const weighted = (await act({ action: 'weights', weights: { good: 30 } })).json();
    expect([weighted.canary.status, weighted.canary.weight_percent]).toEqual(['paused', 30]);
    expect(weighted.targets.map((t: { weight_percent: number }) => t.weight_percent)).toEqual([70, 30]);
    expect((await act({ action: 'weights', weights: { stable: 30 } })).status).toBe(400);
    expect((await act({ action: 'rollback' })).json().canary.weight_percent).toBe(0);
    for (let k = 0; k < 10; k++) expect((await post(server.port, '/v2/models/managed/infer', inferBody(0))).json().model_name).toBe('stable');
    expect((await act({ action: 'restart' })).json().canary).toMatchObject({ status: 'progressing', step: 0, weight_percent: 10 });
    expect((await act({ action: 'promote' })).json().canary.weight_percent).toBe(100);
    const saved = JSON.parse(readFileSync(join(stateDir, 'routes', 'managed.json'), 'utf8'));
    expect(saved.canary.state.status).toBe('promoted');
  });
});

describe('a restart mid-rollout', () => {
  let repo: RoutingRepo;
  let server: TestServer | undefined;
  const stateDir = mkdtempSync(join(tmpdir(), 'tg-state-'));
  afterEach(async () => {
    await server?.stop();
  });
  afterAll(() => {
    repo?.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('resumes the same step: neither back to the first nor on to 100 %', async () => {
    repo = routingRepo({ stable: 1, good: 2 }, { r: { targets: [{ model: 'stable' }, { model: 'good' }], canary: { candidate: 'good', steps: [10, 20, 30, 40, 100], interval_s: 1, gates: { min_requests: 3 } } } });
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, stateDir });
    const load = drive(server.port, 'r', 2, () => 0);
    await until(async () => (await routing(server!.port, 'r')).canary.step >= 2, 'step 2', 30_000, 20);
    await load.stop();
    await server.stop();
    const saved = JSON.parse(readFileSync(join(stateDir, 'routes', 'r.json'), 'utf8')).canary.state;
    expect(saved.status).toBe('progressing');
    expect(saved.step).toBeGreaterThanOrEqual(2);
    expect(saved.step).toBeLessThan(4);
    server = await serve('node', { modelRepository: repo.root, stateDir });
    const after = (await routing(server.port, 'r')).canary;
    expect([after.status, after.step, after.weight_percent]).toEqual(['progressing', saved.step, [10, 20, 30, 40, 100][saved.step]]);
  });
});
