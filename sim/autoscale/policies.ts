// The policies the simulation compares, read from the manifests that ship (deploy/k8s), so the
// simulation replays what users deploy: targets, windows, policies, thresholds and the forecast
// horizon come from the YAML, not from constants here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parseDuration } from '../../src/forecast/duration.js';
import type { HpaPolicy, KedaPolicy, KedaTrigger, Policy } from './controllers.js';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, type HpaConfig, type MetricTarget, type ScalingRules } from './hpa.js';
import type { SignalName } from './signals.js';

export interface NamedPolicy {
  name: string;
  label: string;
  policy: Policy;
}

export interface DeploymentFacts {
  cpuRequestCores: number;
  /** ONNX Runtime threads per replica (the ConfigMap's intraOpThreads): one per requested CPU. */
  intraOpThreads: number;
  /** The readiness probe's period: a pod is seen READY up to this long after it is. */
  readinessPeriodSeconds: number;
  /** The forecaster's target utilization and the horizon the predictive trigger reads, minutes. */
  targetUtilization: number;
  horizonMinutes: number;
}

interface RulesYaml {
  stabilizationWindowSeconds?: number;
  selectPolicy?: 'Max' | 'Min' | 'Disabled';
  policies?: Array<{ type: 'Pods' | 'Percent'; value: number; periodSeconds: number }>;
}

function rules(y: RulesYaml | undefined, defaults: ScalingRules): ScalingRules {
  return {
    stabilizationWindowSeconds: y?.stabilizationWindowSeconds ?? defaults.stabilizationWindowSeconds,
    selectPolicy: y?.selectPolicy ?? 'Max',
    policies: y?.policies ?? defaults.policies,
  };
}

const read = (deploy: string, path: string): unknown => parseYaml(readFileSync(join(deploy, path), 'utf8'));

/** Signals for HPA metrics by their manifest name. */
const HPA_SIGNALS: Record<string, SignalName> = { cpu: 'cpu-percent', tensorgate_queue_us_per_request: 'queue-us-per-request' };
/** Signals for KEDA triggers by their manifest name. */
const TRIGGER_SIGNALS: Record<string, SignalName> = { 'queue-time': 'queue-us-per-request', requests: 'requests-per-capacity', forecast: 'forecast-replicas' };

function hpaFromManifest(deploy: string): HpaConfig {
  const hpa = read(deploy, 'overlays/hpa/hpa.yaml') as {
    spec: {
      minReplicas?: number;
      maxReplicas: number;
      metrics: Array<{
        type: string;
        resource?: { name: string; target: { type: string; averageUtilization: number } };
        pods?: { metric: { name: string }; target: { type: string; averageValue: string } };
      }>;
      behavior?: { scaleUp?: RulesYaml; scaleDown?: RulesYaml };
    };
  };
  const metrics: MetricTarget[] = hpa.spec.metrics.map((m) => {
    if (m.type === 'Resource' && m.resource) return { kind: 'resource-utilization', name: m.resource.name, target: m.resource.target.averageUtilization };
    if (m.type === 'Pods' && m.pods) return { kind: 'pods-average', name: m.pods.metric.name, target: Number(m.pods.target.averageValue) };
    throw new Error(`hpa.yaml: the simulation does not model metric type ${m.type}`);
  });
  for (const m of metrics) if (!HPA_SIGNALS[m.name]) throw new Error(`hpa.yaml: no simulated signal for metric ${m.name}`);
  return {
    minReplicas: hpa.spec.minReplicas ?? 1,
    maxReplicas: hpa.spec.maxReplicas,
    metrics,
    scaleUp: rules(hpa.spec.behavior?.scaleUp, DEFAULT_SCALE_UP),
    scaleDown: rules(hpa.spec.behavior?.scaleDown, DEFAULT_SCALE_DOWN),
  };
}

function kedaFromManifest(deploy: string): KedaPolicy {
  const so = read(deploy, 'overlays/keda/scaledobject.yaml') as {
    spec: {
      minReplicaCount?: number;
      maxReplicaCount?: number;
      pollingInterval?: number;
      cooldownPeriod?: number;
      advanced?: { horizontalPodAutoscalerConfig?: { behavior?: { scaleUp?: RulesYaml; scaleDown?: RulesYaml } } };
      triggers: Array<{ name: string; metricType?: 'Value' | 'AverageValue'; metadata: Record<string, string> }>;
    };
  };
  const behavior = so.spec.advanced?.horizontalPodAutoscalerConfig?.behavior;
  const triggers: KedaTrigger[] = so.spec.triggers.map((tr) => {
    const signal = TRIGGER_SIGNALS[tr.name];
    if (!signal) throw new Error(`scaledobject.yaml: no simulated signal for trigger ${tr.name}`);
    return {
      name: tr.name,
      metricType: tr.metricType ?? 'AverageValue',
      threshold: Number(tr.metadata.threshold),
      activationThreshold: Number(tr.metadata.activationThreshold ?? 0),
      signal,
    };
  });
  return {
    kind: 'keda',
    minReplicaCount: so.spec.minReplicaCount ?? 0,
    maxReplicaCount: so.spec.maxReplicaCount ?? 100,
    pollingInterval: so.spec.pollingInterval ?? 30,
    cooldownPeriod: so.spec.cooldownPeriod ?? 300,
    triggers,
    behavior: { scaleUp: rules(behavior?.scaleUp, DEFAULT_SCALE_UP), scaleDown: rules(behavior?.scaleDown, DEFAULT_SCALE_DOWN) },
    activator: true,
  };
}

export function deploymentFacts(deploy: string): DeploymentFacts {
  const deployment = read(deploy, 'base/deployment.yaml') as {
    spec: { template: { spec: { containers: Array<{ resources: { requests: { cpu: string } }; readinessProbe: { periodSeconds: number } }> } } };
  };
  const c = deployment.spec.template.spec.containers[0]!;
  const cpu = c.resources.requests.cpu;
  const docs = parseAllDocuments(readFileSync(join(deploy, 'overlays/keda/forecast.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; spec: never });
  const forecaster = docs.find((d) => d.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } };
  const args = forecaster.spec.template.spec.containers[0]!.args;
  const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const so = read(deploy, 'overlays/keda/scaledobject.yaml') as { spec: { triggers: Array<{ name: string; metadata: { query: string } }> } };
  const horizon = /horizon="([^"]+)"/.exec(so.spec.triggers.find((t) => t.name === 'forecast')?.metadata.query ?? '')?.[1];
  if (!horizon) throw new Error('scaledobject.yaml: the forecast trigger names no horizon');
  const configMap = read(deploy, 'base/configmap.yaml') as { data: { 'config.yaml': string } };
  const config = parseYaml(configMap.data['config.yaml']) as { intraOpThreads?: number };
  return {
    cpuRequestCores: cpu.endsWith('m') ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu),
    intraOpThreads: config.intraOpThreads ?? 1,
    readinessPeriodSeconds: c.readinessProbe.periodSeconds,
    targetUtilization: Number(arg('target-utilization') ?? 0.7),
    horizonMinutes: parseDuration(horizon) / 60,
  };
}

/** CPU-HPA, queue-time HPA, KEDA with scale to zero, predictive + reactive, from deploy/k8s. */
export function policiesFromManifests(deploy: string): NamedPolicy[] {
  const hpa = hpaFromManifest(deploy);
  const keda = kedaFromManifest(deploy);
  const cpuOnly: HpaPolicy = { kind: 'hpa', hpa: { ...hpa, metrics: hpa.metrics.filter((m) => m.kind === 'resource-utilization') }, signals: HPA_SIGNALS };
  const reactive: KedaPolicy = { ...keda, triggers: keda.triggers.filter((t) => t.signal !== 'forecast-replicas') };
  return [
    { name: 'cpu-hpa', label: 'CPU HPA (65 %)', policy: cpuOnly },
    { name: 'queue-hpa', label: 'HPA: CPU + queue time', policy: { kind: 'hpa', hpa, signals: HPA_SIGNALS } },
    { name: 'keda-zero', label: 'KEDA, scale to zero', policy: reactive },
    { name: 'predictive', label: 'KEDA predictive + reactive', policy: keda },
  ];
}

/** The same reactive KEDA policy held at one replica: what scaling to zero is measured against. */
export function kedaMinOne(deploy: string): NamedPolicy {
  const keda = kedaFromManifest(deploy);
  return {
    name: 'keda-min1',
    label: 'KEDA, min 1 replica',
    policy: { ...keda, minReplicaCount: 1, triggers: keda.triggers.filter((t) => t.signal !== 'forecast-replicas') },
  };
}
