// Fallback chains: the circuit breaker (pure, fake clock); then over HTTP with 32 concurrent clients:
// the primary unloaded mid-load → 0 failed client requests, the fallback answers, its breaker opens;
// the fallback unloaded too → the static answer; both back → the breaker half-opens after its
// cool-down, a probe closes it, and the primary answers again. A hung primary is cut off by its
// per-level timeout.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../src/routing/breaker.js';
import { until } from './helpers/fixtures.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { inferBody, routingRepo, type RoutingRepo } from './helpers/routing-kit.js';

describe('the circuit breaker', () => {
  it('opens after N consecutive failures, half-opens after the cool-down for one probe, closes on its success', () => {
    const b = new CircuitBreaker(3, 1000);
    b.failure(0);
    b.failure(1);
    b.success(); // not consecutive
    b.failure(2);
    b.failure(3);
    expect(b.state).toBe('closed');
    b.failure(4);
    expect(b.state).toBe('open');
    expect(b.allow(500)).toBe(false);
    expect(b.allow(1004)).toBe(true); // the probe
    expect(b.state).toBe('half_open');
    expect(b.allow(1005)).toBe(false); // one probe at a time
    b.success();
    expect(b.state).toBe('closed');
    expect(b.opens).toBe(1);
  });

  it('a failed probe opens it for another cool-down', () => {
    const b = new CircuitBreaker(1, 100);
    b.failure(0);
    expect(b.allow(100)).toBe(true);
    b.failure(100);
    expect(b.state).toBe('open');
    expect(b.allow(150)).toBe(false);
    expect(b.allow(200)).toBe(true);
    expect(b.opens).toBe(2);
  });
});

describe('a fallback chain under load', () => {
  let repo: RoutingRepo;
  let server: TestServer;
  const admin = { authorization: 'Bearer t' };

  beforeAll(async () => {
    repo = routingRepo(
      { primary: 1, cheap: 2, hung: 0 },
      {
        r: {
          targets: [{ model: 'primary' }],
          fallback: { timeout_ms: 2000, targets: [{ model: 'cheap', timeout_ms: 2000 }], static: 'popular.json', breaker: { failures: 3, cooldown_s: 0.3 } },
        },
        slowpath: { targets: [{ model: 'hung' }], fallback: { timeout_ms: 100, targets: [{ model: 'cheap' }], breaker: { failures: 2, cooldown_s: 60 } } },
      },
      { hung: { max_batch_size: 64, dynamic_batching: { preferred_batch_size: [64], max_queue_delay_microseconds: 10_000_000 } } },
    );
    writeFileSync(join(repo.root, 'r', 'popular.json'), JSON.stringify({ outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 4], data: [9, 9, 9, 9] }] }));
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, modelControlMode: 'explicit', loadModel: ['*'], adminToken: 't', shutdownTimeout: 1 });
  });
  afterAll(async () => {
    await server?.stop();
    repo?.cleanup();
  });

  it('32 clients, the primary and then the fallback unloaded and loaded back: 0 failed requests; the breaker opens and closes', async () => {
    const seen = new Map<string, number>();
    const failures: string[] = [];
    let running = true;
    const clients = Array.from({ length: 32 }, async () => {
      while (running) {
        const res = await post(server.port, '/v2/models/r/infer', inferBody(0));
        if (res.status !== 200) {
          failures.push(`${res.status} ${res.text()}`);
          continue;
        }
        const body = res.json();
        const level = `${body.model_name}/${body.model_version}/${body.parameters.tensorgate_fallback_level ?? 0}`;
        seen.set(level, (seen.get(level) ?? 0) + 1);
      }
    });
    const routing = async () => (await get(server.port, '/v2/models/r/routing', admin)).json();
    const count = (key: string) => seen.get(key) ?? 0;
    try {
      await until(() => count('primary/1/0') > 100, 'the primary answering');
      expect((await post(server.port, '/v2/repository/models/primary/unload', {}, admin)).status).toBe(200);
      await until(() => count('cheap/1/1') > 100, 'the fallback answering');
      await until(async () => (await routing()).targets[0].breaker !== 'closed', 'the breaker opening');
      expect((await get(server.port, '/v2/models/r/ready')).status).toBe(503); // ready when its primary is
      expect((await post(server.port, '/v2/repository/models/cheap/unload', {}, admin)).status).toBe(200);
      await until(() => count('r/static/2') > 100, 'the static answer');
      expect((await post(server.port, '/v2/repository/models/cheap/load', {}, admin)).status).toBe(200);
      expect((await post(server.port, '/v2/repository/models/primary/load', {}, admin)).status).toBe(200);
      const before = count('primary/1/0');
      await until(() => count('primary/1/0') > before + 100, 'the primary answering again');
      await until(async () => (await routing()).targets[0].breaker === 'closed', 'the breaker closing');
    } finally {
      running = false;
      await Promise.all(clients);
    }
    expect(failures).toEqual([]);
    const report = await routing();
    expect(report.fallback.levels.map((l: { answered: number }) => l.answered > 0)).toEqual([true, true, true]);
    expect(report.fallback.failed).toBe(0);
    const metrics = (await get(server.port, '/metrics')).text();
    expect(metrics).toMatch(/tensorgate_route_fallback_answers_total\{route="r",level="2",target="static"\} [1-9]\d*/);
    expect(metrics).toMatch(/tensorgate_route_breaker_opens_total\{route="r",target="primary"\} [1-9]/);
    expect(metrics).toContain('tensorgate_route_breaker_open{route="r",target="primary"} 0');
  });

  it('a hung primary is cut off by its level timeout and the next level answers; after 2 timeouts its breaker skips it', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await post(server.port, '/v2/models/slowpath/infer', inferBody(0));
      expect(res.status, res.text()).toBe(200);
      expect(res.json().model_name).toBe('cheap');
      expect(res.headers['tensorgate-target']).toBe('cheap');
    }
    const report = (await get(server.port, '/v2/models/slowpath/routing', admin)).json();
    expect(report.targets[0].breaker).toBe('open');
    expect(report.targets[0].errors).toBe(2); // the last two never waited on it
    expect(report.fallback.levels[1].answered).toBe(4);
  });
});
