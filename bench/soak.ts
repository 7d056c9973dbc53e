// npm run soak — hours-in-minutes: `tensorgate serve` (child process, uWS, poll mode, L1 + Redis cache)
// under an open-loop load at a share of its measured capacity, mixing valid requests (mlp, and a
// caching model so both cache levels work) with fuzzed invalid ones, while the mlp model is swapped
// every SOAK_SWAP_SECONDS and Redis is restarted SOAK_REDIS_RESTARTS times. Samples the server's RSS,
// heap, handles and open fds from its /metrics and draws them (bench/results/soak.svg).
//
// Fails when: a valid request gets anything but 200, any request gets a 5xx the server did not mean
// (or no answer at all), or memory grows after warm-up: the least-squares slope over the second half,
// times that half's length, must stay under max(16 MiB, 3 % of the mean) for RSS, max(8 MiB, 10 %)
// for the heap, and 10 for handles and fds (stated noise bounds: allocator, JIT and GC on a shared
// machine). Env: SOAK_SECONDS (600), SOAK_LOAD (0.5 of capacity), SOAK_SWAP_SECONDS (60),
// SOAK_REDIS_RESTARTS (2), SOAK_SAMPLE_SECONDS (2), SOAK_CAPACITY_SECONDS (5), SOAK_INVALID (0.2).
// Writes bench/results/soak.json and soak.svg; exits 1 on failure.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { mlpModel, tinyModel } from '../src/onnx/models.js';
import { putConfig, putModel } from '../test/helpers/fixtures.js';
import { jsonBody } from '../test/helpers/fuzz-corpus.js';
import { RedisServer, redisServerAvailable } from '../test/helpers/redis-server.js';
import { RESULTS_DIR, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { freePort, sampleProcess, startServer, type ProcessSample } from './lib/server-process.js';
import { lineChart, linearFit, type Marker } from './lib/svg-chart.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const LOAD = Number(process.env.SOAK_LOAD ?? 0.5);
const SWAP_SECONDS = Number(process.env.SOAK_SWAP_SECONDS ?? 60);
const REDIS_RESTARTS = Number(process.env.SOAK_REDIS_RESTARTS ?? 2);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 2);
const CAPACITY_SECONDS = Number(process.env.SOAK_CAPACITY_SECONDS ?? 5);
const INVALID = Number(process.env.SOAK_INVALID ?? 0.2);
/** The client's in-flight cap, as in the capacity measurement (64 connections): requests past it are counted as skipped. */
const MAX_INFLIGHT = 64;
const MiB = 1024 * 1024;

type Kind = 'mlp' | 'cached' | 'invalid';

interface Outcome {
  ok: number;
  refused503: number;
  clientError: number;
  unexpected: number;
  dropped: number;
}

const mlpRow = (seed: number) => Array.from({ length: 256 }, (_, i) => Math.round(Math.sin(i + seed) * 1000) / 1000);
const bodyOf = (model: string, data: number[]) => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, data.length], data }] }));

/** A pool of request bodies: valid mlp rows, a small set of tiny rows (cache hits and misses), fuzzed ones. */
function requestPool(): Record<Kind, Buffer[]> {
  return {
    mlp: Array.from({ length: 64 }, (_, k) => bodyOf('mlp', mlpRow(k))),
    cached: Array.from({ length: 32 }, (_, k) => bodyOf('cached', Array.from({ length: 16 }, (_, i) => (k * 16 + i) % 7))),
    invalid: fc.sample(jsonBody, { numRuns: 500, seed: 5 }).map((b) => b.body),
  };
}

function send(agent: Agent, port: number, model: string, body: Buffer): Promise<{ status: number; text: string } | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v2/models/${model}/infer`, agent, headers: { 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: res.statusCode === 200 ? '' : Buffer.concat(chunks).toString().slice(0, 200) }));
      res.on('error', () => resolve(undefined));
    });
    req.on('error', () => resolve(undefined));
    req.end(body);
  });
}

/** Closed-loop throughput of the valid mix at 64 connections: the capacity the load is a share of. */
async function capacity(port: number, pool: Record<Kind, Buffer[]>): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let done = 0;
  const end = performance.now() + CAPACITY_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: 64 }, async (_, c) => {
      for (let k = c; performance.now() < end; k += 64) {
        const r = await send(agent, port, k % 4 === 0 ? 'cached' : 'mlp', k % 4 === 0 ? pool.cached[k % pool.cached.length]! : pool.mlp[k % pool.mlp.length]!);
        if (r?.status === 200) done++;
      }
    }),
  );
  agent.destroy();
  return done / CAPACITY_SECONDS;
}

async function main(): Promise<void> {
  const recorder = machineRecorder(ROOT);
  if (!redisServerAvailable()) throw new Error('redis-server is not installed (Debian: apt-get install redis-server)');
  const redis = await RedisServer.start();
  const root = join(mkdtempSync(join(tmpdir(), 'tg-soak-')), 'models');
  putModel(root, 'mlp', 1, mlpModel({ seed: 1 }));
  putModel(root, 'cached', 1, tinyModel());
  putConfig(root, 'cached', { response_cache: { enable: true, ttl_s: 30 } });
  const httpPort = await freePort();
  const server = await startServer(
    [
      '--model-repository',
      root,
      '--http-engine',
      'uws',
      '--model-control-mode',
      'poll',
      '--repository-poll-secs',
      '1',
      '--cache',
      'local,size=16MiB',
      '--cache',
      `redis,url=redis://127.0.0.1:${redis.port},timeout_ms=50,retry_ms=500`,
    ],
    httpPort,
    0,
  );
  const pool = requestPool();
  const outcomes: Record<Kind, Outcome> = {
    mlp: { ok: 0, refused503: 0, clientError: 0, unexpected: 0, dropped: 0 },
    cached: { ok: 0, refused503: 0, clientError: 0, unexpected: 0, dropped: 0 },
    invalid: { ok: 0, refused503: 0, clientError: 0, unexpected: 0, dropped: 0 },
  };
  const examples: string[] = [];
  const samples: ProcessSample[] = [];
  const markers: Marker[] = [];
  let skipped = 0;
  let sent = 0;
  try {
    const peak = await capacity(httpPort, pool);
    const rate = Math.max(1, peak * LOAD);
    process.stdout.write(`capacity ${peak.toFixed(0)} req/s; soaking at ${rate.toFixed(0)} req/s for ${SECONDS} s\n`);
    const agent = new Agent({ keepAlive: true, maxSockets: MAX_INFLIGHT });
    const t0 = performance.now();
    const elapsed = () => (performance.now() - t0) / 1000;
    let inflight = 0;
    let credit = 0;
    let last = performance.now();
    let k = 0;
    const pending = new Set<Promise<void>>();
    const fire = (): void => {
      const roll = (k * 0.618034) % 1; // deterministic mix
      const kind: Kind = roll < INVALID ? 'invalid' : roll < INVALID + (1 - INVALID) / 4 ? 'cached' : 'mlp';
      const list = pool[kind];
      const body = list[k % list.length]!;
      const model = kind === 'invalid' ? (k % 2 === 0 ? 'mlp' : 'cached') : kind;
      k++;
      sent++;
      inflight++;
      const p = send(agent, httpPort, model, body).then((r) => {
        inflight--;
        const o = outcomes[kind];
        if (r === undefined) {
          o.dropped++;
          if (examples.length < 20) examples.push(`${kind}: no answer`);
        } else if (r.status === 200) {
          o.ok++;
        } else if (r.status >= 400 && r.status < 500 && kind === 'invalid') {
          o.clientError++;
        } else {
          if (r.status === 503) o.refused503++;
          else o.unexpected++;
          if (examples.length < 20) examples.push(`${kind} at ${elapsed().toFixed(1)} s: ${r.status} ${r.text}`);
        }
      });
      pending.add(p);
      void p.finally(() => pending.delete(p));
    };
    const pacer = setInterval(() => {
      const now = performance.now();
      credit += ((now - last) / 1000) * rate;
      last = now;
      while (credit >= 1) {
        credit--;
        if (inflight >= MAX_INFLIGHT) skipped++;
        else fire();
      }
    }, 5);
    const sampler = setInterval(() => {
      void sampleProcess(httpPort, t0).then((s) => samples.push(s), () => undefined);
    }, SAMPLE_SECONDS * 1000);
    const restarts = Array.from({ length: REDIS_RESTARTS }, (_, i) => ((i + 1) * SECONDS) / (REDIS_RESTARTS + 1));
    let swaps = 0;
    while (elapsed() < SECONDS) {
      await new Promise((r) => setTimeout(r, 250));
      const t = elapsed();
      if (t >= (swaps + 1) * SWAP_SECONDS && t < SECONDS - 1) {
        swaps++;
        putModel(root, 'mlp', 1, mlpModel({ seed: 1 + (swaps % 2) }));
        markers.push({ t, label: `swap ${swaps}` });
      }
      if (restarts.length > 0 && t >= restarts[0]!) {
        restarts.shift();
        markers.push({ t, label: 'redis restart' });
        await redis.stop();
        await new Promise((r) => setTimeout(r, 2000));
        await redis.restart();
      }
    }
    clearInterval(pacer);
    await Promise.all(pending);
    clearInterval(sampler);
    samples.push(await sampleProcess(httpPort, t0));
    agent.destroy();

    // The verdict.
    const half = samples.filter((s) => s.t >= SECONDS / 2);
    const span = SECONDS / 2;
    const series = {
      rss: half.map((s): [number, number] => [s.t, s.rssBytes]),
      heap: half.map((s): [number, number] => [s.t, s.heapUsedBytes]),
      handles: half.map((s): [number, number] => [s.t, s.handles]),
      fds: half.map((s): [number, number] => [s.t, s.fds]),
    };
    const mean = (pts: Array<[number, number]>) => pts.reduce((n, [, v]) => n + v, 0) / Math.max(1, pts.length);
    const growth = Object.fromEntries(Object.entries(series).map(([name, pts]) => [name, linearFit(pts).slope * span])) as Record<keyof typeof series, number>;
    const bounds = {
      rss: Math.max(16 * MiB, 0.03 * mean(series.rss)),
      heap: Math.max(8 * MiB, 0.1 * mean(series.heap)),
      handles: 10,
      fds: 10,
    };
    const failures: string[] = [];
    for (const name of Object.keys(bounds) as Array<keyof typeof bounds>) {
      if (growth[name] > bounds[name]) failures.push(`${name} grew ${growth[name].toFixed(0)} over the second half (bound ${bounds[name].toFixed(0)})`);
    }
    for (const [kind, o] of Object.entries(outcomes)) {
      if (o.dropped + o.unexpected + o.refused503 > 0) failures.push(`${kind}: ${o.dropped} unanswered, ${o.unexpected} unexpected statuses, ${o.refused503} refused (503)`);
    }
    if (server.child.exitCode !== null) failures.push('the server died');

    const fitOf = (pts: Array<[number, number]>, scale: number) => {
      const f = linearFit(pts);
      return { from: span, to: SECONDS, slope: f.slope / scale, intercept: f.intercept / scale };
    };
    const svg = lineChart(
      `tensorgate soak: ${SECONDS} s at ${(LOAD * 100).toFixed(0)} % of ${peak.toFixed(0)} req/s (orange: fit over the second half)`,
      [
        { title: 'RSS', unit: 'MiB', points: samples.map((s) => [s.t, s.rssBytes / MiB]), fit: fitOf(series.rss, MiB) },
        { title: 'JS heap used', unit: 'MiB', points: samples.map((s) => [s.t, s.heapUsedBytes / MiB]), fit: fitOf(series.heap, MiB) },
        { title: 'active handles', unit: 'count', points: samples.map((s) => [s.t, s.handles]), fit: fitOf(series.handles, 1) },
        { title: 'open fds', unit: 'count', points: samples.map((s) => [s.t, s.fds]), fit: fitOf(series.fds, 1) },
      ],
      markers,
      SECONDS,
    );
    const svgPath = join(RESULTS_DIR, 'soak.svg');
    writeFileSync(svgPath, svg);
    const rows = (Object.keys(outcomes) as Kind[]).map((kind) => ({ kind, ...outcomes[kind] }));
    process.stdout.write(`${table(rows)}\n`);
    process.stdout.write(
      `${table([
        {
          'rss growth MiB': growth.rss / MiB,
          'bound MiB': bounds.rss / MiB,
          'heap growth MiB': growth.heap / MiB,
          'heap bound MiB': bounds.heap / MiB,
          'handles growth': growth.handles,
          'fds growth': growth.fds,
          sent,
          'skipped (client at cap)': skipped,
          verdict: failures.length === 0 ? 'pass' : 'FAIL',
        },
      ])}\n`,
    );
    for (const f of failures) process.stdout.write(`FAIL: ${f}\n`);
    for (const e of examples) process.stdout.write(`  ${e}\n`);
    const path = writeResults('soak', {
      machine: recorder.record(),
      settings: { SECONDS, LOAD, SWAP_SECONDS, REDIS_RESTARTS, SAMPLE_SECONDS, INVALID, capacityRps: peak, rateRps: rate },
      outcomes,
      sent,
      skipped,
      growth,
      bounds,
      failures,
      examples,
      markers,
      samples,
    });
    process.stdout.write(`wrote ${path} and ${svgPath}\n`);
    if (failures.length > 0) process.exitCode = 1;
  } finally {
    await server.stop();
    await redis.stop().catch(() => undefined);
  }
}

await main();
