// A real Prometheus (Debian's prometheus binary, started here on loopback) scrapes the server under a
// short load: histogram_quantile(0.99, …) over the exported buckets agrees with the server's own P99
// within one bucket, the shipped alert rules load and evaluate, and every dashboard query runs.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../src/onnx/models.js';
import { ROWS } from '../scripts/grafana-dashboard.js';
import { freePort } from './helpers/fixtures.js';
import { get, makeRepository, post, serve, until, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';

const hasPrometheus = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasPrometheus) console.warn('prometheus is not installed: the scrape test is skipped (apt-get install -y prometheus)');

const RULES = join(import.meta.dirname, '..', 'deploy', 'prometheus', 'tensorgate-rules.yml');
const X = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i) }] });

interface PromResult<T> {
  status: 'success' | 'error';
  error?: string;
  data: T;
}

describe.skipIf(!hasPrometheus)('a real Prometheus scraping tensorgate', () => {
  let server: TestServer;
  let prometheus: ChildProcess;
  let promPort: number;
  let dir: string;
  let log = '';

  const api = async <T>(path: string): Promise<PromResult<T>> => {
    const r = await fetch(`http://127.0.0.1:${promPort}${path}`);
    return (await r.json()) as PromResult<T>;
  };
  const query = (q: string) => api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(`/api/v1/query?query=${encodeURIComponent(q)}`);

  beforeAll(async () => {
    server = await serve(DEFAULT_ENGINE, {
      modelRepository: makeRepository({ m: { bytes: tinyModel(), config: { max_batch_size: 8, monitoring: { reference: { learn_rows: 50 }, window_rows: 100, min_rows: 50 } } } }),
    });
    dir = mkdtempSync(join(tmpdir(), 'tg-prom-'));
    promPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${RULES}']`,
        'scrape_configs:',
        '  - job_name: tensorgate',
        `    static_configs: [{ targets: ['127.0.0.1:${server.port}'] }]`,
      ].join('\n'),
    );
    prometheus = spawn(
      'prometheus',
      [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    prometheus.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await until(async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => undefined))?.ok, `Prometheus ready (${log})`, 30_000, 100);
    // Its first scrape comes a few seconds after start: the load must come after it, or Prometheus
    // would only ever see the final counts (no increase, no rate).
    await until(async () => (await query('up{job="tensorgate"}')).data.result.length > 0, 'the first scrape', 30_000, 200);
  });

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await new Promise((r) => (prometheus?.exitCode !== null ? r(undefined) : prometheus.once('exit', r)));
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('agrees with the server’s own P99 within one bucket after a load', async () => {
    // A short closed-loop load (8 concurrent clients for 3 s): enough spread for a P99.
    const end = Date.now() + 3000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < end) expect((await post(server.port, '/v2/models/m/infer', X)).status).toBe(200);
      }),
    );
    const served = server.model('m').stats().success.count;
    // Wait for a scrape that saw every request.
    await until(async () => {
      const r = await query('sum(tensorgate_request_duration_seconds_count{model="m"})');
      return Number(r.data.result[0]?.value[1]) === served;
    }, 'a scrape after the load', 20_000, 200);
    const prom = Number((await query('histogram_quantile(0.99, sum by (le) (tensorgate_request_duration_seconds_bucket{model="m"}))')).data.result[0]!.value[1]);
    const own = (await get(server.port, '/status')).json().models[0].versions[0].latency_total.p99_ms / 1e3;
    expect(prom).toBeGreaterThan(0);
    // Adjacent native buckets are 2^(1/4) apart: within one bucket is a ratio within that factor.
    expect(Math.abs(Math.log2(prom / own))).toBeLessThanOrEqual(0.25 + 1e-9);
    // The SLO histogram has its round bound, and counts the same requests.
    const within = await query('sum(tensorgate_inference_request_duration_seconds_bucket{model="m",le="0.1"})');
    expect(Number(within.data.result[0]!.value[1])).toBeGreaterThan(0);
    const slo = await query('sum(tensorgate_inference_request_duration_seconds_count{model="m"})');
    expect(Number(slo.data.result[0]!.value[1])).toBe(served);
  });

  it('loads the shipped alert rules, and every one evaluates without error', async () => {
    const groups = await until(async () => {
      const r = await api<{ groups: Array<{ name: string; rules: Array<{ name: string; health: string; lastError?: string; type: string }> }> }>('/api/v1/rules');
      const all = r.data.groups.flatMap((g) => g.rules);
      return all.length > 0 && all.every((rule) => rule.health === 'ok') ? r.data.groups : undefined;
    }, 'every rule evaluated', 20_000, 200);
    const all = groups.flatMap((g) => g.rules);
    expect(all).toHaveLength(33);
    expect(all.filter((r) => r.type === 'alerting').map((r) => r.name)).toContain('TensorgateAvailabilityBudgetBurnFast');
    expect(all.every((r) => !r.lastError)).toBe(true);
    // The recording rules produce the SLIs from the live series.
    // The recording rules turn the load above into SLIs (NaN, not a number, until a window has traffic).
    // The recording rules turn the load above into SLIs (NaN, not a number, until a window has traffic).
    console.log(JSON.stringify((await api('/api/v1/query?query=' + encodeURIComponent('up[30s]'))).data), Date.now(), 'LOG', log);
    for (const q of ['count_over_time(up[5m])', 'count_over_time(nv_inference_count[5m])', 'count_over_time(tensorgate_inference_request_duration_seconds_count[5m])', 'count_over_time(process_cpu_seconds_total[5m])', 'rate(nv_inference_count[5m])']) console.log(q, JSON.stringify((await query(q)).data.result.map((r) => r.value[1])));
    const sli = await until(async () => {
      const v = Number((await query('model:tensorgate_latency_slow:ratio_rate5m{model="m"}')).data.result[0]?.value[1]);
      return Number.isFinite(v) ? { v } : undefined;
    }, 'the latency SLI', 20_000, 200);
    expect(sli.v).toBeGreaterThanOrEqual(0);
    expect(sli.v).toBeLessThan(0.5); // a tiny model on loopback: nearly every request within 100 ms
    const availability = await until(async () => {
      const v = Number((await query('model:tensorgate_availability_errors:ratio_rate5m{model="m"}')).data.result[0]?.value[1]);
      return Number.isFinite(v) ? { v } : undefined;
    }, 'the availability SLI', 20_000, 200);
    expect(availability.v).toBe(0);
  });

  it('runs every dashboard query', async () => {
    for (const row of ROWS) {
      for (const panel of row.panels) {
        for (const t of panel.targets) {
          const q = t.expr.replaceAll('$model', '.*').replaceAll('$__rate_interval', '1m');
          const r = await query(q);
          expect(r.status, `${panel.title}: ${q}: ${r.error}`).toBe('success');
        }
      }
    }
    // Series the server exports are there (others, e.g. GPUs and routes, have none here).
    for (const q of ['nv_inference_pending_request_count{model="m"}', 'tensorgate_drift_reference_ready{model="m"}', 'nv_cpu_utilization', 'up{job="tensorgate"}']) {
      if (q.startsWith('nv_inference_pending') && server.model('m').stats().queued === undefined) continue; // addon built before the queue counter
      expect((await query(q)).data.result.length, q).toBeGreaterThan(0);
    }
  });
});
