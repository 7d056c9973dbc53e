// Replays through the manifests' own policies (read from deploy/k8s) with a synthetic replica curve:
// the policies are what the YAML says, scale to zero happens at night, the forecast wakes the
// deployment before the morning's first requests, and a flash spike costs the reactive policies.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ReplicaModel } from '../sim/autoscale/curve.js';
import { forecastPeaks, recommendedByMinute } from '../sim/autoscale/forecast-signal.js';
import { deploymentFacts, kedaMinOne, policiesFromManifests } from '../sim/autoscale/policies.js';
import { simulate } from '../sim/autoscale/simulate.js';
import { perMinute, trace, type DiurnalShape } from '../sim/autoscale/traffic.js';
import { ROOT } from './helpers/engine.js';
import { syntheticCurve } from './helpers/autoscale.js';

const DEPLOY = join(ROOT, 'deploy', 'k8s');
const model = new ReplicaModel(syntheticCurve(1000, 5));
const policies = Object.fromEntries(policiesFromManifests(DEPLOY).map((p) => [p.name, p.policy]));

describe('policies from deploy/k8s', () => {
  it('reads the HPA, the ScaledObject and the forecaster’s settings from the YAML', () => {
    const cpu = policies['cpu-hpa']!;
    expect(cpu.kind === 'hpa' && cpu.hpa.metrics).toEqual([{ kind: 'resource-utilization', name: 'cpu', target: 65 }]);
    const queue = policies['queue-hpa']!;
    expect(queue.kind === 'hpa' && queue.hpa.metrics.map((m) => m.name)).toEqual(['cpu', 'tensorgate_queue_us_per_request']);
    expect(queue.kind === 'hpa' && queue.hpa.scaleDown.stabilizationWindowSeconds).toBe(300);
    const keda = policies.predictive!;
    expect(keda.kind === 'keda' && [keda.minReplicaCount, keda.cooldownPeriod, keda.pollingInterval]).toEqual([0, 300, 15]);
    expect(keda.kind === 'keda' && keda.triggers.map((t) => t.signal)).toEqual(['queue-us-per-request', 'requests-per-capacity', 'forecast-replicas']);
    const zero = policies['keda-zero']!;
    expect(zero.kind === 'keda' && zero.triggers.some((t) => t.signal === 'forecast-replicas')).toBe(false);
    const one = kedaMinOne(DEPLOY).policy;
    expect(one.kind === 'keda' && one.minReplicaCount).toBe(1);
    expect(deploymentFacts(DEPLOY)).toEqual({ cpuRequestCores: 2, intraOpThreads: 2, readinessPeriodSeconds: 2, targetUtilization: 0.7, horizonMinutes: 15 });
  });
});

describe('replay', () => {
  // An office-hours model, two replicas' worth at the peak: 7 days of history, then 0:00-10:00.
  const shape: DiurnalShape = { peakRps: 1400, nightRps: 0, startHour: 6, endHour: 22 };
  const history = trace(7, { shape, events: [], seed: 21 });
  const day = trace(1, { shape, events: [{ kind: 'spike', atHour: 9, minutes: 10, factor: 5, riseSeconds: 10 }], seed: 22 }).subarray(0, 10 * 3600);
  const warmup = 3600;
  const perSecond = new Float64Array(warmup + day.length);
  perSecond.set(history.subarray(history.length - warmup), 0);
  perSecond.set(day, warmup);
  const peaks = forecastPeaks({ history: perMinute(history.subarray(0, history.length - warmup)), replay: perMinute(perSecond), horizonMinutes: 15 });
  const run = (name: string) =>
    simulate({
      policy: name === 'keda-min1' ? kedaMinOne(DEPLOY).policy : policies[name]!,
      model,
      perSecond,
      warmupSeconds: warmup,
      startupSeconds: 30,
      cpuRequestCores: 2,
      timeoutSeconds: 30,
      sloMs: 100,
      forecastByMinute: recommendedByMinute(peaks, model.capacityRps, 0.7),
    });

  it('forecasts the morning: replicas recommended before the first request', () => {
    const firstTraffic = perMinute(day).findIndex((r) => r > 0);
    const recommended = recommendedByMinute(peaks, model.capacityRps, 0.7);
    const firstRecommended = recommended.findIndex((r, m) => m >= warmup / 60 && r > 0) - warmup / 60;
    expect(firstTraffic).toBeGreaterThan(5 * 60);
    expect(firstRecommended).toBeLessThan(firstTraffic);
  });

  it('scales to zero at night and wakes before the morning only with the forecast', () => {
    const zero = run('keda-zero');
    const predictive = run('predictive');
    const minOne = run('keda-min1');
    expect(zero.minutes[3 * 60]!.pods).toBe(0);
    expect(minOne.minutes[3 * 60]!.pods).toBe(1);
    expect(zero.replicaMinutes).toBeLessThan(minOne.replicaMinutes);
    // Reactively, the first requests of the day wait for a cold start.
    const morning = (r: ReturnType<typeof simulate>) => r.minutes.slice(6 * 60 - 5, 7 * 60).filter((m) => m.violated).length;
    expect(morning(zero)).toBeGreaterThan(0);
    expect(morning(predictive)).toBe(0);
    expect(predictive.minutes[6 * 60 - 1]!.pods).toBeGreaterThan(0);
  }, 30_000);

  it('lets a 5× spike through the SLO for a while, whatever reacts', () => {
    for (const name of ['cpu-hpa', 'queue-hpa', 'predictive']) {
      const r = run(name);
      const spike = r.minutes.slice(9 * 60, 9 * 60 + 10);
      expect(spike.some((m) => m.violated), name).toBe(true);
      expect(r.peakPods, name).toBeGreaterThan(2);
    }
  }, 30_000);
});
