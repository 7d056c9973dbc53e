// Drift and data quality in the server: a model's monitoring section, the tap on real requests (JSON
// and binary), GET /v2/models/{m}/monitoring, the tensorgate_drift_* and data-quality metrics, and
// config errors that name the file and the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../src/onnx/models.js';
import { binaryBody, bytesOf, get, makeRepository, post, serve, until, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { normal } from './helpers/random.js';

const json = (data: number[], rows = 1) => JSON.stringify({ inputs: [{ name: 'x', shape: [rows, 16], datatype: 'FP32', data }] });

describe('monitoring over HTTP', () => {
  let server: TestServer;
  let port: number;

  beforeAll(async () => {
    const repo = makeRepository({
      watched: {
        bytes: tinyModel(),
        config: { max_batch_size: 8, monitoring: { reference: { learn_rows: 200 }, window_rows: 200, min_rows: 100, outputs: [] } },
      },
      plain: { bytes: tinyModel() },
      broken: { bytes: tinyModel(), config: { monitoring: { inputs: ['nope'] } } },
      badref: { bytes: tinyModel(), config: { monitoring: { reference: { file: 'missing.json' } } } },
    });
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo });
    port = server.port;
  });
  afterAll(() => server.stop());

  const report = async (model = 'watched') => (await get(port, `/v2/models/${model}/monitoring`)).json();

  it('learns the reference from the first rows, then watches a window per feature', async () => {
    const g = normal(1);
    const rows = () => Array.from({ length: 4 * 16 }, g);
    for (let i = 0; i < 50; i++) expect((await post(port, '/v2/models/watched/infer', json(rows(), 4))).status).toBe(200); // 200 rows: the reference
    await until(async () => (await report()).versions[0].state === 'monitoring', 'the learned reference');
    for (let i = 0; i < 50; i++) await post(port, '/v2/models/watched/infer', json(rows(), 4));
    const r = await until(async () => {
      const rep = await report();
      return rep.versions[0].tensors[0].features[0].window.rows === 200 ? rep : undefined;
    }, 'a full window');
    expect(r).toMatchObject({ model: 'watched', enabled: true });
    const v = r.versions[0];
    expect(v).toMatchObject({
      version: '1',
      state: 'monitoring',
      sample_rate: 1,
      reference: { source: 'learned', rows: 200 },
      window_rows: 200,
      drift: { detected: false, features_drifted: 0, features_evaluated: 16, features: 16 },
      thresholds: { psi: { warning: 0.1, drift: 0.25, bins: 10 }, ks: { p_value: 0.05, correction: 'bonferroni', alpha: 0.05 / 16 }, js: 0.1, range_tolerance: 0.1 },
    });
    expect(v.requests).toEqual({ offered: 100, sampled: 100, dropped: 0 });
    const x = v.tensors[0];
    expect(x).toMatchObject({ name: 'x', io: 'input', datatype: 'FP32', kind: 'numeric', mode: 'features', rows: 400 });
    expect(x.features).toHaveLength(16);
    expect(x.features.every((f: { drift: boolean }) => f.drift === false)).toBe(true);
    expect(x.features[3]).toMatchObject({ name: '3', js: null, reference: { rows: 200 } });
    expect(x.features[3].psi).toBeGreaterThanOrEqual(0);
    expect(x.features[3].ks.p_value).toBeGreaterThan(0);
  });

  it('flags the shifted feature, in the report and in /metrics', async () => {
    const g = normal(2);
    const shifted = normal(3, 1.5, 1);
    for (let i = 0; i < 50; i++) {
      const data = Array.from({ length: 4 * 16 }, (_, k) => (k % 16 === 5 ? shifted() : g()));
      await post(port, '/v2/models/watched/infer', json(data, 4));
    }
    const r = await until(async () => {
      const rep = await report();
      return rep.versions[0].drift.detected ? rep : undefined;
    }, 'drift', 10_000, 100);
    expect(r.versions[0].drift.features_drifted).toBe(1);
    expect(r.versions[0].tensors[0].features[5]).toMatchObject({ name: '5', drift: true });
    const text = (await get(port, '/metrics')).text();
    expect(text).toMatch(/^tensorgate_drift_detected\{model="watched",version="1",tensor="x",feature="5"\} 1$/m);
    expect(text).toMatch(/^tensorgate_drift_detected\{model="watched",version="1",tensor="x",feature="4"\} 0$/m);
    expect(text).toMatch(/^tensorgate_drift_features_drifted\{model="watched",version="1"\} 1$/m);
    expect(text).toMatch(/^tensorgate_drift_score\{model="watched",version="1",tensor="x",feature="5",method="psi"\} [\d.]+$/m);
    expect(text).toMatch(/^tensorgate_drift_score\{model="watched",version="1",tensor="x",feature="5",method="ks"\} [\d.]+$/m);
    expect(text).toMatch(/^tensorgate_drift_p_value\{model="watched",version="1",tensor="x",feature="5"\} /m);
    expect(text).toMatch(/^tensorgate_drift_reference_ready\{model="watched",version="1"\} 1$/m);
    expect(text).toMatch(/^tensorgate_monitoring_sampled_total\{model="watched",version="1"\} 150$/m);
  });

  it('counts NaN, Inf and out-of-range values (binary tensors) and rejected inputs exactly', async () => {
    const before = (await report()).versions[0].tensors[0].data_quality; // the shifted feature went out of range above
    const metric = async (kind: string) => Number(new RegExp(`^tensorgate_data_quality_violations_total\\{model="watched",input="x",kind="${kind}"\\} (\\d+)$`, 'm').exec((await get(port, '/metrics')).text())?.[1] ?? 0);
    const outOfRange = await metric('out_of_range');
    expect(outOfRange).toBe(before.out_of_range);
    const x = new Float32Array(16).fill(0.1);
    x[0] = NaN;
    x[1] = Infinity;
    x[2] = 1e6; // far outside the learned range
    const { body, headerLength } = binaryBody({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16], parameters: { binary_data_size: 64 } }] }, [bytesOf(x)]);
    expect((await post(port, '/v2/models/watched/infer', body, { 'inference-header-content-length': headerLength })).status).toBe(200);
    expect((await post(port, '/v2/models/watched/infer', json([1, 2, 3]))).status).toBe(400); // data has 3 elements for [1,16]
    expect((await post(port, '/v2/models/watched/infer', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'INT32', data: Array(16).fill(1) }] }))).status).toBe(400);
    const r = await until(async () => {
      const rep = await report();
      return rep.versions[0].tensors[0].data_quality.nan === before.nan + 1 ? rep : undefined;
    }, 'the binary request observed');
    expect(r.versions[0].tensors[0].data_quality).toEqual({ nan: before.nan + 1, inf: before.inf + 1, out_of_range: before.out_of_range + 1, unseen_category: 0, rejected: before.rejected + 2 });
    expect(before).toMatchObject({ nan: 0, inf: 0, rejected: 0 });
    for (const [kind, n] of [['nan', 1], ['inf', 1], ['out_of_range', outOfRange + 1], ['rejected', 2]] as const) expect(await metric(kind), kind).toBe(n);
  });

  it('reports models without monitoring as disabled, unknown ones as 404', async () => {
    expect(await report('plain')).toEqual({ model: 'plain', enabled: false, versions: [] });
    expect((await get(port, '/v2/models/nosuch/monitoring')).status).toBe(404);
    expect((await get(port, '/v2/models/watched/versions/1/monitoring')).json().versions).toHaveLength(1);
    expect((await get(port, '/v2/models/watched/versions/7/monitoring')).status).toBe(404);
  });

  it('refuses to load a model whose monitoring names what it lacks, saying which file and field', async () => {
    const index = (await post(port, '/v2/repository/index', {})).json() as Array<{ name: string; state: string; reason?: string }>;
    const broken = index.find((m) => m.name === 'broken')!;
    expect(broken.state).toBe('UNAVAILABLE');
    expect(broken.reason).toContain("broken/config.json: monitoring.inputs[0]: the model has no input 'nope' (it has x)");
    expect(index.find((m) => m.name === 'badref')!.reason).toContain("badref/config.json: monitoring.reference.file: 'missing.json' does not exist in the model directory");
  });
});
