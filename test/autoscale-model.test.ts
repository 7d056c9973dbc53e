// The simulation's cluster, replica curve, traffic and KEDA controller, pure: pods ready after their
// startup delay, the backlog behind saturated or absent replicas, activation and scale to zero.
import { describe, expect, it } from 'vitest';
import { Cluster } from '../sim/autoscale/cluster.js';
import { kedaController, type KedaPolicy } from '../sim/autoscale/controllers.js';
import { ReplicaModel } from '../sim/autoscale/curve.js';
import { DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP } from '../sim/autoscale/hpa.js';
import { Signals } from '../sim/autoscale/signals.js';
import { weightedQuantile } from '../sim/autoscale/simulate.js';
import { DAY_SECONDS, diurnalRate, eventFactor, perMinute, poisson, trace } from '../sim/autoscale/traffic.js';
import { mulberry32 } from '../src/onnx/builder.js';
import { syntheticCurve } from './helpers/autoscale.js';

const model = new ReplicaModel(syntheticCurve(1000, 5));

describe('ReplicaModel', () => {
  it('keeps the points the replica kept up with and interpolates between them', () => {
    expect(model.stableRps).toBe(900);
    expect(model.capacityRps).toBe(1000);
    expect(model.at(450).p99Ms).toBeCloseTo((model.at(400).p99Ms + model.at(500).p99Ms) / 2, 9);
    expect(model.at(0).queueUs).toBe(0);
    expect(model.at(5000).p99Ms).toBe(model.at(900).p99Ms); // clamped: beyond is the cluster's backlog
  });

  it('lowers a latency above a later one and raises CPU below an earlier one (stalls of a shared machine)', () => {
    const curve = syntheticCurve(1000, 5);
    curve.points[1]!.p99Ms = 400; // a stall at 20 %
    curve.points[3]!.cpuCores = 0.1; // descheduled at 40 %
    const m = new ReplicaModel(curve);
    expect(m.at(200).p99Ms).toBe(curve.points[2]!.p99Ms);
    expect(m.at(400).cpuCores).toBe(curve.points[2]!.cpuCores);
  });

  it('drops points whose median latency shows a standing queue', () => {
    const curve = syntheticCurve(1000, 5);
    curve.points[5]!.p50Ms = 500; // 60 %: 100× the lightest median
    expect(new ReplicaModel(curve).stableRps).toBe(500);
  });
});

describe('Cluster', () => {
  const cluster = (initial: number) => new Cluster({ model, startupSeconds: 10, cpuRequestCores: 2, timeoutSeconds: 30, initialReplicas: initial });

  it('serves within the curve and reports CPU against the request', () => {
    const c = cluster(2);
    const r = c.step(0, 1000); // 500 per pod
    expect(r.served).toBe(1000);
    expect(r.latencies).toEqual([{ count: 1000, ms: model.at(500).p99Ms }]);
    expect(r.cpuPercent).toBeCloseTo((100 * model.at(500).cpuCores) / 2, 9);
  });

  it('makes new pods ready after the startup delay and removes starting pods first', () => {
    const c = cluster(1);
    c.setReplicas(100, 3);
    expect(c.ready(109)).toBe(1);
    expect(c.ready(110)).toBe(3);
    c.setReplicas(105, 2);
    expect(c.pods).toBe(2);
    expect(c.ready(200)).toBe(2);
    c.setReplicas(200, 0);
    expect(c.pods).toBe(0);
  });

  it('queues what saturated pods cannot take, serves it first in first out, and fails it after the timeout', () => {
    const c = cluster(1);
    const first = c.step(0, 1500); // capacity 1000
    expect(first.served).toBe(1000);
    const second = c.step(1, 500); // 500 left over from second 0, then nothing new fits
    expect(second.served).toBe(1000);
    expect(second.latencies[0]).toEqual({ count: 500, ms: model.at(900).p99Ms + 1000 });
    // No replica: requests wait at the activator, then give up.
    const empty = cluster(0);
    let failed = 0;
    for (let t = 0; t < 40; t++) failed += empty.step(t, 10).failed;
    expect(failed).toBe(100); // seconds 0..9 timed out by t = 39
    expect(empty.step(40, 0).pendingAtActivator).toBe(290);
  });
});

describe('KEDA', () => {
  const policy: KedaPolicy = {
    kind: 'keda',
    minReplicaCount: 0,
    maxReplicaCount: 10,
    pollingInterval: 15,
    cooldownPeriod: 300,
    triggers: [{ name: 'requests', metricType: 'AverageValue', threshold: 0.7, activationThreshold: 0, signal: 'requests-per-capacity' }],
    behavior: { scaleUp: DEFAULT_SCALE_UP, scaleDown: DEFAULT_SCALE_DOWN },
    activator: true,
  };

  it('wakes the deployment for requests held at the activator, scales with the trigger, then to zero after the cooldown', () => {
    const c = new Cluster({ model, startupSeconds: 10, cpuRequestCores: 2, timeoutSeconds: 60, initialReplicas: 0 });
    const signals = new Signals(0, model.capacityRps);
    const keda = kedaController(policy);
    const pods: number[] = [];
    for (let t = 0; t < 1200; t++) {
      keda.tick(t, c, signals);
      signals.push(c.step(t, t >= 5 && t < 400 ? 2000 : 0));
      pods.push(c.pods);
    }
    expect(pods[14]).toBe(0); // no request before t = 5; the poll at 15 s sees them
    expect(pods[15]).toBe(1);
    expect(Math.max(...pods)).toBeGreaterThanOrEqual(3); // 2000 req/s at 700 per replica
    expect(pods[699]).toBeGreaterThan(0); // the last request at 399 s, + 300 s cooldown
    expect(pods[1199]).toBe(0);
  });

  it('treats the activation threshold as strict', () => {
    const c = new Cluster({ model, startupSeconds: 1, cpuRequestCores: 2, timeoutSeconds: 60, initialReplicas: 0 });
    const forecast = new Float64Array(100).fill(0);
    forecast.fill(2, 10);
    const signals = new Signals(0, model.capacityRps, forecast);
    const keda = kedaController({
      ...policy,
      activator: false,
      triggers: [{ name: 'forecast', metricType: 'AverageValue', threshold: 1, activationThreshold: 0, signal: 'forecast-replicas' }],
    });
    for (let t = 0; t <= 600; t++) {
      keda.tick(t, c, signals);
      signals.push(c.step(t, 0));
    }
    expect(c.pods).toBe(2); // woken at minute 10 by the forecast alone, then the HPA follows it
  });
});

describe('traffic', () => {
  const shape = { peakRps: 1000, nightRps: 10, startHour: 6, endHour: 22 };

  it('has a quiet night, a peak mid-way through the day, and the events where they are put', () => {
    expect(diurnalRate(3 * 3600, shape)).toBe(10);
    expect(diurnalRate(14 * 3600, shape)).toBeCloseTo(1000, 6);
    expect(eventFactor(10 * 3600 + 60, [{ kind: 'spike', atHour: 10, minutes: 10, factor: 5, riseSeconds: 10 }])).toBe(5);
    expect(eventFactor(10 * 3600 + 5, [{ kind: 'spike', atHour: 10, minutes: 10, factor: 5, riseSeconds: 10 }])).toBe(3);
    expect(eventFactor(9 * 3600, [{ kind: 'spike', atHour: 10, minutes: 10, factor: 5, riseSeconds: 10 }])).toBe(1);
    expect(eventFactor(17.5 * 3600, [{ kind: 'ramp', fromHour: 16, toHour: 19, extra: 0.5 }])).toBeCloseTo(1.25, 9);
    expect(eventFactor(21 * 3600, [{ kind: 'ramp', fromHour: 16, toHour: 19, extra: 0.5 }])).toBeCloseTo(1.5, 9);
  });

  it('is the same trace for the same seed, with noise around the cycle (seed 3, within 25 %)', () => {
    const a = trace(1, { shape, events: [], seed: 3 });
    expect(a).toEqual(trace(1, { shape, events: [], seed: 3 }));
    expect(a).not.toEqual(trace(1, { shape, events: [], seed: 4 }));
    expect(a.length).toBe(DAY_SECONDS);
    const minutes = perMinute(a);
    expect(minutes.length).toBe(1440);
    for (const m of [3 * 60, 14 * 60, 20 * 60]) {
      expect(Math.abs(minutes[m]! / diurnalRate(m * 60 + 30, shape) - 1)).toBeLessThan(0.25);
    }
  });
});

describe('poisson', () => {
  it('draws whole counts with the mean and variance of the rate (seed 5, 20 000 draws, within 3 %)', () => {
    for (const rate of [0.5, 5, 200]) {
      const random = mulberry32(5);
      const xs = Array.from({ length: 20_000 }, () => poisson(rate, random));
      expect(xs.every(Number.isInteger)).toBe(true);
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
      expect(Math.abs(mean / rate - 1)).toBeLessThan(0.03);
      expect(Math.abs(variance / rate - 1)).toBeLessThan(0.06);
    }
  });
});

describe('weightedQuantile', () => {
  it('is the latency at which the share of requests reaches q', () => {
    expect(weightedQuantile([{ count: 990, ms: 10 }, { count: 10, ms: 500 }], 0.99)).toBe(10);
    expect(weightedQuantile([{ count: 980, ms: 10 }, { count: 20, ms: 500 }], 0.99)).toBe(500);
    expect(weightedQuantile([], 0.99)).toBe(0);
  });
});
