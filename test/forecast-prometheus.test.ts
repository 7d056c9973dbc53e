// `tensorgate forecast` against a real Prometheus holding three days of backfilled request counters:
// it reads the history, forecasts the daily cycle and serves the scaling metrics.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseForecastArgs } from '../src/cli/forecast-command.js';
import { DEFAULT_CAPACITY_QUERY, DEFAULT_RATE_QUERY, ForecastService } from '../src/forecast/index.js';
import { HAVE_PROMETHEUS, startPrometheus, type RunningPrometheus } from './helpers/prometheus.js';

const DAY_S = 86_400;
const NOW = Math.floor(Date.now() / 1000);
/**
 * The true request rate at Unix second t: 100/s at night, 400/s at the afternoon peak, with the day
 * shifted so that the test always runs at 9 am, in the steepest part of the morning ramp.
 */
const rate = (t: number) => {
  const u = (((t - NOW + 0.375 * DAY_S) % DAY_S) + DAY_S) % DAY_S;
  return 100 + 300 * Math.max(0, Math.sin((2 * Math.PI * u) / DAY_S - Math.PI / 2)) ** 2;
};

/** Counters every 15 s for three days up to `end`, as two replicas' series, plus the replicas' capacity gauge. */
function backfill(end: number): string {
  const lines = ['# HELP nv_inference_request_success x', '# TYPE nv_inference_request_success counter'];
  const failures = ['# HELP nv_inference_request_failure x', '# TYPE nv_inference_request_failure counter'];
  const capacity = ['# HELP tensorgate_replica_capacity_rps x', '# TYPE tensorgate_replica_capacity_rps gauge'];
  const start = end - 3 * DAY_S;
  let total = 0;
  for (let t = start; t <= end; t += 15) {
    total += rate(t) * 15;
    lines.push(`nv_inference_request_success{model="m",version="1",pod="a"} ${Math.round(total * 0.5)} ${t}`);
    lines.push(`nv_inference_request_success{model="m",version="1",pod="b"} ${Math.round(total * 0.5)} ${t}`);
    failures.push(`nv_inference_request_failure{model="m",version="1",pod="a",reason="timeout"} 0 ${t}`);
    if (t > end - 600) capacity.push(`tensorgate_replica_capacity_rps{pod="a"} 250 ${t}`);
  }
  return `${[...lines, ...failures, ...capacity].join('\n')}\n# EOF\n`;
}

describe.skipIf(!HAVE_PROMETHEUS)('tensorgate forecast with a real Prometheus', () => {
  let prometheus: RunningPrometheus;
  const services: ForecastService[] = [];
  beforeAll(async () => {
    prometheus = await startPrometheus({ openMetrics: backfill(NOW - 30) });
  }, 60_000);
  afterAll(async () => {
    for (const s of services) await s.stop();
    await prometheus?.stop();
  });

  const start = async (argv: string[]) => {
    const options = parseForecastArgs(['--prometheus-url', prometheus.url, '--port', '0', '--history', '3d', ...argv]);
    if (options === 'help') throw new Error('help');
    const service = await ForecastService.start({ ...options, historyMinutes: options.history, logger: pino({ level: 'silent' }) });
    services.push(service);
    return service;
  };
  const scrape = async (service: ForecastService) => (await fetch(`http://127.0.0.1:${service.port}/metrics`)).text();
  const sample = (body: string, series: string) => {
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('reads three days of history and forecasts the next hour from the daily cycle', async () => {
    const service = await start(['--replica-capacity-rps', '100', '--target-utilization', '0.5']);
    expect(service.forecaster.seasonal).toBe(true);
    expect((await fetch(`http://127.0.0.1:${service.port}/ready`)).status).toBe(200);
    const body = await scrape(service);
    const lastMinute = Math.floor(Date.now() / 60_000) - 2;
    for (const [label, minutes] of [['15m', 15], ['1h', 60]] as const) {
      let peak = 0;
      for (let m = 1; m <= minutes; m++) peak = Math.max(peak, rate((lastMinute + 1 + m) * 60));
      const forecast = sample(body, `tensorgate_forecast_requests_per_second{horizon="${label}"}`)!;
      // rate[2m] trails the true rate by about a minute: allow 3 % + 5 req/s.
      expect(Math.abs(forecast - peak)).toBeLessThan(0.03 * peak + 5);
      expect(sample(body, `tensorgate_recommended_replicas{horizon="${label}"}`)).toBe(Math.ceil(forecast / 50 - 1e-9));
    }
    expect(sample(body, 'tensorgate_replica_capacity_rps')).toBe(100);
    expect(sample(body, 'tensorgate_forecast_history_minutes')).toBeGreaterThan(3 * 1440 - 10);
    expect(sample(body, 'tensorgate_forecast_query_failures_total')).toBe(0);
  });

  it('takes the capacity the replicas measured when none is configured', async () => {
    const service = await start([]);
    expect(sample(await scrape(service), 'tensorgate_replica_capacity_rps')).toBe(250);
  });

  it('counts failed queries and keeps serving', async () => {
    const service = await start(['--query', 'sum(rate(nv_inference_request_success[2m])) by (pod)', '--capacity-query', 'no_such_metric']);
    const body = await scrape(service);
    expect(sample(body, 'tensorgate_forecast_query_failures_total')).toBe(1); // two series: refused
    expect(body).not.toMatch(/^tensorgate_replica_capacity_rps /m); // nothing measured
    expect((await fetch(`http://127.0.0.1:${service.port}/ready`)).status).toBe(503);
  });
});

describe('tensorgate forecast options', () => {
  it('has defaults for everything but the Prometheus URL, and names the flag in errors', () => {
    const o = parseForecastArgs(['--prometheus-url', 'http://prometheus:9090']);
    expect(o).toMatchObject({ query: DEFAULT_RATE_QUERY, capacityQuery: DEFAULT_CAPACITY_QUERY, port: 9400, history: 10080, targetUtilization: 0.7 });
    expect(() => parseForecastArgs([])).toThrow(/--prometheus-url/);
    expect(() => parseForecastArgs(['--prometheus-url', 'http://p', '--history', 'a week'])).toThrow(/--history: 'a week' is not a duration/);
    expect(() => parseForecastArgs(['--prometheus-url', 'http://p', '--bogus'])).toThrow(/bogus/);
  });
});
