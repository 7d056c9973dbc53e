// deploy/k8s: every overlay renders, every object validates against its schema with no unknown
// field, the container arguments are flags tensorgate accepts and agree with the ports, probes and
// grace period, every PromQL expression parses (promtool), and every metric a manifest or rule names
// is served by a real server started with the manifest's own arguments and configuration.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseForecastArgs } from '../src/cli/forecast-command.js';
import { parseServeArgs, type ServeOptions } from '../src/cli/options.js';
import { startServer, type RunningServer } from '../src/cli/serve.js';
import { ForecastService } from '../src/forecast/index.js';
import { EXAMPLES } from './helpers/engine.js';
import { get, post } from './helpers/http-server.js';
import {
  DEPLOY,
  fillAdapterTemplate,
  HAVE_KUBECTL,
  HAVE_PROMTOOL,
  hasSchema,
  metricNames,
  promtoolCheckRules,
  render,
  unknownFields,
  validateObject,
  type K8sObject,
} from './helpers/k8s.js';
import { HAVE_PROMETHEUS, startPrometheus } from './helpers/prometheus.js';

/** Every overlay, and the example that composes one with the Redis component. */
const TARGETS = ['overlays/hpa', 'overlays/keda', 'overlays/gpu', 'examples/with-redis'];

interface Container {
  name: string;
  args: string[];
  ports: Array<{ name: string; containerPort: number }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources: { limits?: Record<string, string> };
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface PromRule {
  record?: string;
  alert?: string;
  expr: string;
}

const find = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const podSpec = (d: K8sObject) => (d.spec as { template: { spec: Record<string, unknown> } }).template.spec;
const container = (d: K8sObject): Container => (podSpec(d).containers as Container[])[0]!;
const cpus = (q: string) => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));

/** The serve options of a tensorgate Deployment: its args, with --config pointing at its ConfigMap's file. */
function serveOptions(objects: K8sObject[], dir: string): ServeOptions {
  const c = container(find(objects, 'Deployment', 'tensorgate'));
  expect(c.args[0]).toBe('serve');
  const configMap = find(objects, 'ConfigMap', 'tensorgate-config');
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, configMap.data!['config.yaml']!);
  const args = c.args.slice(1).map((a) => (a.startsWith('--config=') ? `--config=${configPath}` : a));
  const options = parseServeArgs(args, {});
  if (options === 'help') throw new Error('help');
  return options;
}

/** Every PromQL expression in the rendered objects and the adapter values, with where it comes from. */
function promqlOf(objects: K8sObject[], adapterValues?: AdapterValues): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  for (const o of objects) {
    if (o.kind === 'PrometheusRule') {
      for (const g of (o.spec as { groups: Array<{ name: string; rules: PromRule[] }> }).groups) {
        for (const r of g.rules) out.push({ where: `PrometheusRule ${g.name} ${r.record ?? r.alert}`, expr: r.expr });
      }
    }
    if (o.kind === 'ScaledObject') {
      for (const t of (o.spec as { triggers: Array<{ type: string; name: string; metadata: Record<string, string> }> }).triggers) {
        if (t.type === 'prometheus') out.push({ where: `ScaledObject ${o.metadata.name} trigger ${t.name}`, expr: t.metadata.query! });
      }
    }
  }
  for (const r of adapterValues?.rules.custom ?? []) {
    out.push({ where: `prometheus-adapter seriesQuery ${r.name.as}`, expr: r.seriesQuery });
    out.push({ where: `prometheus-adapter metricsQuery ${r.name.as}`, expr: fillAdapterTemplate(r.metricsQuery, seriesMetric(r.seriesQuery)) });
  }
  return out;
}

interface AdapterValues {
  rules: { custom: Array<{ seriesQuery: string; metricsQuery: string; name: { matches: string; as: string } }> };
}
const adapterValues = (): AdapterValues =>
  parseYaml(readFileSync(join(DEPLOY, 'overlays', 'hpa', 'prometheus-adapter-values.yaml'), 'utf8')) as AdapterValues;
const seriesMetric = (seriesQuery: string) => seriesQuery.slice(0, seriesQuery.indexOf('{'));

describe.skipIf(!HAVE_KUBECTL)('deploy/k8s manifests', () => {
  const rendered = new Map<string, K8sObject[]>();
  const dir = mkdtempSync(join(tmpdir(), 'tg-deploy-'));
  beforeAll(() => {
    for (const t of TARGETS) rendered.set(t, render(t));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('renders every overlay, each object once', () => {
    for (const [target, objects] of rendered) {
      expect(objects.length, target).toBeGreaterThan(5);
      const ids = objects.map((o) => `${o.kind}/${o.metadata.name}`);
      expect(new Set(ids).size, target).toBe(ids.length);
    }
    expect(rendered.get('overlays/hpa')!.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(true);
    expect(rendered.get('overlays/keda')!.some((o) => o.kind === 'ScaledObject')).toBe(true);
  });

  it('validates every object against the Kubernetes and KEDA schemas, Prometheus Operator kinds field by field', () => {
    for (const objects of rendered.values()) {
      for (const o of objects) {
        if (o.kind === 'ServiceMonitor') checkServiceMonitor(o, objects);
        else if (o.kind === 'PrometheusRule') checkPrometheusRule(o);
        else validateObject(o);
      }
    }
  });

  it('has no field the schemas do not know (checked through their TypeScript types)', () => {
    const objects = [...rendered.values()].flat().filter(hasSchema);
    expect(unknownFields(objects)).toEqual([]);
  });

  it('proves the field check catches a misspelt field', () => {
    const hpa = structuredClone(find(rendered.get('overlays/hpa')!, 'HorizontalPodAutoscaler', 'tensorgate'));
    const metric = (hpa.spec as { metrics: Array<{ resource?: { target: Record<string, unknown> } }> }).metrics[0]!;
    metric.resource!.target = { type: 'Utilization', averageUtilisation: 65 };
    validateObject(hpa); // the ajv schema lets it through …
    expect(unknownFields([hpa]).join('\n')).toMatch(/averageUtilisation/); // … the types do not
  });

  it('gives KEDA prometheus triggers only the metadata keys KEDA reads', () => {
    const keys = new Set(['serverAddress', 'query', 'threshold', 'activationThreshold', 'namespace', 'customHeaders', 'ignoreNullValues', 'queryParameters', 'unsafeSsl', 'timeout']);
    for (const objects of rendered.values()) {
      for (const o of objects.filter((x) => x.kind === 'ScaledObject')) {
        for (const t of (o.spec as { triggers: Array<{ type: string; metadata: Record<string, string> }> }).triggers) {
          expect(t.type).toBe('prometheus');
          for (const k of Object.keys(t.metadata)) expect(keys.has(k), `trigger metadata key ${k}`).toBe(true);
          for (const k of ['threshold', 'activationThreshold']) {
            if (t.metadata[k] !== undefined) expect(Number.isFinite(Number(t.metadata[k])), `${k} ${t.metadata[k]}`).toBe(true);
          }
        }
      }
    }
  });

  it('runs tensorgate serve with flags it accepts, matching ports, probes, grace period and CPU', () => {
    for (const [target, objects] of rendered) {
      const options = serveOptions(objects, dir);
      const deployment = find(objects, 'Deployment', 'tensorgate');
      const c = container(deployment);
      const port = (name: string) => c.ports.find((p) => p.name === name)?.containerPort;
      expect(options.httpPort, target).toBe(port('http'));
      // The gRPC front's port flag (8001 by default) where this build has one.
      const grpcPort = (options as { grpcPort?: number }).grpcPort;
      if (grpcPort !== undefined) expect(grpcPort, target).toBe(port('grpc'));
      expect(port('grpc')).toBe(8001);
      expect(options.host).toBe('0.0.0.0');
      expect(options.modelRepository).toBe('/models');
      for (const probe of [c.startupProbe, c.livenessProbe, c.readinessProbe]) expect(probe!.httpGet.port).toBe('http');
      expect(c.startupProbe!.httpGet.path).toBe('/v2/health/live');
      expect(c.livenessProbe!.httpGet.path).toBe('/v2/health/live');
      expect(c.readinessProbe!.httpGet.path).toBe('/v2/health/ready');
      const preStop = c.lifecycle!.preStop!.exec!.command;
      expect(preStop[0]).toBe('sleep');
      const grace = podSpec(deployment).terminationGracePeriodSeconds as number;
      expect(grace, target).toBeGreaterThanOrEqual(Number(preStop[1]) + options.shutdownTimeout + 1);
      expect(options.intraOpThreads, target).toBeLessThanOrEqual(cpus(c.resources.limits!.cpu!));
      const service = find(objects, 'Service', 'tensorgate');
      for (const p of (service.spec as { ports: Array<{ targetPort: string }> }).ports) {
        expect(c.ports.some((cp) => cp.name === p.targetPort), `Service port → ${p.targetPort}`).toBe(true);
      }
      expect((deployment.spec as { replicas?: number }).replicas, `${target}: the autoscaler owns replicas`).toBeUndefined();
    }
  });

  it('runs tensorgate forecast with flags it accepts, on the port its Service and probes use', () => {
    const objects = rendered.get('overlays/keda')!;
    const c = container(find(objects, 'Deployment', 'tensorgate-forecast'));
    expect(c.args[0]).toBe('forecast');
    const options = parseForecastArgs(c.args.slice(1));
    if (options === 'help') throw new Error('help');
    expect(options.port).toBe(c.ports.find((p) => p.name === 'metrics')!.containerPort);
    expect(c.livenessProbe!.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe!.httpGet.path).toBe('/ready');
    const trigger = keda(objects).triggers.find((t) => t.name === 'forecast')!;
    expect(trigger.metadata.query).toMatch(/job="tensorgate-forecast"/);
    expect(options.horizons.map((h) => h.label)).toContain(/horizon="([^"]+)"/.exec(trigger.metadata.query!)![1]);
  });

  it('gives the HPA overlay and KEDA the same scaling behaviour, and scale to zero to KEDA', () => {
    const hpa = find(rendered.get('overlays/hpa')!, 'HorizontalPodAutoscaler', 'tensorgate').spec as { behavior: unknown; maxReplicas: number };
    const so = keda(rendered.get('overlays/keda')!);
    expect(so.advanced.horizontalPodAutoscalerConfig.behavior).toEqual(hpa.behavior);
    expect(so.maxReplicaCount).toBe(hpa.maxReplicas);
    expect(so.minReplicaCount).toBe(0);
  });

  it('parses every PromQL expression and rule file with promtool', () => {
    if (!HAVE_PROMTOOL) return;
    const all = [...rendered.values()].flatMap((objects) => promqlOf(objects));
    all.push(...promqlOf([], adapterValues()));
    const check = promtoolCheckRules({ groups: [{ name: 'deploy', rules: all.map((e, i) => ({ record: `deploy:expr_${i}`, expr: e.expr })) }] });
    expect(check.ok, check.output).toBe(true);
    for (const o of rendered.get('overlays/keda')!.filter((x) => x.kind === 'PrometheusRule')) {
      const rules = promtoolCheckRules(o.spec!);
      expect(rules.ok, rules.output).toBe(true);
    }
  });

  describe('against a running server', () => {
    let server: RunningServer;
    let forecast: ForecastService;
    let exposition = '';
    beforeAll(async () => {
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
      const recorded = new Set(
        objects
          .filter((o) => o.kind === 'PrometheusRule')
          .flatMap((o) => (o.spec as { groups: Array<{ rules: PromRule[] }> }).groups.flatMap((g) => g.rules.map((r) => r.record)))
          .filter((r): r is string => r !== undefined),
      );
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
});

interface KedaSpec {
  minReplicaCount: number;
  maxReplicaCount: number;
  advanced: { horizontalPodAutoscalerConfig: { behavior: unknown } };
  triggers: Array<{ type: string; name: string; metricType: string; metadata: Record<string, string> }>;
}
const keda = (objects: K8sObject[]): KedaSpec => find(objects, 'ScaledObject', 'tensorgate').spec as unknown as KedaSpec;

async function waitForResult<T extends unknown[]>(query: () => Promise<T>, what: string): Promise<T> {
  const end = Date.now() + 45_000;
  for (;;) {
    const r = await query();
    if (r.length > 0) return r;
    if (Date.now() > end) throw new Error(`${what}: no result after 45 s`);
    await new Promise((res) => setTimeout(res, 250));
  }
}

/** The prometheus-operator ServiceMonitor fields used here, checked by name and against the Service. */
function checkServiceMonitor(o: K8sObject, objects: K8sObject[]): void {
  expect(o.apiVersion).toBe('monitoring.coreos.com/v1');
  const spec = o.spec as { selector: { matchLabels: Record<string, string> }; endpoints: Array<Record<string, unknown>> };
  expect(Object.keys(spec).sort()).toEqual(['endpoints', 'selector']);
  const services = objects.filter(
    (s) => s.kind === 'Service' && Object.entries(spec.selector.matchLabels).every(([k, v]) => s.metadata.labels?.[k] === v),
  );
  expect(services.length, `ServiceMonitor ${o.metadata.name} selects one Service`).toBe(1);
  for (const e of spec.endpoints) {
    for (const k of Object.keys(e)) expect(['port', 'path', 'interval', 'scrapeTimeout'], `endpoint key ${k}`).toContain(k);
    const ports = (services[0]!.spec as { ports: Array<{ name: string }> }).ports.map((p) => p.name);
    expect(ports).toContain(e.port);
    expect(e.path).toBe('/metrics');
  }
}

/** PrometheusRule: the spec is a rules file (`groups:`); promtool checks it in full elsewhere. */
function checkPrometheusRule(o: K8sObject): void {
  expect(o.apiVersion).toBe('monitoring.coreos.com/v1');
  expect(Object.keys(o.spec!)).toEqual(['groups']);
}
