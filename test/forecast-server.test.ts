// `tensorgate serve --forecast`: the options, the per-minute sampling of the server's own counters (a
// real model's native statistics), and the three metric families on a real server's /metrics.
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { parseServeArgs } from '../src/cli/options.js';
import { forecastFamilies, RateForecaster, ServerForecast } from '../src/forecast/index.js';
import { ServerMetrics } from '../src/metrics/index.js';
import { tinyModel } from '../src/onnx/models.js';
import { testEngine } from './helpers/engine.js';
import { get, makeRepository, post, serve } from './helpers/http-server.js';

const DAY = 1440;

describe('serve options', () => {
  it('parses the forecast flags and refuses forecast settings without --forecast', () => {
    const o = parseServeArgs(['--model-repository', 'm', '--forecast', '--forecast-horizons', '10m,2h', '--replica-capacity-rps', '900']);
    expect(o).toMatchObject({
      forecast: true,
      forecastHorizons: [{ label: '10m', steps: 10 }, { label: '2h', steps: 120 }],
      replicaCapacityRps: 900,
    });
    expect(parseServeArgs(['--model-repository', 'm'])).toMatchObject({ forecast: false });
    expect(() => parseServeArgs(['--model-repository', 'm', '--replica-capacity-rps', '900'])).toThrow(/--replica-capacity-rps: needs --forecast/);
    expect(() => parseServeArgs(['--model-repository', 'm', '--target-utilization', '0.5'])).toThrow(/--target-utilization: needs --forecast/);
    expect(() => parseServeArgs(['--model-repository', 'm', '--forecast', '--forecast-horizons', 'soon'])).toThrow(
      /--forecast-horizons: 'soon' is not a duration/,
    );
    expect(() => parseServeArgs(['--model-repository', 'm', '--forecast', '--target-utilization', '1.5'])).toThrow(/--target-utilization/);
  });
});

describe('ServerForecast', () => {
  it('samples the counters once a step: rates into the history, loaded steps into the capacity', async () => {
    let now = 1_000 * 60_000 + 5; // 5 ms past a minute boundary
    const totals = { requests: 0, busySeconds: 0 };
    const f = new ServerForecast({ totals: () => totals, horizons: [{ label: '5m', steps: 5 }], targetUtilization: 0.5, now: () => now });
    f.sample(); // baseline
    totals.requests = 6000; // 100 req/s over the next minute, busy 12 s: not loaded
    totals.busySeconds = 12;
    now += 60_000 - 10; // the timer fired 10 ms early
    f.sample();
    expect(f.forecaster.history.lastStep).toBe(1000);
    expect(f.forecaster.history.values()[0]).toBeCloseTo(6000 / 59.99, 6);
    expect(f.capacity.estimate()).toBeUndefined();
    totals.requests += 30_000; // 500 req/s, busy 45 s: 666.7 requests per busy second
    totals.busySeconds += 45;
    now += 60_000 + 10;
    f.sample();
    expect(f.forecaster.history.lastStep).toBe(1001);
    await f.forecaster.refitInBackground(); // the server fits off the event loop's critical path
    const r = f.reading();
    expect(r.capacityRps).toBeCloseTo(30_000 / 45, 9);
    expect(r.forecasts).toHaveLength(1);
    expect(r.forecasts[0]!.peakRps).toBeGreaterThan(100);
  });

  it('takes a configured capacity over the measured one', () => {
    const f = new ServerForecast({ totals: () => ({ requests: 0, busySeconds: 0 }), horizons: [{ label: '5m', steps: 5 }], capacityRps: 42, targetUtilization: 0.7 });
    expect(f.reading().capacityRps).toBe(42);
  });

  it('reads requests and execution seconds from a real model’s native statistics', async () => {
    const model = await testEngine().load(tinyModel(), { maxBatchSize: 8, dynamicBatching: { maxQueueDelayMicroseconds: 0 } });
    const metrics = new ServerMetrics({ defaultMetrics: false });
    metrics.trackModel('tiny', '1', model);
    const x = new Float32Array(16).fill(1);
    await Promise.all(Array.from({ length: 20 }, () => model.infer({ x: { shape: [1, 16], data: x } })));
    const totals = metrics.inferenceTotals();
    expect(totals.requests).toBe(20);
    const s = model.stats();
    const busyNs = s.batches.reduce((n, b) => n + b.computeInput.ns + b.computeInfer.ns + b.computeOutput.ns, 0);
    expect(totals.busySeconds).toBeCloseTo(busyNs / 1e9, 12);
    expect(totals.busySeconds).toBeGreaterThan(0);
    await model.unload();
  });
});

describe('forecast families', () => {
  it('exports the peak forecast, the capacity and the recommended replicas per horizon', async () => {
    const forecaster = new RateForecaster({ period: DAY, horizons: [{ label: '15m', steps: 15 }, { label: '1h', steps: 60 }] });
    forecaster.load(Float64Array.from({ length: 3 * DAY }, (_, t) => 100 + 300 * Math.max(0, Math.sin((2 * Math.PI * t) / DAY))), 3 * DAY - 1);
    const registry = new Registry();
    let capacityRps: number | undefined;
    for (const f of forecastFamilies('tensorgate_', () => ({ forecasts: forecaster.forecast(), capacityRps, targetUtilization: 0.5 }))) {
      f.registerIn(registry);
    }
    let body = await registry.metrics();
    expect(body).toMatch(/^tensorgate_forecast_requests_per_second\{horizon="15m"\} \d/m);
    expect(body).toContain('# TYPE tensorgate_recommended_replicas gauge');
    expect(body).not.toMatch(/^tensorgate_recommended_replicas\{/m); // no capacity yet: nothing to divide by
    expect(body).not.toMatch(/^tensorgate_replica_capacity_rps /m);
    capacityRps = 50;
    body = await registry.metrics();
    const [fifteen, hour] = forecaster.forecast();
    expect(body).toContain(`tensorgate_replica_capacity_rps 50`);
    expect(body).toContain(`tensorgate_recommended_replicas{horizon="15m"} ${Math.ceil(fifteen!.peakRps / 25)}`);
    expect(body).toContain(`tensorgate_recommended_replicas{horizon="1h"} ${Math.ceil(hour!.peakRps / 25)}`);
  });

  it('refits in the background without blocking and replays the steps that arrived meanwhile', async () => {
    const rate = (t: number) => 100 + 300 * Math.max(0, Math.sin((2 * Math.PI * t) / DAY));
    const f = new RateForecaster({ period: DAY, horizons: [{ label: '1m', steps: 1 }], background: true, refitEvery: 1e9 });
    f.load(Float64Array.from({ length: 2 * DAY + 100 }, (_, t) => rate(t)), 2 * DAY + 99);
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    const done = f.refitInBackground();
    for (let s = 2 * DAY + 100; s < 2 * DAY + 110; s++) f.put(s, rate(s));
    await done;
    clearInterval(timer);
    expect(turns).toBeGreaterThan(3); // the event loop ran during the fit
    expect(Math.abs(f.forecast()[0]!.peakRps - rate(2 * DAY + 110))).toBeLessThan(3);
  });
});

describe('a server with --forecast', () => {
  const repo = makeRepository({ tiny: { bytes: tinyModel() } });
  let stop: (() => Promise<boolean>) | undefined;
  afterAll(async () => {
    await stop?.();
  });

  it('serves the forecast families on /metrics, with the configured capacity', async () => {
    const server = await serve('node', { modelRepository: repo, forecast: true, replicaCapacityRps: 1234 });
    stop = server.stop;
    const x = Array.from({ length: 16 }, (_, i) => i);
    expect((await post(server.port, '/v2/models/tiny/infer', { inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: x }] })).status).toBe(200);
    const body = (await get(server.port, '/metrics')).body.toString();
    expect(body).toContain('# TYPE tensorgate_forecast_requests_per_second gauge');
    expect(body).toContain('# TYPE tensorgate_recommended_replicas gauge');
    expect(body).toMatch(/^tensorgate_replica_capacity_rps 1234$/m);
  });
});
