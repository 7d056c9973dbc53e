// The Horizontal Pod Autoscaler's algorithm (kubernetes/pkg/controller/podautoscaler: the replica
// calculator, stabilization windows and scaling policies), as a pure object the simulation steps once
// per sync period. Only the parts tensorgate's manifests use: Resource utilization, Pods average
// value, External Value / AverageValue (KEDA's triggers), behavior with Pods and Percent policies.

export type MetricTarget =
  /** Resource utilization: reading = average utilization (%) of the ready pods. */
  | { kind: 'resource-utilization'; name: string; target: number }
  /** Pods metric, AverageValue: reading = average value per ready pod. */
  | { kind: 'pods-average'; name: string; target: number }
  /** External metric, Value: desired = ceil(ready pods × value / target). */
  | { kind: 'external-value'; name: string; target: number }
  /** External metric, AverageValue: desired = ceil(value / target). */
  | { kind: 'external-average'; name: string; target: number };

export interface ScalingPolicy {
  type: 'Pods' | 'Percent';
  value: number;
  periodSeconds: number;
}

export interface ScalingRules {
  stabilizationWindowSeconds: number;
  selectPolicy: 'Max' | 'Min' | 'Disabled';
  policies: ScalingPolicy[];
}

export interface HpaConfig {
  minReplicas: number;
  maxReplicas: number;
  metrics: MetricTarget[];
  scaleUp: ScalingRules;
  scaleDown: ScalingRules;
  /** The cluster-wide --horizontal-pod-autoscaler-tolerance (default 0.1). */
  tolerance?: number;
}

/** Kubernetes' defaults for behavior (autoscaling/v2 HPAScalingRules). */
export const DEFAULT_SCALE_UP: ScalingRules = {
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
};
export const DEFAULT_SCALE_DOWN: ScalingRules = {
  stabilizationWindowSeconds: 300,
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
};

export interface PodCounts {
  /** Pods the Deployment has (ready or starting). */
  current: number;
  ready: number;
}

/** A metric's reading for one sync; undefined when the metric has no value (it is then left out). */
export type Readings = Record<string, number | undefined>;

export class Hpa {
  readonly #config: Required<HpaConfig>;
  /** Raw recommendations with their time, for the stabilization windows. */
  readonly #recommendations: Array<{ t: number; replicas: number }> = [];
  /** Scale events (+n up, -n down) with their time, for the policies' periods. */
  readonly #events: Array<{ t: number; change: number }> = [];

  constructor(config: HpaConfig) {
    this.#config = { tolerance: 0.1, ...config };
  }

  get config(): Readonly<Required<HpaConfig>> {
    return this.#config;
  }

  /** The replica count one metric asks for (the replica calculator), or undefined without a reading. */
  metricReplicas(metric: MetricTarget, reading: number | undefined, pods: PodCounts): number | undefined {
    if (reading === undefined || !Number.isFinite(reading)) return undefined;
    const tol = this.#config.tolerance;
    const { current, ready } = pods;
    const unready = current - ready;
    switch (metric.kind) {
      case 'resource-utilization':
      case 'pods-average': {
        if (ready === 0) return undefined;
        let ratio = reading / metric.target;
        // Pods not yet ready: counted at 0 when scaling up, at the target when scaling down, so a pod
        // still starting neither inflates nor hides the load (the replica calculator's rule).
        if (unready > 0) {
          const total = reading * ready;
          ratio = ratio > 1 ? total / (metric.target * current) : (total + metric.target * unready) / (metric.target * current);
          if (Math.abs(ratio - 1) <= tol) return current;
          return Math.ceil(ratio * current);
        }
        if (Math.abs(ratio - 1) <= tol) return current;
        return Math.ceil(ratio * ready);
      }
      case 'external-value': {
        const ratio = reading / metric.target;
        if (current === 0) return Math.ceil(ratio);
        if (Math.abs(ratio - 1) <= tol) return current;
        return Math.ceil(ratio * ready);
      }
      case 'external-average': {
        if (current === 0) return Math.ceil(reading / metric.target);
        const ratio = reading / (metric.target * current);
        if (Math.abs(ratio - 1) <= tol) return current;
        return Math.ceil(reading / metric.target);
      }
    }
  }

  /**
   * One sync at time `t` (seconds): the largest count any metric asks for, stabilized and limited by
   * the behavior's policies, within [minReplicas, maxReplicas]. Returns the new replica count.
   */
  sync(t: number, pods: PodCounts, readings: Readings): number {
    const { minReplicas, maxReplicas, metrics, scaleUp, scaleDown } = this.#config;
    const current = pods.current;
    let desired: number | undefined;
    for (const m of metrics) {
      const r = this.metricReplicas(m, readings[m.name], pods);
      if (r !== undefined) desired = Math.max(desired ?? 0, r);
    }
    // No metric readable: the HPA keeps the current count.
    if (desired === undefined) desired = current;
    desired = Math.min(Math.max(desired, minReplicas), maxReplicas);

    // Stabilization: scale up to the lowest, down to the highest recommendation in the windows.
    let up = desired;
    let down = desired;
    for (const r of this.#recommendations) {
      if (r.t > t - scaleUp.stabilizationWindowSeconds) up = Math.min(up, r.replicas);
      if (r.t > t - scaleDown.stabilizationWindowSeconds) down = Math.max(down, r.replicas);
    }
    this.#recommendations.push({ t, replicas: desired });
    const keep = Math.max(scaleUp.stabilizationWindowSeconds, scaleDown.stabilizationWindowSeconds);
    while (this.#recommendations.length && this.#recommendations[0]!.t <= t - keep) this.#recommendations.shift();
    let next = current < up ? up : current > down ? down : current;

    // Rate limits of the policies.
    if (next > current) next = Math.min(next, Math.max(current, this.#upLimit(t, current, scaleUp)), maxReplicas);
    else if (next < current) next = Math.max(next, Math.min(current, this.#downLimit(t, current, scaleDown)), minReplicas);
    if (next !== current) this.#events.push({ t, change: next - current });
    const longest = Math.max(...[...scaleUp.policies, ...scaleDown.policies].map((p) => p.periodSeconds), 0);
    while (this.#events.length && this.#events[0]!.t <= t - longest) this.#events.shift();
    return next;
  }

  /** Kubernetes' calculateScaleUpLimitWithScalingRules. */
  #upLimit(t: number, current: number, rules: ScalingRules): number {
    if (rules.selectPolicy === 'Disabled') return current;
    const limits = rules.policies.map((p) => {
      const added = this.#events.filter((e) => e.change > 0 && e.t > t - p.periodSeconds).reduce((n, e) => n + e.change, 0);
      const start = current - added;
      return p.type === 'Pods' ? start + p.value : Math.ceil(start * (1 + p.value / 100));
    });
    return rules.selectPolicy === 'Min' ? Math.min(...limits) : Math.max(...limits);
  }

  /** Kubernetes' calculateScaleDownLimitWithBehaviors. */
  #downLimit(t: number, current: number, rules: ScalingRules): number {
    if (rules.selectPolicy === 'Disabled') return current;
    const limits = rules.policies.map((p) => {
      const removed = this.#events.filter((e) => e.change < 0 && e.t > t - p.periodSeconds).reduce((n, e) => n - e.change, 0);
      const start = current + removed;
      return p.type === 'Pods' ? start - p.value : Math.trunc(start * (1 - p.value / 100));
    });
    // Max: the policy that allows the largest change, i.e. the lowest limit.
    return rules.selectPolicy === 'Min' ? Math.max(...limits) : Math.min(...limits);
  }
}
