// deploy/k8s against what runs: a server started with the manifest's own arguments and ConfigMap
// answers the probes and serves every metric a rule, trigger, adapter rule or HPA names, and a real
// Prometheus scraping it gives each KEDA and prometheus-adapter query one number.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseForecastArgs } from '../src/cli/forecast-command.js';
import { startServer, type RunningServer } from '../src/cli/serve.js';
import { ForecastService } from '../src/forecast/index.js';
import { EXAMPLES } from './helpers/engine.js';
import { get, post } from './helpers/http-server.js';
import { HAVE_KUBECTL, metricNames, render, type K8sObject } from './helpers/k8s.js';
import { adapterValues, find, keda, promqlOf, recordedNames, serveOptions, seriesMetric, TARGETS } from './helpers/k8s-manifests.js';
import { HAVE_PROMETHEUS, startPrometheus } from './helpers/prometheus.js';

describe.skipIf(!HAVE_KUBECTL)('deploy/k8s against a running server', () => {
  const rendered = new Map<string, K8sObject[]>();
  const dir = mkdtempSync(join(tmpdir(), 'tg-deploy-'));
  let server: RunningServer;
  let forecast: ForecastService;
  let exposition = '';
  beforeAll(async () => {
    for (const t of TARGETS) rendered.set(t, render(t));
    // The hpa overlay's options, bound to loopback and the example repository.
    const options = serveOptions(rendered.get('overlays/hpa')!, dir);
    const local = { ...options, httpPort: 0, host: '127.0.0.1', modelRepository: EXAMPLES, logLevel: 'silent' as const };
    if ('grpcPort' in local) (local as { grpcPort: number }).grpcPort = 0;
    server = await startServer(local);
    const x = Array.from({ length: 16 }, (_, i) => i);
    expect((await post(server.port, '/v2/models/tiny/infer', { inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: x }] })).status).toBe(200);
    forecast = await ForecastService.start({
      ...(parseForecastArgs(['--prometheus-url', 'http://127.0.0.1:1', '--port', '0']) as Exclude<ReturnType<typeof parseForecastArgs>, 'help'>),
      historyMinutes: 60,
      logger: pino({ level: 'silent' }),
    });
    exposition = (await get(server.port, '/metrics')).body.toString() + (await (await fetch(`http://127.0.0.1:${forecast.port}/metrics`)).text());
  }, 60_000);
  afterAll(async () => {
    await forecast?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers the probes', async () => {
    expect((await get(server.port, '/v2/health/live')).status).toBe(200);
    expect((await get(server.port, '/v2/health/ready')).status).toBe(200);
  });

  it('serves every metric a rule, trigger, adapter rule or HPA names', () => {
    const served = new Set([...exposition.matchAll(/^# TYPE (\S+) (\w+)/gm)].flatMap((m) => {
      const n = m[1]!;
      return m[2] === 'histogram' ? [`${n}_bucket`, `${n}_sum`, `${n}_count`] : [n];
    }));
    const objects = [...rendered.values()].flat();
    const recorded = recordedNames(objects);
    const expressions = [...promqlOf(objects), ...promqlOf([], adapterValues())];
    let checked = 0;
    for (const { where, expr } of expressions) {
      const { names, nameRegexes } = metricNames(expr);
      for (const name of names) {
        expect(served.has(name) || recorded.has(name), `${where}: ${name}`).toBe(true);
        checked++;
      }
      for (const re of nameRegexes) {
        for (const alternative of re.replace(/^(.*)\((.*)\)(.*)$/, (_, a: string, alts: string, b: string) => alts.split('|').map((x) => a + x + b).join('\n')).split('\n')) {
          expect(served.has(alternative), `${where}: ${alternative}`).toBe(true);
          checked++;
        }
      }
    }
    // HPA Pods metrics come from an adapter rule.
    const adapted = new Set(adapterValues().rules.custom.map((r) => r.name.as));
    for (const o of objects.filter((x) => x.kind === 'HorizontalPodAutoscaler')) {
      for (const m of (o.spec as { metrics: Array<{ type: string; pods?: { metric: { name: string } } }> }).metrics) {
        if (m.type === 'Pods') expect(adapted.has(m.pods!.metric.name), m.pods!.metric.name).toBe(true);
      }
    }
    for (const r of adapterValues().rules.custom) expect(new RegExp(r.name.matches).test(seriesMetric(r.seriesQuery))).toBe(true);
    expect(checked).toBeGreaterThan(15);
  });

  it.skipIf(!HAVE_PROMETHEUS)(
    'gives KEDA and prometheus-adapter one number per query from a real Prometheus scraping the server',
    async () => {
      // The recording rules every second instead of every 15 s, so the test need not wait.
      const rules = find(rendered.get('overlays/keda')!, 'PrometheusRule', 'tensorgate').spec as { groups: Array<Record<string, unknown>> };
      const fast = { groups: rules.groups.map((g) => ({ ...g, interval: '1s' })) };
      // The capacity appears once a replica has had a busy minute; a second server reports a configured one.
      const capacity = await startServer({
        ...serveOptions(rendered.get('overlays/hpa')!, dir),
        httpPort: 0,
        host: '127.0.0.1',
        modelRepository: EXAMPLES,
        logLevel: 'silent',
        replicaCapacityRps: 900,
        ...('grpcPort' in server ? { grpcPort: 0 } : {}),
      });
      const prometheus = await startPrometheus({
        jobs: { tensorgate: [`127.0.0.1:${server.port}`, `127.0.0.1:${capacity.port}`], 'tensorgate-forecast': [`127.0.0.1:${forecast.port}`] },
        rules: [fast],
      });
      try {
        const x = Array.from({ length: 16 }, (_, i) => i);
        const body = { inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: x }] };
        const load = setInterval(() => void post(server.port, '/v2/models/tiny/infer', body), 20);
        const so = keda(rendered.get('overlays/keda')!);
        const queries = [
          ...so.triggers.filter((t) => t.name !== 'forecast').map((t) => ({ where: `trigger ${t.name}`, expr: t.metadata.query! })),
          ...adapterValues().rules.custom.map((r) => ({
            where: `adapter ${r.name.as}`,
            expr: r.metricsQuery.replaceAll('<<.Series>>', seriesMetric(r.seriesQuery)).replaceAll('{<<.LabelMatchers>>}', '').replaceAll('<<.GroupBy>>', 'job'),
          })),
        ];
        try {
          for (const q of queries) {
            const result = await waitForResult(() => prometheus.query(q.expr), q.where);
            expect(result, q.where).toHaveLength(1);
            expect(Number.isFinite(Number(result[0]!.value[1])), q.where).toBe(true);
          }
        } finally {
          clearInterval(load);
        }
        // The forecast trigger's series exists once the forecaster has history: here it has none
        // (its Prometheus is unreachable), so it must be absent rather than a wrong number.
        const forecastTrigger = so.triggers.find((t) => t.name === 'forecast')!;
        expect(await prometheus.query(forecastTrigger.metadata.query!)).toEqual([]);
      } finally {
        await prometheus.stop();
        await capacity.stop();
      }
    },
    90_000,
  );
});

async function waitForResult<T extends unknown[]>(query: () => Promise<T>, what: string): Promise<T> {
  const end = Date.now() + 45_000;
  for (;;) {
    const r = await query();
    if (r.length > 0) return r;
    if (Date.now() > end) throw new Error(`${what}: no result after 45 s`);
    await new Promise((res) => setTimeout(res, 250));
  }
}
