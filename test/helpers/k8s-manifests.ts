// Reading the rendered deploy/k8s objects: the containers, the serve options a Deployment runs with
// (its args and its ConfigMap, through tensorgate's own parser), every PromQL expression with where it
// comes from, and the prometheus-adapter values.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseServeArgs, type ServeOptions } from '../../src/cli/options.js';
import { DEPLOY, fillAdapterTemplate, type K8sObject } from './k8s.js';

/** Every overlay, and the example that composes one with the Redis component. */
export const TARGETS = ['overlays/hpa', 'overlays/keda', 'overlays/gpu', 'examples/with-redis'];

export interface Probe {
  httpGet: { path: string; port: string | number };
}
export interface Container {
  name: string;
  args: string[];
  ports: Array<{ name: string; containerPort: number }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources: { limits?: Record<string, string> };
}
export interface PromRule {
  record?: string;
  alert?: string;
  expr: string;
}
export interface KedaSpec {
  minReplicaCount: number;
  maxReplicaCount: number;
  advanced: { horizontalPodAutoscalerConfig: { behavior: unknown } };
  triggers: Array<{ type: string; name: string; metricType: string; metadata: Record<string, string> }>;
}
export interface AdapterValues {
  rules: { custom: Array<{ seriesQuery: string; metricsQuery: string; name: { matches: string; as: string } }> };
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
}
export const podSpec = (d: K8sObject): Record<string, unknown> => (d.spec as { template: { spec: Record<string, unknown> } }).template.spec;
export const container = (d: K8sObject): Container => (podSpec(d).containers as Container[])[0]!;
export const keda = (objects: K8sObject[]): KedaSpec => find(objects, 'ScaledObject', 'tensorgate').spec as unknown as KedaSpec;
export const cpus = (q: string): number => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));

/** The serve options of the tensorgate Deployment: its args, with --config pointing at its ConfigMap's file (written to `dir`). */
export function serveOptions(objects: K8sObject[], dir: string): ServeOptions {
  const c = container(find(objects, 'Deployment', 'tensorgate'));
  if (c.args[0] !== 'serve') throw new Error(`the container runs ${c.args[0]}, not serve`);
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, find(objects, 'ConfigMap', 'tensorgate-config').data!['config.yaml']!);
  const options = parseServeArgs(
    c.args.slice(1).map((a) => (a.startsWith('--config=') ? `--config=${configPath}` : a)),
    {},
  );
  if (options === 'help') throw new Error('help');
  return options;
}

export const adapterValues = (): AdapterValues =>
  parseYaml(readFileSync(join(DEPLOY, 'overlays', 'hpa', 'prometheus-adapter-values.yaml'), 'utf8')) as AdapterValues;
/** The metric a seriesQuery selects (`name{…}` -> name). */
export const seriesMetric = (seriesQuery: string): string => seriesQuery.slice(0, seriesQuery.indexOf('{'));

/** The recording rules' output names. */
export function recordedNames(objects: K8sObject[]): Set<string> {
  return new Set(
    objects
      .filter((o) => o.kind === 'PrometheusRule')
      .flatMap((o) => (o.spec as { groups: Array<{ rules: PromRule[] }> }).groups.flatMap((g) => g.rules.map((r) => r.record)))
      .filter((r): r is string => r !== undefined),
  );
}

/** Every PromQL expression in the objects (rules, KEDA triggers) and the adapter values, with where it comes from. */
export function promqlOf(objects: K8sObject[], adapter?: AdapterValues): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  for (const o of objects) {
    if (o.kind === 'PrometheusRule') {
      for (const g of (o.spec as { groups: Array<{ name: string; rules: PromRule[] }> }).groups) {
        for (const r of g.rules) out.push({ where: `PrometheusRule ${g.name} ${r.record ?? r.alert}`, expr: r.expr });
      }
    }
    if (o.kind === 'ScaledObject') {
      for (const t of (o.spec as unknown as KedaSpec).triggers) {
        if (t.type === 'prometheus') out.push({ where: `ScaledObject ${o.metadata.name} trigger ${t.name}`, expr: t.metadata.query! });
      }
    }
  }
  for (const r of adapter?.rules.custom ?? []) {
    out.push({ where: `prometheus-adapter seriesQuery ${r.name.as}`, expr: r.seriesQuery });
    out.push({ where: `prometheus-adapter metricsQuery ${r.name.as}`, expr: fillAdapterTemplate(r.metricsQuery, seriesMetric(r.seriesQuery)) });
  }
  return out;
}
