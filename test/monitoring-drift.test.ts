// Drift and data quality on synthetic streams, through the monitor the server runs (no server): seeded
// generators, stated bounds. A window is 1000 rows; the reference is learned from the first 1000.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { monitoringConfigSchema, type MonitoringConfig } from '../src/monitoring/config.js';
import { Monitor } from '../src/monitoring/monitor.js';
import { planMonitoring, type PlanModel } from '../src/monitoring/plan.js';
import { normal, uniform } from './helpers/random.js';

const FEATURES = 4;
const MODEL: PlanModel = {
  inputs: [{ name: 'x', datatype: 'FP64', shape: [-1, FEATURES] }],
  outputs: [{ name: 'y', datatype: 'FP64', shape: [-1, 1] }],
};

function config(extra: Record<string, unknown> = {}): MonitoringConfig {
  return monitoringConfigSchema.parse({ outputs: [], ...extra });
}

function monitor(extra: Record<string, unknown> = {}, model: PlanModel = MODEL, dir = '/'): Monitor {
  return new Monitor('m', '1', planMonitoring(config(extra), model, dir, 'm/config.json'));
}

/** `rows` rows of FEATURES columns; column c drawn from gens[c]. */
function batch(gens: Array<() => number>, rows: number): { x: { shape: number[]; data: Float64Array } } {
  const data = new Float64Array(rows * FEATURES);
  for (let r = 0; r < rows; r++) for (let c = 0; c < FEATURES; c++) data[r * FEATURES + c] = gens[c]!();
  return { x: { shape: [rows, FEATURES], data } };
}

function feed(m: Monitor, gens: Array<() => number>, rows: number, chunk = 50): void {
  for (let done = 0; done < rows; done += chunk) m.observe(batch(gens, Math.min(chunk, rows - done)), {});
}

const drifted = (m: Monitor): string[] =>
  m
    .evaluate(0)
    .tensors.flatMap(({ tensor, features }) => features.flatMap((f, i) => (f?.drift ? [`${tensor.plan.name}[${tensor.plan.featureNames[i]}]`] : [])));

describe('drift on synthetic streams', () => {
  it('no shift: at most 1 false alarm in 100 windows of 1000 rows (seeds 101-104)', () => {
    const gens = [normal(101), normal(102, 5, 2), normal(103, -1, 0.1), normal(104, 100, 30)];
    const m = monitor();
    feed(m, gens, 1000); // the learned reference
    expect(m.state).toBe('monitoring');
    let alarms = 0;
    for (let w = 0; w < 100; w++) {
      feed(m, gens, 1000);
      if (drifted(m).length > 0) alarms++;
    }
    expect(alarms).toBeLessThanOrEqual(1);
  });

  it('a 0.5 σ mean shift on one feature: detected within 1000 rows, on that feature only (seeds 201-205)', () => {
    const gens = [normal(201), normal(202), normal(203), normal(204)];
    const m = monitor();
    feed(m, gens, 2000); // reference, then one full window without shift
    expect(drifted(m)).toEqual([]);
    gens[2] = normal(205, 0.5, 1);
    let rows = 0;
    let found: string[] = [];
    while (rows < 1000) {
      feed(m, gens, 50);
      rows += 50;
      found = drifted(m);
      if (found.length) break;
    }
    expect(found).toEqual(['x[2]']);
    expect(rows).toBeLessThanOrEqual(1000);
    // Once the window is all shifted, still that feature only, with PSI past the warning level and KS far below its level.
    feed(m, gens, 1000);
    expect(drifted(m)).toEqual(['x[2]']);
    const f = m.evaluate(0).tensors[0]!.features[2]!;
    expect(f.psi).toBeGreaterThan(0.1);
    expect(f.ks!.pValue).toBeLessThan(f.ks!.alpha);
    expect(f.ks!.alpha).toBeCloseTo(0.05 / FEATURES, 12); // Bonferroni over the four KS tests
  });

  it('counts NaN, ±Inf and out-of-range values exactly, and keeps them out of the window', () => {
    const m = monitor({ range_tolerance: 0.1 });
    const u = uniform(301);
    feed(m, [u, u, u, u], 1000); // reference range ≈ [0, 1] per feature, slack 10 %
    const data = new Float64Array([NaN, 0.5, 0.5, 0.5, Infinity, -Infinity, 0.5, 0.5, 1.5, -0.5, 0.5, NaN, 0.5, 1.09, -0.09, 0.5]);
    m.observe({ x: { shape: [4, FEATURES], data } }, {});
    expect(m.tensors[0]!.quality).toEqual({ nan: 2, inf: 2, out_of_range: 2, unseen_category: 0, rejected: 0 });
    expect(m.tensors[0]!.windows.map((w) => w.size)).toEqual([2, 3, 4, 3]);
  });

  it('categorical: unseen categories counted exactly, a changed mix flagged by PSI / Jensen–Shannon (seed 401)', () => {
    const model: PlanModel = { inputs: [{ name: 'colour', datatype: 'BYTES', shape: [-1, 1] }], outputs: [] };
    const m = monitor({}, model);
    const u = uniform(401);
    const draw = (p: number[], names: string[]) => () => {
      let x = u();
      for (let i = 0; i < p.length; i++) if ((x -= p[i]!) < 0) return names[i]!;
      return names[names.length - 1]!;
    };
    const feedColours = (next: () => string, rows: number) => {
      for (let i = 0; i < rows; i += 50) m.observe({ colour: { shape: [50, 1], data: Array.from({ length: 50 }, next) } }, {});
    };
    feedColours(draw([0.5, 0.3, 0.2], ['red', 'green', 'blue']), 1000);
    feedColours(draw([0.5, 0.3, 0.2], ['red', 'green', 'blue']), 1000);
    expect(drifted(m)).toEqual([]);
    m.observe({ colour: { shape: [3, 1], data: ['purple', 'red', 'teal'] } }, {});
    expect(m.tensors[0]!.quality.unseen_category).toBe(2);
    feedColours(draw([0.2, 0.3, 0.5], ['red', 'green', 'blue']), 1000);
    expect(drifted(m)).toEqual(['colour[0]']);
    const f = m.evaluate(0).tensors[0]!.features[0]!;
    expect(f.js).toBeGreaterThan(0.1);
  });

  it('wide tensors are watched through row mean and std: a brightness shift shows on the mean only (seeds 501-502)', () => {
    const model: PlanModel = { inputs: [{ name: 'img', datatype: 'FP32', shape: [-1, 3, 16, 16] }], outputs: [] };
    const m = monitor({}, model);
    expect(m.tensors[0]!.plan.mode).toBe('summary');
    expect(m.tensors[0]!.plan.featureNames).toEqual(['mean', 'std']);
    const feedImages = (next: () => number, rows: number) => {
      for (let i = 0; i < rows; i += 20) m.observe({ img: { shape: [20, 3, 16, 16], data: Float32Array.from({ length: 20 * 768 }, next) } }, {});
    };
    feedImages(normal(501), 1000);
    feedImages(normal(502, 0.2, 1), 1000);
    expect(drifted(m)).toEqual(['img[mean]']);
  });
});

describe('reference profiles from a file', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'tg-ref-'));

  it('samples: no learning, KS and PSI from the first request on', () => {
    const d = dir();
    const g = normal(601);
    writeFileSync(join(d, 'ref.json'), JSON.stringify({ tensors: { x: { feature_names: ['a', 'b', 'c', 'd'], samples: Array.from({ length: 500 }, () => [g(), g(), g(), g()]) } } }));
    const m = monitor({ reference: { file: 'ref.json' }, min_rows: 100 }, MODEL, d);
    expect(m.state).toBe('monitoring');
    feed(m, [normal(602), normal(603), normal(604, 3), normal(605)], 500);
    expect(drifted(m)).toEqual(['x[c]']);
  });

  it('precomputed bins: PSI and ranges, no KS', () => {
    const d = dir();
    const bins = { edges: [-1, 0, 1], counts: [16, 34, 34, 16], min: -4, max: 4 };
    writeFileSync(join(d, 'ref.json'), JSON.stringify({ tensors: { x: { features: [bins, bins, bins, bins] } } }));
    const m = monitor({ reference: { file: 'ref.json' }, min_rows: 100 }, MODEL, d);
    feed(m, [normal(701), normal(702), normal(703), normal(704, 2)], 1000);
    expect(drifted(m)).toEqual(['x[3]']);
    expect(m.evaluate(0).tensors[0]!.features[0]!.ks).toBeUndefined();
  });

  it('refuses bad files and configs with the file and the field', () => {
    const d = dir();
    writeFileSync(join(d, 'short.json'), JSON.stringify({ tensors: { x: { samples: [[1, 2, 3]] } } }));
    writeFileSync(join(d, 'bins.json'), JSON.stringify({ tensors: { x: { features: [{ edges: [1, 0], counts: [1, 1, 1] }] } } }));
    writeFileSync(join(d, 'other.json'), JSON.stringify({ tensors: { z: { samples: [1] } } }));
    const plan = (extra: Record<string, unknown>) => () => planMonitoring(config(extra), MODEL, d, 'm/config.json');
    expect(plan({ reference: { file: 'short.json' } })).toThrow("m/config.json -> short.json: tensors.x.samples[0]: expected 4 values (the elements per row of 'x'), got 3");
    expect(plan({ reference: { file: 'bins.json' } })).toThrow(/bins\.json: tensors\.x\.features\[0\]\.edges\[1\]: edges must increase/);
    expect(plan({ reference: { file: 'other.json' } })).toThrow(/tensors\.z: not a watched tensor/);
    expect(plan({ reference: { file: 'missing.json' } })).toThrow("m/config.json: monitoring.reference.file: 'missing.json' does not exist in the model directory");
    expect(plan({ reference: { file: '../../etc/passwd' } })).toThrow(/resolves outside the model directory|does not exist/);
    expect(plan({ reference: { file: '/etc/passwd' } })).toThrow(/must be relative/);
    expect(plan({ inputs: ['nope'] })).toThrow("m/config.json: monitoring.inputs[0]: the model has no input 'nope' (it has x)");
    expect(() => config({ psi: { warning: 0.3, drift: 0.2 } })).toThrow(/warning must not exceed drift/);
    expect(() => config({ reference: { file: 'a.json', learn_rows: 10 } })).toThrow(/either file or learn_rows/);
    expect(() => config({ sample_rate: 0 })).toThrow();
    expect(() => config({ window: 10 })).toThrow(/window/);
  });
});

describe('sampling and the queue', () => {
  it('samples every 1/rate-th request and drains off the request path', async () => {
    const m = monitor({ sample_rate: 0.25, reference: { learn_rows: 10 } });
    const g = normal(801);
    for (let i = 0; i < 100; i++) m.offer(batch([g, g, g, g], 1), {});
    expect(m.offered).toBe(100);
    expect(m.sampled).toBe(25);
    expect(m.tensors[0]!.rows).toBe(0); // nothing observed yet: the drain runs after this turn
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(m.tensors[0]!.rows).toBe(25);
  });
});
