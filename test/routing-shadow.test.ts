// Shadow traffic: mirrored requests never change the client's response (byte-identical bodies with
// and without shadows), status or latency (a shadow that errors or hangs adds no client error and no
// client latency beyond noise); the comparison with the primary per output (exact matches, max
// absolute/relative difference, argmax agreement, latency difference) in the report and metrics; the
// sampled JSONL log of mismatches; the bounded queue that drops (and counts) shadow work under load.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './helpers/fixtures.js';
import { get, post, serve, type TestServer, DEFAULT_ENGINE } from './helpers/http-server.js';
import { inferBody, routingRepo, WIDTH, type RoutingRepo } from './helpers/routing-kit.js';

/** A model whose requests wait in its queue ~10 s (dynamic batching waiting for a batch of 64): a hung shadow that costs no CPU. */
const HANGING = { max_batch_size: 64, dynamic_batching: { preferred_batch_size: [64], max_queue_delay_microseconds: 10_000_000 } };

const binaryRequest = (values: number[]) => {
  const header = JSON.stringify({ inputs: [{ name: 'x', shape: [1, WIDTH], datatype: 'FP32', parameters: { binary_data_size: 4 * WIDTH } }], outputs: [{ name: 'y', parameters: { binary_data: true } }] });
  return { body: Buffer.concat([Buffer.from(header), Buffer.from(new Float32Array(values).buffer)]), headers: { 'inference-header-content-length': header.length } };
};

describe('responses are byte-identical with and without shadows', () => {
  const bodies = async (withShadow: boolean): Promise<Buffer[]> => {
    const shadow = withShadow ? { shadow: { targets: [{ model: 'b' }, { model: 'broken' }], percent: 100 } } : {};
    const repo = routingRepo({ a: 1, b: 7, broken: { offset: 0, failAbove: -1 } }, { r: { targets: [{ model: 'a' }], ...shadow } });
    const server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root });
    try {
      const out: Buffer[] = [];
      for (let i = 0; i < 30; i++) {
        const json = await post(server.port, '/v2/models/r/infer', inferBody([i, i / 3, -i, 0.5], { id: `r${i}` }));
        expect(json.status).toBe(200);
        out.push(Buffer.concat([Buffer.from(JSON.stringify(json.headers['content-type'])), json.body]));
        const bin = binaryRequest([i, 2, 3, 4]);
        const res = await post(server.port, '/v2/models/r/infer', bin.body, bin.headers);
        expect(res.status).toBe(200);
        out.push(Buffer.concat([Buffer.from(String(res.headers['inference-header-content-length'])), res.body]));
      }
      if (withShadow) {
        await server.running.routing.route('r')!.shadow!.idle();
        const report = (await get(server.port, '/v2/models/r/routing')).json();
        expect(report.shadow.targets.map((t: { outcomes: { compared: number; error: number } }) => [t.outcomes.compared, t.outcomes.error])).toEqual([
          [60, 0],
          [0, 60],
        ]);
      }
      return out;
    } finally {
      await server.stop();
      repo.cleanup();
    }
  };

  it('JSON and binary replies, 60 requests', async () => {
    const without = await bodies(false);
    const withShadows = await bodies(true);
    expect(withShadows.length).toBe(without.length);
    withShadows.forEach((b, i) => expect(b.equals(without[i]!), `reply ${i}`).toBe(true));
  });
});

describe('shadows on a live server', () => {
  let repo: RoutingRepo;
  let server: TestServer;

  beforeAll(async () => {
    repo = routingRepo(
      { a: 1, twin: 1, off: 1.5, broken: { offset: 0, failAbove: -1 }, hung: 0, hung2: 0 },
      {
        plain: { targets: [{ model: 'a' }] },
        erring: { targets: [{ model: 'a' }], shadow: { targets: [{ model: 'broken' }] } },
        hanging: { targets: [{ model: 'a' }], shadow: { targets: [{ model: 'hung' }], timeout_ms: 50, concurrency: 2, queue_size: 8 } },
        compared: { targets: [{ model: 'a' }], shadow: { targets: [{ model: 'twin' }, { model: 'off' }], mismatch_log: { path: 'mismatches.jsonl', sample: 1, max_elements: 2 } } },
        bounded: { targets: [{ model: 'a' }], shadow: { targets: [{ model: 'hung2' }], timeout_ms: 300, concurrency: 1, queue_size: 2 } },
      },
      { hung: HANGING, hung2: HANGING },
    );
    // A hung model whose queued requests were aborted still unloads only when its 10 s batch delay
    // ends (the native scheduler's timed wait): bound the shutdown so the test does not wait for it.
    server = await serve(DEFAULT_ENGINE, { modelRepository: repo.root, shutdownTimeout: 1 });
  });
  afterAll(async () => {
    await server?.stop();
    repo?.cleanup();
  });

  it('a shadow that errors or hangs adds no client error and no client latency beyond noise', async () => {
    const latencies: Record<string, number[]> = { plain: [], erring: [], hanging: [] };
    for (let i = 0; i < 150; i++) {
      for (const route of ['plain', 'erring', 'hanging']) {
        const t0 = performance.now();
        const res = await post(server.port, `/v2/models/${route}/infer`, inferBody(i));
        latencies[route]!.push(performance.now() - t0);
        expect(res.status, res.text()).toBe(200);
        expect(res.json().model_name).toBe('a');
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const base = median(latencies.plain!);
    // Noise bound: interleaved, same server; a shadow's work is after the reply, so medians stay close.
    expect(median(latencies.erring!)).toBeLessThan(base * 1.5 + 0.5);
    expect(median(latencies.hanging!)).toBeLessThan(base * 1.5 + 0.5);
    const runtime = server.running.routing;
    await runtime.route('erring')!.shadow!.idle();
    await runtime.route('hanging')!.shadow!.idle();
    const erring = runtime.route('erring')!.shadow!.stats[0]!.outcomes;
    expect(erring.get('error')).toBe(150);
    const hanging = runtime.route('hanging')!.shadow!.stats[0]!.outcomes;
    expect(hanging.get('timeout')! + hanging.get('dropped')!).toBe(150);
    expect(hanging.get('timeout')).toBeGreaterThan(0);
    const metrics = (await get(server.port, '/metrics')).text();
    expect(metrics).toContain('tensorgate_route_shadow_requests_total{route="erring",target="broken",outcome="error"} 150');
  });

  it('compares every output with the primary: exact matches, differences, argmax agreement, latency; logs sampled mismatches', async () => {
    for (let i = 0; i < 20; i++) expect((await post(server.port, '/v2/models/compared/infer', inferBody([i, i + 1, i + 2, i + 3], { id: `c${i}` }))).status).toBe(200);
    const route = server.running.routing.route('compared')!;
    await until(() => route.shadow!.stats.every((s) => s.outcomes.get('compared') === 20), 'shadows compared');
    const report = (await get(server.port, '/v2/models/compared/routing')).json().shadow.targets;
    expect(report[0]).toMatchObject({ id: 'twin', outcomes: { compared: 20 }, outputs: { y: { compared: 20, exact_match_rate: 1, argmax_agreement: 1, max_abs_diff: 0 } } });
    expect(report[1]).toMatchObject({ id: 'off', outputs: { y: { compared: 20, exact_match_rate: 0, argmax_agreement: 1, max_abs_diff: 0.5 } } });
    expect(report[1].outputs.y.max_rel_diff).toBeCloseTo(0.5 / 1.5, 5); // largest where |y| is smallest: 1 vs 1.5 at x = 0
    expect(typeof report[1].mean_latency_delta_ms).toBe('number');
    const metrics = (await get(server.port, '/metrics')).text();
    expect(metrics).toContain('tensorgate_route_shadow_exact_matches_total{route="compared",target="twin",output="y"} 20');
    expect(metrics).toContain('tensorgate_route_shadow_max_abs_diff{route="compared",target="off",output="y"} 0.5');
    expect(metrics).toContain('tensorgate_route_shadow_argmax_agreements_total{route="compared",target="off",output="y"} 20');
    await until(() => {
      try {
        return readFileSync(join(repo.root, 'compared', 'mismatches.jsonl'), 'utf8').trim().split('\n').length === 20;
      } catch {
        return false;
      }
    }, 'the mismatch log');
    const lines = readFileSync(join(repo.root, 'compared', 'mismatches.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.every((l) => l.shadow_target === 'off' && l.primary_target === 'a')).toBe(true);
    const first = lines.find((l) => l.id === 'c0');
    expect(first.mismatches).toEqual([{ output: 'y', max_abs_diff: 0.5, primary: [1, 2], shadow: [1.5, 2.5] }]);
  });

  it('a full shadow queue drops (and counts) shadow work; clients are unaffected', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => post(server.port, '/v2/models/bounded/infer', inferBody(i))));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const stats = server.running.routing.route('bounded')!.shadow!.stats[0]!.outcomes;
    expect(stats.get('dropped')).toBeGreaterThan(0);
  });
});
