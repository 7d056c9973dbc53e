// ServerMetrics with hand-made native statistics: counters, histograms built from the native buckets,
// batch sizes, tracking, HTTP, repository and cache metrics, and the validity of the text exposition.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { NativeBatchStat, NativeModelStats } from '../src/engine/binding.js';
import type { Model } from '../src/engine/model.js';
import {
  BATCH_SIZE_BUCKETS,
  CACHE_DURATION_BUCKETS,
  EXPORTED_NATIVE_BUCKETS,
  HTTP_DURATION_BUCKETS,
  NATIVE_HISTOGRAM_BUCKETS,
  ServerMetrics,
  nativeBucketBound,
  type StatsSource,
} from '../src/metrics/index.js';

// ---- fake statistics ------------------------------------------------------------------------------

const d = (count: number, ns: number) => ({ count, ns });
const zeros = () => new Array<number>(NATIVE_HISTOGRAM_BUCKETS).fill(0);
const hist = (at: Record<number, number>) => {
  const h = zeros();
  for (const [i, n] of Object.entries(at)) h[Number(i)] = n;
  return h;
};
const batch = (batchSize: number, executions: number, ns = 0): NativeBatchStat => ({
  batchSize,
  executions,
  computeInput: d(executions, ns),
  computeInfer: d(executions, 2 * ns),
  computeOutput: d(executions, 3 * ns),
});

function fakeStats(over: Partial<NativeModelStats> = {}): NativeModelStats {
  return {
    pending: 5,
    queued: 3,
    inferenceCount: 40,
    executionCount: 12,
    lastInferenceMs: 1_700_000_000_250,
    success: d(30, 45_000_000),
    fail: d(9, 1_000_000),
    failures: { queueFull: 4, timeout: 2, cancelled: 1, unavailable: 1, invalid: 0, backend: 1 },
    queue: d(30, 6_000_000),
    computeInput: d(30, 1_500),
    computeInfer: d(30, 30_000_000),
    computeOutput: d(30, 2_500),
    batches: [batch(1, 6, 1000), batch(4, 4, 2000), batch(10, 2, 500)],
    histograms: { request: hist({ 40: 30 }), queue: hist({ 30: 30 }), compute: hist({ 35: 12 }) },
    ...over,
  };
}

/** A StatsSource whose statistics a test can replace, counting reads. */
class FakeSource implements StatsSource {
  reads = 0;
  constructor(public current: NativeModelStats = fakeStats()) {}
  stats(): NativeModelStats {
    this.reads++;
    return this.current;
  }
}

// ---- a strict parser of the text exposition (format 0.0.4) -----------------------------------------

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/;

function parseValue(s: string): number {
  if (!FLOAT.test(s)) throw new Error(`bad value '${s}'`);
  return s === '+Inf' || s === 'Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s);
}

function parseSample(line: string): ParsedSample {
  let i = 0;
  while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++;
  const name = line.slice(0, i);
  if (!NAME.test(name)) throw new Error(`bad metric name in '${line}'`);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const eq = line.indexOf('=', i);
      const label = line.slice(i, eq);
      if (!LABEL_NAME.test(label)) throw new Error(`bad label name '${label}' in '${line}'`);
      if (label in labels) throw new Error(`duplicate label '${label}' in '${line}'`);
      if (line[eq + 1] !== '"') throw new Error(`unquoted label value in '${line}'`);
      let j = eq + 2;
      let value = '';
      for (;;) {
        const c = line[j];
        if (c === undefined) throw new Error(`unterminated label value in '${line}'`);
        if (c === '"') break;
        if (c === '\\') {
          const e = line[j + 1];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new Error(`bad escape in '${line}'`);
          j += 2;
        } else {
          value += c;
          j++;
        }
      }
      labels[label] = value;
      i = j + 1;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`expected , or } in '${line}'`);
    }
    i++;
  }
  if (line[i] !== ' ') throw new Error(`expected a space before the value in '${line}'`);
  const rest = line.slice(i + 1).split(' ');
  if (rest.length > 2 || (rest.length === 2 && !/^-?\d+$/.test(rest[1]!))) throw new Error(`bad value/timestamp in '${line}'`);
  return { name, labels, value: parseValue(rest[0]!) };
}

const withoutLe = (labels: Record<string, string>): string =>
  JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le'));

/** Parses and validates: HELP and TYPE once per family, before its samples; samples named after their family; histograms complete. */
function parseExposition(text: string): Map<string, ParsedFamily> {
  expect(text.endsWith('\n')).toBe(true);
  const families = new Map<string, ParsedFamily>();
  let current: ParsedFamily | undefined;
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad family name '${name}'`);
      if (kind === 'HELP') {
        if (families.has(name)) throw new Error(`second HELP for ${name}`);
        current = { name, help: rest, type: '', samples: [] };
        families.set(name, current);
      } else {
        if (current?.name !== name || current.type !== '') throw new Error(`TYPE for ${name} out of place`);
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type '${rest}'`);
        current.type = rest;
      }
      continue;
    }
    if (line.startsWith('#')) throw new Error(`unexpected comment '${line}'`);
    if (!current || current.type === '') throw new Error(`sample before HELP/TYPE: '${line}'`);
    const sample = parseSample(line);
    const f = current.name;
    const allowed =
      current.type === 'histogram'
        ? [`${f}_bucket`, `${f}_sum`, `${f}_count`]
        : current.type === 'summary'
          ? [f, `${f}_sum`, `${f}_count`]
          : [f];
    if (!allowed.includes(sample.name)) throw new Error(`sample ${sample.name} inside family ${f}`);
    const id = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(id)) throw new Error(`duplicate sample ${id}`);
    seen.add(id);
    current.samples.push(sample);
  }
  for (const family of families.values()) {
    if (family.type !== 'histogram') continue;
    // Per series: le increasing, counts non-decreasing, ending at +Inf = _count, with a _sum.
    const series = new Map<string, ParsedSample[]>();
    for (const s of family.samples) {
      const key = withoutLe(s.labels);
      series.set(key, [...(series.get(key) ?? []), s]);
    }
    for (const [key, samples] of series) {
      const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
      expect(buckets.length, `${family.name}${key} buckets`).toBeGreaterThan(0);
      let le = -Infinity;
      let count = -Infinity;
      for (const b of buckets) {
        const bound = parseValue(b.labels.le!);
        expect(bound, `${family.name} le order`).toBeGreaterThan(le);
        expect(b.value, `${family.name} cumulative`).toBeGreaterThanOrEqual(count);
        le = bound;
        count = b.value;
      }
      expect(le).toBe(Infinity);
      const total = samples.find((s) => s.name.endsWith('_count'));
      expect(total?.value, `${family.name}${key} _count`).toBe(count);
      expect(samples.some((s) => s.name.endsWith('_sum'))).toBe(true);
    }
  }
  return families;
}

async function scrape(m: ServerMetrics): Promise<Map<string, ParsedFamily>> {
  return parseExposition((await m.scrape()).body);
}

function sampleValue(
  families: Map<string, ParsedFamily>,
  family: string,
  labels: Record<string, string>,
  name = family,
): number | undefined {
  return families
    .get(family)
    ?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** The `le` → cumulative count lines of one histogram series. */
function buckets(families: Map<string, ParsedFamily>, family: string, labels: Record<string, string>): Array<[string, number]> {
  return families
    .get(family)!
    .samples.filter((s) => s.name === `${family}_bucket` && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .map((s) => [s.labels.le!, s.value]);
}

const M = { model: 'mlp', version: '1' };
const le6 = (x: number) => String(Number(x.toPrecision(6)));

// ---- tests ----------------------------------------------------------------------------------------

describe('native model statistics', () => {
  it('exports the Triton counters and gauges equal to the native values', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.trackModel('mlp', '1', new FakeSource());
    const f = await scrape(m);
    expect(sampleValue(f, 'nv_inference_request_success', M)).toBe(30);
    expect(sampleValue(f, 'nv_inference_count', M)).toBe(40);
    expect(sampleValue(f, 'nv_inference_exec_count', M)).toBe(12);
    expect(sampleValue(f, 'nv_inference_pending_request_count', M)).toBe(3); // Triton's: queued, not executing
    expect(f.get('nv_inference_pending_request_count')!.type).toBe('gauge');
    expect(sampleValue(f, 'tensorgate_inflight_requests', M)).toBe(5); // queued + executing
    expect(sampleValue(f, 'nv_inference_request_duration_us', M)).toBe(45_000);
    expect(sampleValue(f, 'nv_inference_queue_duration_us', M)).toBe(6_000);
    expect(sampleValue(f, 'nv_inference_compute_input_duration_us', M)).toBe(1.5);
    expect(sampleValue(f, 'nv_inference_compute_infer_duration_us', M)).toBe(30_000);
    expect(sampleValue(f, 'nv_inference_compute_output_duration_us', M)).toBe(2.5);
    expect(sampleValue(f, 'tensorgate_last_inference_timestamp_seconds', M)).toBe(1_700_000_000.25);
    const failures = Object.fromEntries(
      f.get('nv_inference_request_failure')!.samples.map((s) => {
        expect(s.labels).toMatchObject(M);
        return [s.labels.reason, s.value];
      }),
    );
    expect(failures).toEqual({ queue_full: 4, timeout: 2, cancelled: 1, unavailable: 1, invalid: 0, backend: 1 });
    for (const name of [
      'nv_inference_request_success',
      'nv_inference_request_failure',
      'nv_inference_count',
      'nv_inference_exec_count',
      'nv_inference_request_duration_us',
      'nv_inference_queue_duration_us',
      'nv_inference_compute_input_duration_us',
      'nv_inference_compute_infer_duration_us',
      'nv_inference_compute_output_duration_us',
    ]) {
      expect(f.get(name)!.type, name).toBe('counter');
    }
  });

  it('leaves out the last-inference timestamp before the first execution', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.trackModel('mlp', '1', new FakeSource(fakeStats({ lastInferenceMs: 0 })));
    const f = await scrape(m);
    expect(f.get('tensorgate_last_inference_timestamp_seconds')!.samples).toEqual([]);
    expect(sampleValue(f, 'nv_inference_request_success', M)).toBe(30);
  });

  it('reads each model once per scrape, and reads it afresh at the next', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    const a = new FakeSource();
    const b = new FakeSource(fakeStats({ inferenceCount: 7 }));
    m.trackModel('a', '1', a);
    m.trackModel('b', '2', b);
    await scrape(m);
    expect([a.reads, b.reads]).toEqual([1, 1]);
    a.current = fakeStats({ success: d(31, 46_000_000), inferenceCount: 41 });
    const f = await scrape(m);
    expect([a.reads, b.reads]).toEqual([2, 2]);
    expect(sampleValue(f, 'nv_inference_request_success', { model: 'a', version: '1' })).toBe(31);
    expect(sampleValue(f, 'nv_inference_count', { model: 'a', version: '1' })).toBe(41);
    expect(sampleValue(f, 'nv_inference_count', { model: 'b', version: '2' })).toBe(7);
    // Two scrapes started in the same tick share one reading.
    await Promise.all([m.scrape(), m.scrape()]);
    expect([a.reads, b.reads]).toEqual([3, 3]);
  });

  it('exports the native buckets from 10 µs to 10 s as cumulative le buckets, with +Inf, _sum and _count', async () => {
    expect(EXPORTED_NATIVE_BUCKETS).toEqual({ first: 14, last: 93 });
    const m = new ServerMetrics({ defaultMetrics: false });
    // 0: < 1 µs; 13: just below 10 µs; 14: the first exported; 50: ~5.8 ms; 93: the last exported (9.98 s);
    // 94 and 127: beyond 10 s.
    const request = hist({ 0: 1, 13: 2, 14: 3, 50: 5, 93: 7, 94: 11, 127: 13 });
    m.trackModel('mlp', '1', new FakeSource(fakeStats({ histograms: { request, queue: zeros(), compute: hist({ 20: 4 }) } })));
    const f = await scrape(m);
    const name = 'tensorgate_request_duration_seconds';
    expect(f.get(name)!.type).toBe('histogram');
    const lines = buckets(f, name, M);
    expect(lines).toHaveLength(80 + 1);
    expect(lines.map(([le]) => le)).toEqual([
      ...Array.from({ length: 80 }, (_, k) => le6(nativeBucketBound(14 + k))),
      '+Inf',
    ]);
    expect(lines[0]).toEqual(['0.0000113137', 1 + 2 + 3]);
    expect(Number(lines[0]![0])).toBeGreaterThan(1e-5);
    expect(lines[79]).toEqual(['9.97579', 1 + 2 + 3 + 5 + 7]);
    expect(Number(lines[79]![0])).toBeLessThan(10);
    expect(lines[80]).toEqual(['+Inf', 42]);
    const at = (i: number) => lines[i - 14]![1];
    expect(at(49)).toBe(6);
    expect(at(50)).toBe(11);
    expect(lines.find(([le]) => le === le6(1e-6 * 2 ** 12.5))![1]).toBe(11);
    expect(at(92)).toBe(11);
    expect(sampleValue(f, name, M, `${name}_count`)).toBe(42);
    expect(sampleValue(f, name, M, `${name}_sum`)).toBe(0.045); // success.ns / 1e9
    // Queue: all zero; compute: its sum is the per-batch phase durations over all executions.
    expect(buckets(f, 'tensorgate_queue_duration_seconds', M).every(([, n]) => n === 0)).toBe(true);
    expect(sampleValue(f, 'tensorgate_queue_duration_seconds', M, 'tensorgate_queue_duration_seconds_sum')).toBe(0.006);
    const compute = buckets(f, 'tensorgate_compute_duration_seconds', M);
    expect(compute.slice(0, 6).every(([, n]) => n === 0)).toBe(true);
    expect(compute[6]).toEqual([le6(nativeBucketBound(20)), 4]);
    expect(compute.at(-1)).toEqual(['+Inf', 4]);
    expect(sampleValue(f, 'tensorgate_compute_duration_seconds', M, 'tensorgate_compute_duration_seconds_sum')).toBeCloseTo(
      ((1000 + 2000 + 500) * (1 + 2 + 3)) / 1e9, // each batch(): input ns, infer 2·ns, output 3·ns in total
      15,
    );
  });

  it('exports batch sizes as a histogram over executions: buckets 1..256, _sum rows, _count executions', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    const batches = [batch(1, 5), batch(3, 2), batch(8, 4), batch(200, 1), batch(300, 1)];
    m.trackModel('mlp', '1', new FakeSource(fakeStats({ batches })));
    const f = await scrape(m);
    const name = 'tensorgate_batch_size';
    expect(f.get(name)!.type).toBe('histogram');
    expect(buckets(f, name, M)).toEqual([
      ['1', 5],
      ['2', 5],
      ['4', 7],
      ['8', 11],
      ['16', 11],
      ['32', 11],
      ['64', 11],
      ['128', 11],
      ['256', 12],
      ['+Inf', 13],
    ]);
    expect(BATCH_SIZE_BUCKETS).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256]);
    expect(sampleValue(f, name, M, `${name}_sum`)).toBe(5 + 6 + 32 + 200 + 300);
    expect(sampleValue(f, name, M, `${name}_count`)).toBe(13);
  });

  it('drops an untracked model version’s series and keeps the others', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.trackModel('mlp', '1', new FakeSource());
    m.trackModel('mlp', '2', new FakeSource(fakeStats({ success: d(2, 10) })));
    m.untrackModel('mlp', '1');
    const f = await scrape(m);
    const all = [...f.values()].flatMap((fam) => fam.samples);
    expect(all.some((s) => s.labels.model === 'mlp' && s.labels.version === '1')).toBe(false);
    expect(sampleValue(f, 'nv_inference_request_success', { model: 'mlp', version: '2' })).toBe(2);
    m.untrackModel('mlp', '2');
    m.untrackModel('never', 'tracked');
    const g = await scrape(m);
    // The families stay declared (HELP and TYPE), with no samples.
    expect(g.get('nv_inference_request_success')!.samples).toEqual([]);
    expect(g.get('tensorgate_request_duration_seconds')!.samples).toEqual([]);
    expect(g.get('tensorgate_batch_size')!.samples).toEqual([]);
  });

  it('replaces the source when a model version is tracked again (a reload)', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.trackModel('mlp', '1', new FakeSource());
    m.trackModel('mlp', '1', new FakeSource(fakeStats({ success: d(1, 1000) })));
    const f = await scrape(m);
    expect(f.get('nv_inference_request_success')!.samples).toEqual([{ name: 'nv_inference_request_success', labels: M, value: 1 }]);
  });

  it('leaves out of a scrape a model whose stats() throws', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.trackModel('broken', '1', {
      stats: () => {
        throw new Error('gone');
      },
    });
    m.trackModel('mlp', '1', new FakeSource());
    const f = await scrape(m);
    expect(f.get('nv_inference_request_success')!.samples.map((s) => s.labels.model)).toEqual(['mlp']);
  });

  it('accepts a Model as a StatsSource', () => {
    const asSource = (model: Model): StatsSource => model;
    expect(asSource).toBeTypeOf('function');
  });
});

describe('HTTP metrics', () => {
  it('counts requests by route, method and status, and observes durations by route', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    const infer = '/v2/models/:model/infer';
    for (let i = 0; i < 1000; i++) m.observeHttp(infer, 'POST', 200, 0.001);
    m.observeHttp(infer, 'POST', 400, 0.000005); // below the first bound
    m.observeHttp(infer, 'POST', 200, 2e-5); // exactly a bound: le is inclusive
    m.observeHttp(infer, 'POST', 503, 20); // beyond the last bound: only +Inf
    m.observeHttp('/v2/health/ready', 'GET', 200, 0.00003);
    const f = await scrape(m);
    const total = 'tensorgate_http_requests_total';
    expect(f.get(total)!.type).toBe('counter');
    expect(sampleValue(f, total, { route: infer, method: 'POST', status: '200' })).toBe(1001);
    expect(sampleValue(f, total, { route: infer, method: 'POST', status: '400' })).toBe(1);
    expect(sampleValue(f, total, { route: infer, method: 'POST', status: '503' })).toBe(1);
    expect(sampleValue(f, total, { route: '/v2/health/ready', method: 'GET', status: '200' })).toBe(1);
    expect(f.get(total)!.samples).toHaveLength(4);

    const name = 'tensorgate_http_request_duration_seconds';
    expect(HTTP_DURATION_BUCKETS).toHaveLength(41);
    expect(HTTP_DURATION_BUCKETS[0]).toBe(1e-5);
    expect(HTTP_DURATION_BUCKETS.at(-1)).toBe(10.4858);
    const lines = buckets(f, name, { route: infer });
    expect(lines.map(([le]) => le)).toEqual([...[...HTTP_DURATION_BUCKETS].map(String), '+Inf']);
    const count = (le: string) => lines.find(([l]) => l === le)![1];
    expect(count('0.00001')).toBe(1);
    expect(count('0.0000141421')).toBe(1);
    expect(count('0.00002')).toBe(2);
    expect(count('0.000905097')).toBe(2);
    expect(count('0.00128')).toBe(1002);
    expect(count('10.4858')).toBe(1002);
    expect(count('+Inf')).toBe(1003);
    expect(sampleValue(f, name, { route: infer }, `${name}_count`)).toBe(1003);
    expect(sampleValue(f, name, { route: infer }, `${name}_sum`)).toBeCloseTo(1 + 0.000005 + 2e-5 + 20, 9);
    expect(sampleValue(f, name, { route: '/v2/health/ready' }, `${name}_count`)).toBe(1);
    // One duration series per route (not per method or status).
    expect(new Set(f.get(name)!.samples.map((s) => s.labels.route))).toEqual(new Set([infer, '/v2/health/ready']));
    expect(f.get(name)!.samples.every((s) => s.labels.method === undefined && s.labels.status === undefined)).toBe(true);
  });

  it('counts a request whose duration is not a usable number without observing it', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    for (const bad of [NaN, -1, Infinity]) m.observeHttp('/r', 'GET', 200, bad);
    m.observeHttp('/r', 'GET', 200, 0);
    const f = await scrape(m);
    expect(sampleValue(f, 'tensorgate_http_requests_total', { route: '/r' })).toBe(4);
    const name = 'tensorgate_http_request_duration_seconds';
    expect(sampleValue(f, name, { route: '/r' }, `${name}_count`)).toBe(1);
    expect(sampleValue(f, name, { route: '/r' }, `${name}_sum`)).toBe(0);
  });

  it('keeps method and status apart for the same route (no key collisions)', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.observeHttp('a|b', 'GET', 200, 0.001);
    m.observeHttp('a', 'b|GET', 200, 0.001);
    m.observeHttp('a', 'GET', 20, 0.001);
    m.observeHttp('a', 'GET', 200, 0.001);
    const f = await scrape(m);
    expect(f.get('tensorgate_http_requests_total')!.samples.map((s) => s.value)).toEqual([1, 1, 1, 1]);
  });

  it('is cleared by Registry.resetMetrics()', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.observeHttp('/r', 'GET', 200, 0.001);
    m.registry.resetMetrics();
    m.observeHttp('/r', 'GET', 200, 0.001);
    const f = await scrape(m);
    expect(sampleValue(f, 'tensorgate_http_requests_total', { route: '/r' })).toBe(1);
  });
});

describe('model repository metrics', () => {
  it('reports the current state of each model version as 1 and the others as 0', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    const states = async () => {
      const f = await scrape(m);
      const out: Record<string, Record<string, number>> = {};
      for (const s of f.get('tensorgate_model_state')!.samples) {
        (out[`${s.labels.model}:${s.labels.version}`] ??= {})[s.labels.state!] = s.value;
      }
      return out;
    };
    m.setModelState('mlp', '1', 'LOADING');
    m.setModelState('tiny', '3', 'LOADING');
    expect(await states()).toEqual({
      'mlp:1': { READY: 0, LOADING: 1, UNAVAILABLE: 0, UNLOADING: 0 },
      'tiny:3': { READY: 0, LOADING: 1, UNAVAILABLE: 0, UNLOADING: 0 },
    });
    m.setModelState('mlp', '1', 'READY');
    m.setModelState('tiny', '3', 'UNAVAILABLE');
    expect(await states()).toEqual({
      'mlp:1': { READY: 1, LOADING: 0, UNAVAILABLE: 0, UNLOADING: 0 },
      'tiny:3': { READY: 0, LOADING: 0, UNAVAILABLE: 1, UNLOADING: 0 },
    });
    m.setModelState('mlp', '1', 'UNLOADING');
    expect((await states())['mlp:1']).toEqual({ READY: 0, LOADING: 0, UNAVAILABLE: 0, UNLOADING: 1 });
    m.setModelState('mlp', '1', 'UNAVAILABLE');
    expect((await states())['mlp:1']).toEqual({ READY: 0, LOADING: 0, UNAVAILABLE: 1, UNLOADING: 0 });
  });

  it('counts load failures, and forgets a model version that left the repository', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.modelLoadFailed('tiny', '3');
    m.modelLoadFailed('tiny', '3');
    m.modelLoadFailed('mlp', '1');
    m.setModelState('tiny', '3', 'UNAVAILABLE');
    m.trackModel('tiny', '3', new FakeSource());
    let f = await scrape(m);
    expect(f.get('tensorgate_model_load_failures_total')!.type).toBe('counter');
    expect(sampleValue(f, 'tensorgate_model_load_failures_total', { model: 'tiny', version: '3' })).toBe(2);
    expect(sampleValue(f, 'tensorgate_model_load_failures_total', { model: 'mlp', version: '1' })).toBe(1);
    m.forgetModel('tiny', '3');
    f = await scrape(m);
    const tiny = [...f.values()].flatMap((fam) => fam.samples).filter((s) => s.labels.model === 'tiny');
    expect(tiny).toEqual([]);
    expect(sampleValue(f, 'tensorgate_model_load_failures_total', { model: 'mlp', version: '1' })).toBe(1);
  });
});

describe('response cache metrics', () => {
  it('counts hits, misses and errors per level, with duration histograms and Triton’s per-model counters', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    // mlp: 3 L1 hits; 2 L1 misses that went on to L2: one L2 hit, one L2 miss. tiny: 1 L1 miss (no L2).
    for (let i = 0; i < 3; i++) m.cacheHit('l1', 'mlp', 2e-6);
    m.cacheMiss('l1', 'mlp', 3e-6, false);
    m.cacheHit('l2', 'mlp', 0.0004);
    m.cacheMiss('l1', 'mlp', 3e-6, false);
    m.cacheMiss('l2', 'mlp', 0.0006);
    m.cacheMiss('l1', 'tiny', 1e-6);
    m.cacheError('l2', 'timeout');
    m.cacheError('l2', 'timeout');
    m.cacheError('l2', 'connection');
    const f = await scrape(m);
    const hits = 'tensorgate_cache_hits_total';
    const misses = 'tensorgate_cache_misses_total';
    expect(sampleValue(f, hits, { level: 'l1', model: 'mlp' })).toBe(3);
    expect(sampleValue(f, hits, { level: 'l2', model: 'mlp' })).toBe(1);
    expect(sampleValue(f, hits, { level: 'l1', model: 'tiny' })).toBe(0);
    expect(sampleValue(f, misses, { level: 'l1', model: 'mlp' })).toBe(2);
    expect(sampleValue(f, misses, { level: 'l2', model: 'mlp' })).toBe(1);
    expect(sampleValue(f, misses, { level: 'l1', model: 'tiny' })).toBe(1);
    const errors = 'tensorgate_cache_errors_total';
    expect(sampleValue(f, errors, { level: 'l2', reason: 'timeout' })).toBe(2);
    expect(sampleValue(f, errors, { level: 'l2', reason: 'connection' })).toBe(1);
    expect(f.get(errors)!.samples).toHaveLength(2);

    expect(sampleValue(f, 'nv_cache_num_hits_per_model', { model: 'mlp' })).toBe(4);
    expect(sampleValue(f, 'nv_cache_num_misses_per_model', { model: 'mlp' })).toBe(1);
    expect(sampleValue(f, 'nv_cache_num_hits_per_model', { model: 'tiny' })).toBe(0);
    expect(sampleValue(f, 'nv_cache_num_misses_per_model', { model: 'tiny' })).toBe(1);
    expect(f.get('nv_cache_num_hits_per_model')!.samples.every((s) => Object.keys(s.labels).join() === 'model')).toBe(true);

    const hit = 'tensorgate_cache_hit_duration_seconds';
    const miss = 'tensorgate_cache_miss_duration_seconds';
    expect(CACHE_DURATION_BUCKETS[0]).toBe(1e-6);
    expect(buckets(f, hit, { level: 'l1' })[0]).toEqual(['0.000001', 0]);
    expect(buckets(f, hit, { level: 'l1' })[2]).toEqual(['0.000002', 3]);
    expect(sampleValue(f, hit, { level: 'l1' }, `${hit}_count`)).toBe(3);
    expect(sampleValue(f, hit, { level: 'l2' }, `${hit}_count`)).toBe(1);
    expect(sampleValue(f, hit, { level: 'l2' }, `${hit}_sum`)).toBe(0.0004);
    expect(sampleValue(f, miss, { level: 'l1' }, `${miss}_count`)).toBe(3);
    expect(buckets(f, miss, { level: 'l1' })[0]).toEqual(['0.000001', 1]);
    expect(sampleValue(f, miss, { level: 'l2' }, `${miss}_count`)).toBe(1);
    expect(f.get(hit)!.samples.every((s) => s.labels.model === undefined)).toBe(true);
  });

  it('declares the cache families with no samples until the cache is used', async () => {
    const f = await scrape(new ServerMetrics({ defaultMetrics: false }));
    for (const name of [
      'tensorgate_cache_hits_total',
      'tensorgate_cache_misses_total',
      'tensorgate_cache_errors_total',
      'tensorgate_cache_hit_duration_seconds',
      'tensorgate_cache_miss_duration_seconds',
      'nv_cache_num_hits_per_model',
      'nv_cache_num_misses_per_model',
    ]) {
      expect(f.get(name)?.samples, name).toEqual([]);
    }
  });
});

describe('exposition', () => {
  it('is valid text format with every family populated, default metrics included', async () => {
    const m = new ServerMetrics();
    const weird = 'we"ird\\name\nx';
    m.trackModel(weird, '1', new FakeSource());
    m.trackModel('mlp', '1', new FakeSource());
    m.observeHttp('/v2/models/:model/infer', 'POST', 200, 0.002);
    m.setModelState(weird, '1', 'READY');
    m.modelLoadFailed(weird, '1');
    m.cacheHit('l1', weird, 1e-5);
    m.cacheMiss('l2', weird, 1e-3);
    m.cacheError('l1', 'oversize');
    await new Promise((r) => setTimeout(r, 30)); // let the event-loop monitor sample
    const { contentType, body } = await m.scrape();
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    const f = parseExposition(body);
    // Label values come back unescaped exactly.
    expect(sampleValue(f, 'nv_inference_request_success', { model: weird, version: '1' })).toBe(30);
    expect(sampleValue(f, 'tensorgate_model_state', { model: weird, state: 'READY' })).toBe(1);
    expect(sampleValue(f, 'nv_cache_num_hits_per_model', { model: weird })).toBe(1);
    // prom-client's process and event-loop metrics.
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(f.has(name), name).toBe(true);
    }
    expect(sampleValue(f, 'nodejs_eventloop_lag_p99_seconds', {})).toBeGreaterThan(0);
    // Every family of the metric table is there, each with samples.
    for (const name of [
      'nv_inference_request_success',
      'nv_inference_request_failure',
      'nv_inference_count',
      'nv_inference_exec_count',
      'nv_inference_pending_request_count',
      'nv_inference_request_duration_us',
      'nv_inference_queue_duration_us',
      'nv_inference_compute_input_duration_us',
      'nv_inference_compute_infer_duration_us',
      'nv_inference_compute_output_duration_us',
      'tensorgate_last_inference_timestamp_seconds',
      'tensorgate_request_duration_seconds',
      'tensorgate_queue_duration_seconds',
      'tensorgate_compute_duration_seconds',
      'tensorgate_batch_size',
      'tensorgate_http_requests_total',
      'tensorgate_http_request_duration_seconds',
      'tensorgate_model_state',
      'tensorgate_model_load_failures_total',
      'tensorgate_cache_hits_total',
      'tensorgate_cache_misses_total',
      'tensorgate_cache_errors_total',
      'tensorgate_cache_hit_duration_seconds',
      'tensorgate_cache_miss_duration_seconds',
      'nv_cache_num_hits_per_model',
      'nv_cache_num_misses_per_model',
    ]) {
      expect(f.get(name)?.samples.length, name).toBeGreaterThan(0);
    }
    // The JSON view works too (prom-client's getMetricsAsJSON over the same families).
    const json = await m.registry.getMetricsAsJSON();
    expect(json.find((x) => x.name === 'nv_inference_count')?.values).toHaveLength(2);
  });

  it('prefixes tensorgate’s own names and never Triton’s', async () => {
    const m = new ServerMetrics({ prefix: 'tg_', defaultMetrics: false });
    m.trackModel('mlp', '1', new FakeSource());
    m.observeHttp('/r', 'GET', 200, 0.001);
    const f = await scrape(m);
    expect(f.has('tg_request_duration_seconds')).toBe(true);
    expect(f.has('tg_http_requests_total')).toBe(true);
    expect(f.has('tensorgate_request_duration_seconds')).toBe(false);
    expect(f.has('nv_inference_request_success')).toBe(true);
    expect([...f.keys()].every((n) => n.startsWith('tg_') || n.startsWith('nv_'))).toBe(true);
    expect(() => new ServerMetrics({ prefix: 'bad-prefix ', defaultMetrics: false })).toThrow(/invalid metric name/);
  });

  it('registers into a given registry, next to the application’s own metrics', async () => {
    const registry = new Registry();
    const m = new ServerMetrics({ registry, defaultMetrics: false });
    expect(m.registry).toBe(registry);
    m.trackModel('mlp', '1', new FakeSource());
    const f = parseExposition(await registry.metrics());
    expect(sampleValue(f, 'nv_inference_count', M)).toBe(40);
    // A second ServerMetrics cannot reuse the names.
    expect(() => new ServerMetrics({ registry, defaultMetrics: false })).toThrow(/already been registered/);
  });
});
