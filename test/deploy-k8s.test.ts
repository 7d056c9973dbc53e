// deploy/k8s, offline: every overlay renders, every object validates against its schema with no
// unknown field, the container arguments are flags tensorgate accepts and agree with the ports,
// probes and grace period, and every PromQL expression parses (promtool). deploy-k8s-live.test.ts
// checks the same manifests against a running server and a real Prometheus.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseForecastArgs } from '../src/cli/forecast-command.js';
import { HAVE_KUBECTL, HAVE_PROMTOOL, hasSchema, promtoolCheckRules, render, unknownFields, validateObject, type K8sObject } from './helpers/k8s.js';
import { adapterValues, container, cpus, find, keda, podSpec, promqlOf, serveOptions, TARGETS } from './helpers/k8s-manifests.js';

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
});

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
