// The autoscalers as the simulation runs them: an HPA syncing every 15 s on its metrics, and KEDA
// polling its triggers for activation (0 <-> 1 replicas, cooldown before scaling to zero) in front of
// the HPA it creates for 1 <-> N.
import { Hpa, type HpaConfig, type MetricTarget, type Readings } from './hpa.js';
import type { SignalName, Signals } from './signals.js';

/** The HPA controller's sync period (--horizontal-pod-autoscaler-sync-period). */
export const HPA_SYNC = 15;

export interface Scaled {
  pods: number;
  ready(t: number): number;
  setReplicas(t: number, n: number): void;
}

export interface HpaPolicy {
  kind: 'hpa';
  hpa: HpaConfig;
  /** Which signal each metric (by name) reads. */
  signals: Record<string, SignalName>;
}

export interface KedaTrigger {
  name: string;
  metricType: 'Value' | 'AverageValue';
  threshold: number;
  activationThreshold: number;
  signal: SignalName;
}

export interface KedaPolicy {
  kind: 'keda';
  minReplicaCount: number;
  maxReplicaCount: number;
  pollingInterval: number;
  cooldownPeriod: number;
  triggers: KedaTrigger[];
  behavior: Pick<HpaConfig, 'scaleUp' | 'scaleDown'>;
  /** Requests held by an activator (KEDA HTTP add-on) wake the deployment too. */
  activator: boolean;
}

export type Policy = HpaPolicy | KedaPolicy;

export interface Controller {
  /** Called every simulated second; acts on its own schedule. */
  tick(t: number, cluster: Scaled, signals: Signals): void;
}

function readingsFor(metrics: MetricTarget[], signals: Record<string, SignalName>, source: Signals, t: number): Readings {
  const readings: Readings = {};
  for (const m of metrics) readings[m.name] = source.read(signals[m.name]!, t);
  return readings;
}

export function hpaController(policy: HpaPolicy): Controller {
  const hpa = new Hpa(policy.hpa);
  return {
    tick(t, cluster, signals) {
      if (t % HPA_SYNC !== 0 || cluster.pods === 0) return;
      const next = hpa.sync(t, { current: cluster.pods, ready: cluster.ready(t) }, readingsFor(policy.hpa.metrics, policy.signals, signals, t));
      if (next !== cluster.pods) cluster.setReplicas(t, next);
    },
  };
}

export function kedaController(policy: KedaPolicy): Controller {
  const metrics: MetricTarget[] = policy.triggers.map((tr) => ({
    kind: tr.metricType === 'Value' ? 'external-value' : 'external-average',
    name: tr.name,
    target: tr.threshold,
  }));
  const signals = Object.fromEntries(policy.triggers.map((tr) => [tr.name, tr.signal]));
  const hpa = new Hpa({ minReplicas: Math.max(1, policy.minReplicaCount), maxReplicas: policy.maxReplicaCount, metrics, ...policy.behavior });
  let lastActive = -Infinity;
  return {
    tick(t, cluster, source) {
      if (t % policy.pollingInterval === 0) {
        // Active while any trigger is above its activation threshold (strictly), or requests wait.
        const active =
          policy.triggers.some((tr) => (source.read(tr.signal, t) ?? 0) > tr.activationThreshold) ||
          (policy.activator && (source.read('activator-pending', t) ?? 0) > 0);
        if (active) lastActive = t;
        if (cluster.pods === 0 && active) cluster.setReplicas(t, Math.max(1, policy.minReplicaCount));
        else if (cluster.pods > 0 && policy.minReplicaCount === 0 && !active && t - lastActive >= policy.cooldownPeriod) cluster.setReplicas(t, 0);
      }
      // KEDA's HPA scales 1 <-> N; at zero replicas it is idle.
      if (t % HPA_SYNC !== 0 || cluster.pods === 0) return;
      const next = hpa.sync(t, { current: cluster.pods, ready: cluster.ready(t) }, readingsFor(metrics, signals, source, t));
      if (next !== cluster.pods) cluster.setReplicas(t, next);
    },
  };
}

export function controllerFor(policy: Policy): Controller {
  return policy.kind === 'hpa' ? hpaController(policy) : kedaController(policy);
}
