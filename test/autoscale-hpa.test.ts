// The HPA algorithm the simulation runs, against the rules of kubernetes/pkg/controller/podautoscaler:
// ceil(current × metric / target), the 10 % tolerance, pods not yet ready, External Value and
// AverageValue, stabilization windows and the Pods/Percent policies.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, Hpa, type HpaConfig, type ScalingRules } from '../sim/autoscale/hpa.js';

const open: ScalingRules = { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 1000, periodSeconds: 15 }] };
const hpa = (over: Partial<HpaConfig> = {}) =>
  new Hpa({ minReplicas: 1, maxReplicas: 50, metrics: [{ kind: 'resource-utilization', name: 'cpu', target: 50 }], scaleUp: open, scaleDown: open, ...over });

describe('replica calculator', () => {
  it('asks for ceil(ready × utilization / target), nothing within the 10 % tolerance', () => {
    const h = hpa();
    const cpu = { kind: 'resource-utilization', name: 'cpu', target: 50 } as const;
    expect(h.metricReplicas(cpu, 90, { current: 4, ready: 4 })).toBe(8); // ceil(4 × 1.8) = 8
    expect(h.metricReplicas(cpu, 76, { current: 4, ready: 4 })).toBe(7); // ceil(6.08)
    expect(h.metricReplicas(cpu, 54, { current: 4, ready: 4 })).toBe(4); // ratio 1.08: tolerated
    expect(h.metricReplicas(cpu, 46, { current: 4, ready: 4 })).toBe(4); // 0.92: tolerated
    expect(h.metricReplicas(cpu, 20, { current: 4, ready: 4 })).toBe(2); // ceil(1.6)
    expect(h.metricReplicas(cpu, undefined, { current: 4, ready: 4 })).toBeUndefined();
  });

  it('counts pods still starting at 0 when scaling up and at the target when scaling down', () => {
    const cpu = { kind: 'resource-utilization', name: 'cpu', target: 50 } as const;
    const h = hpa();
    // 2 ready at 100 %, 2 starting: the load is 2 × 100 = 200 → 4 pods at 50 %: no more.
    expect(h.metricReplicas(cpu, 100, { current: 4, ready: 2 })).toBe(4);
    // 2 ready at 150 %: 300 / 50 = 6.
    expect(h.metricReplicas(cpu, 150, { current: 4, ready: 2 })).toBe(6);
    // 2 ready at 10 %, 2 starting counted at the target: (20 + 100) / (50 × 4) = 0.6 → ceil(2.4) = 3.
    expect(h.metricReplicas(cpu, 10, { current: 4, ready: 2 })).toBe(3);
  });

  it('scales External metrics: Value against ready pods, AverageValue on the total', () => {
    const h = hpa();
    expect(h.metricReplicas({ kind: 'external-value', name: 'q', target: 100 }, 300, { current: 3, ready: 3 })).toBe(9);
    expect(h.metricReplicas({ kind: 'external-value', name: 'q', target: 100 }, 105, { current: 3, ready: 3 })).toBe(3);
    expect(h.metricReplicas({ kind: 'external-average', name: 'r', target: 0.7 }, 3.5, { current: 2, ready: 2 })).toBe(5);
    expect(h.metricReplicas({ kind: 'external-average', name: 'r', target: 1 }, 2.1, { current: 2, ready: 2 })).toBe(2); // 1.05: tolerated
    expect(h.metricReplicas({ kind: 'external-average', name: 'r', target: 1 }, 3, { current: 0, ready: 0 })).toBe(3);
  });
});

describe('sync', () => {
  it('takes the largest count any metric asks for, within min and max', () => {
    const h = hpa({
      maxReplicas: 10,
      metrics: [
        { kind: 'resource-utilization', name: 'cpu', target: 50 },
        { kind: 'pods-average', name: 'queue', target: 1000 },
      ],
    });
    expect(h.sync(0, { current: 2, ready: 2 }, { cpu: 60, queue: 3000 })).toBe(6);
    expect(h.sync(15, { current: 6, ready: 6 }, { cpu: 500, queue: 0 })).toBe(10);
  });

  it('limits scale-up to the larger of +100 % and +4 pods per 15 s (the manifests’ policies)', () => {
    const up: ScalingRules = { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 4, periodSeconds: 15 }] };
    const h = hpa({ scaleUp: up });
    expect(h.sync(0, { current: 1, ready: 1 }, { cpu: 1000 })).toBe(5); // max(2, 5)
    expect(h.sync(15, { current: 5, ready: 5 }, { cpu: 1000 })).toBe(10); // max(10, 9)
    expect(h.sync(30, { current: 10, ready: 10 }, { cpu: 1000 })).toBe(20);
  });

  it('counts the scale events of the current period against its limit', () => {
    const up: ScalingRules = { stabilizationWindowSeconds: 0, selectPolicy: 'Max', policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }] };
    const h = hpa({ scaleUp: up });
    expect(h.sync(0, { current: 2, ready: 2 }, { cpu: 1000 })).toBe(6);
    expect(h.sync(15, { current: 6, ready: 6 }, { cpu: 1000 })).toBe(6); // 4 already added within 60 s
    expect(h.sync(61, { current: 6, ready: 6 }, { cpu: 1000 })).toBe(10);
  });

  it('scales down to the highest recommendation of the stabilization window, at most 50 % a minute', () => {
    const down: ScalingRules = { stabilizationWindowSeconds: 300, selectPolicy: 'Max', policies: [{ type: 'Percent', value: 50, periodSeconds: 60 }] };
    const h = hpa({ scaleDown: down });
    expect(h.sync(0, { current: 8, ready: 8 }, { cpu: 50 })).toBe(8);
    // Load drops: every recommendation is 2, but 8 stays recommended within 300 s.
    for (let t = 15; t < 300; t += 15) expect(h.sync(t, { current: 8, ready: 8 }, { cpu: 12.5 })).toBe(8);
    // At 300 s the recommendation of time 0 is no longer after the window's start.
    expect(h.sync(300, { current: 8, ready: 8 }, { cpu: 12.5 })).toBe(4); // 50 % per minute
    expect(h.sync(315, { current: 4, ready: 4 }, { cpu: 25 })).toBe(4); // within the minute: no more
    expect(h.sync(361, { current: 4, ready: 4 }, { cpu: 25 })).toBe(2);
  });

  it('ignores a policy when selectPolicy is Disabled, and picks the smallest change with Min', () => {
    const h = hpa({ scaleDown: { stabilizationWindowSeconds: 0, selectPolicy: 'Disabled', policies: [] } });
    expect(h.sync(0, { current: 8, ready: 8 }, { cpu: 5 })).toBe(8);
    const m = hpa({ scaleUp: { stabilizationWindowSeconds: 0, selectPolicy: 'Min', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }, { type: 'Pods', value: 1, periodSeconds: 15 }] } });
    expect(m.sync(0, { current: 4, ready: 4 }, { cpu: 1000 })).toBe(5);
  });

  it('uses Kubernetes’ defaults when the behaviour leaves them out', () => {
    expect(DEFAULT_SCALE_UP.policies).toContainEqual({ type: 'Pods', value: 4, periodSeconds: 15 });
    expect(DEFAULT_SCALE_DOWN.stabilizationWindowSeconds).toBe(300);
  });
});
