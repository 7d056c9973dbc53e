// npm run example:recommender — the case study end to end: serves the recommender (a JavaScript
// feature step -> the transformer encoder -> a JavaScript top-k step, as an ensemble; a tree-ensemble
// fallback; with the route backend, a fallback chain ending in a static popular-items answer and a
// canary between two encoder versions), replays a realistic load against it (Zipf users, bursts, a
// version rollout and a primary failure in the middle), prints availability, P50/P90/P99/P999 and which
// level answered, and draws latency over time.
//
// Environment: RECOMMENDER_SECONDS (30), RECOMMENDER_RATE (base req/s, 300), RECOMMENDER_CLIENTS
// (connections, 64), RECOMMENDER_WARMUP (requests sent first and not counted, 200),
// RECOMMENDER_OUT (results directory, examples/recommender/results).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveOptionsSchema } from '../../src/cli/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { latencyChart, type Marker, type Sample } from './chart.js';
import { Population, rateAt, requestBody } from './load.js';
import { canaryConfig, EXAMPLE_DIR, prepareRepository, routeBackendPresent } from './setup.js';

const SECONDS = Number(process.env.RECOMMENDER_SECONDS ?? 30);
const RATE = Number(process.env.RECOMMENDER_RATE ?? 300);
const CLIENTS = Number(process.env.RECOMMENDER_CLIENTS ?? 64);
const WARMUP = Number(process.env.RECOMMENDER_WARMUP ?? 200);
const OUT = process.env.RECOMMENDER_OUT ?? join(EXAMPLE_DIR, 'results');
const BURSTS = { every: 8, length: 2, factor: 3 };
const EVENTS = { rollout: 0.35, failure: 0.6, recovery: 0.8 };

interface Plan {
  routes: boolean;
  target: string;
  load: string[];
  rollout(server: RunningServer): Promise<string>;
  fail(server: RunningServer): Promise<string>;
  recover(server: RunningServer): Promise<string>;
}

async function control(server: RunningServer, action: 'load' | 'unload', name: string, config?: Record<string, unknown>): Promise<void> {
  if (action === 'unload') return server.control.unload(name);
  return server.control.load(name, config ? JSON.stringify(config) : undefined);
}

/** The encoder's config as on disk, with another version policy. */
const encoderConfig = (policy: Record<string, unknown>): Record<string, unknown> => ({
  max_batch_size: 8,
  input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [-1, 64] }],
  output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [-1, 64] }],
  dynamic_batching: { max_queue_delay_microseconds: 200 },
  version_policy: policy,
  parameters: { intra_op_thread_count: { string_value: '1' } },
});

function plan(routes: boolean): Plan {
  const base = ['features', 'topk', 'trees', 'topk_trees', 'recommender_fallback'];
  if (routes) {
    return {
      routes,
      target: 'recommend',
      load: [...base, 'encoder', 'recommender_v1', 'recommender_v2', 'recommend'],
      rollout: async (s) => {
        await control(s, 'load', 'recommend', canaryConfig());
        return 'canary recommender_v1 -> recommender_v2 started (5 % steps every 0.5 s)';
      },
      fail: async (s) => {
        await control(s, 'unload', 'encoder');
        return 'encoder unloaded: both primaries fail, the fallback chain answers';
      },
      recover: async (s) => {
        await control(s, 'load', 'encoder');
        return 'encoder back';
      },
    };
  }
  return {
    routes,
    target: 'recommender',
    load: [...base, 'encoder', 'recommender'],
    rollout: async (s) => {
      await control(s, 'load', 'encoder', encoderConfig({ latest: { num_versions: 1 } }));
      return 'encoder v2 rolled out (swap)';
    },
    fail: async (s) => {
      await control(s, 'unload', 'encoder');
      return 'encoder unloaded: no fallback chain without routes';
    },
    recover: async (s) => {
      await control(s, 'load', 'encoder', encoderConfig({ latest: { num_versions: 1 } }));
      return 'encoder back';
    },
  };
}

/** Which level answered: the route's tensorgate-target header names the target (or 'static'). */
function levelOf(status: number, headers: Record<string, unknown>, body: string): string {
  if (status !== 200) return 'failed';
  const target = headers['tensorgate-target'];
  if (typeof target === 'string') {
    if (target === 'recommender_v1') return 'primary (encoder v1)';
    if (target === 'recommender_v2') return 'canary (encoder v2)';
    if (target === 'recommender_fallback') return 'fallback (trees)';
    if (target === 'static') return 'static (popular items)';
    return target;
  }
  return (JSON.parse(body) as { model_name: string }).model_name;
}

function percentile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : NaN;
}

async function main(): Promise<void> {
  const support = routeBackendPresent();
  if (!support.present) {
    console.log(
      'The route backend is not in this build (its configs do not parse: ' +
        `${support.reason.slice(0, 160)}).\nServing WITHOUT the fallback chain, the static answer and the canary: ` +
        "requests go to the 'recommender' ensemble; the rollout is a version swap, and the primary failure will fail requests.\n",
    );
  }
  const p = plan(support.present);
  const dir = mkdtempSync(join(tmpdir(), 'tg-recommender-'));
  const { repository } = prepareRepository(dir, { routes: p.routes });
  const options = serveOptionsSchema.parse({
    modelRepository: repository,
    httpPort: 0,
    logLevel: 'warn',
    modelControlMode: 'explicit',
    cache: ['local,size=64MiB'],
  });
  const server = await startServer(options);
  try {
    // Without routes the encoder starts on version 1 only; the rollout moves it to version 2.
    for (const name of p.load) await control(server, 'load', name, name === 'encoder' && !p.routes ? encoderConfig({ specific: { versions: [1] } }) : undefined);
    await warmUp(server.port, p.target);
    console.log(`serving ${p.target} on port ${server.port}; replaying ${SECONDS} s at ${RATE} req/s (bursts x${BURSTS.factor}), ${CLIENTS} connections`);
    const result = await replay(server, p);
    if (p.routes) result.route = await routeState(server.port);
    report(result, p);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Requests before the replay, not counted: code compiled, pools and arenas grown. */
async function warmUp(port: number, target: string): Promise<void> {
  const population = new Population(1000, 7);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const body = requestBody(population.next());
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v2/models/${target}/infer`, agent, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => resolve());
      req.end(body);
    });
  for (let i = 0; i < WARMUP; i += 8) await Promise.all(Array.from({ length: Math.min(8, WARMUP - i) }, one));
  agent.destroy();
}

/** The route's own account (GET /v2/models/recommend/routing): the canary's state, each level's answers. */
async function routeState(port: number): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    request({ host: '127.0.0.1', port, path: '/v2/models/recommend/routing' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
        } catch {
          resolve(undefined);
        }
      });
    })
      .on('error', () => resolve(undefined))
      .end();
  });
}

interface Result {
  route?: Record<string, unknown> | undefined;
  /** Failure messages, counted. */
  errors: Map<string, number>;
  samples: Sample[];
  markers: Marker[];
  queued: number[];
}

async function replay(server: RunningServer, p: Plan): Promise<Result> {
  const port = server.port;
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const population = new Population(100_000, 42);
  const samples: Sample[] = [];
  const errors = new Map<string, number>();
  const failed = (message: string): void => void errors.set(message, (errors.get(message) ?? 0) + 1);
  const queued: number[] = [];
  const markers: Marker[] = [];
  const start = performance.now();
  const now = () => (performance.now() - start) / 1000;
  let inflight = 0;
  const waiting: Array<() => void> = [];
  const send = (scheduled: number): Promise<void> => {
    const asked = population.next();
    const user = asked.user;
    const body = requestBody(asked);
    return new Promise((resolve) => {
      const go = (): void => {
        inflight++;
        const sent = performance.now();
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: `/v2/models/${p.target}/infer`, agent, headers: { 'content-length': Buffer.byteLength(body), 'x-user-id': String(user) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const ms = performance.now() - sent;
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            if (status !== 200) failed(`${status} ${text.replace(/\d+(\.\d+)? ?(ms|s)\b/g, 'N ms').slice(0, 200)}`);
            samples.push({ t: (sent - start) / 1000, ms, level: levelOf(status, res.headers, text), ok: status === 200 });
            queued.push(performance.now() - scheduled);
            done();
          });
        });
        req.on('error', (err) => {
          failed(err.message);
          samples.push({ t: (sent - start) / 1000, ms: performance.now() - sent, level: 'failed', ok: false });
          done();
        });
        req.end(body);
      };
      const done = (): void => {
        inflight--;
        waiting.shift()?.();
        resolve();
      };
      if (inflight < CLIENTS) go();
      else waiting.push(go);
    });
  };
  const events: Array<[number, keyof typeof EVENTS]> = (Object.entries(EVENTS) as Array<[keyof typeof EVENTS, number]>).map(([k, f]) => [f * SECONDS, k]);
  const pending: Array<Promise<unknown>> = [];
  let next = 0;
  const rng = Math.random;
  while (now() < SECONDS) {
    const t = now();
    while (events.length && events[0]![0] <= t) {
      const [at, kind] = events.shift()!;
      const action = kind === 'rollout' ? p.rollout : kind === 'failure' ? p.fail : p.recover;
      pending.push(action(server).then((label) => markers.push({ t: at, label: `${kind}: ${label}` })).catch((err: Error) => markers.push({ t: at, label: `${kind} failed: ${err.message}` })));
    }
    // Poisson arrivals at the current rate, launched every few milliseconds.
    while (next <= t) {
      pending.push(send(start + next * 1000));
      next += -Math.log(1 - rng()) / rateAt(next, RATE, BURSTS);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(pending);
  agent.destroy();
  return { errors, samples, markers, queued };
}

function report(r: Result, p: Plan): void {
  const total = r.samples.length;
  const ok = r.samples.filter((s) => s.ok);
  const lat = ok.map((s) => s.ms).sort((a, b) => a - b);
  const fromArrival = [...r.queued].sort((a, b) => a - b);
  const byLevel = new Map<string, number>();
  for (const s of r.samples) byLevel.set(s.level, (byLevel.get(s.level) ?? 0) + 1);
  const phases: Array<[string, number, number]> = [
    ['before the rollout', 0, EVENTS.rollout],
    ['rollout', EVENTS.rollout, EVENTS.failure],
    ['primary failure', EVENTS.failure, EVENTS.recovery],
    ['recovered', EVENTS.recovery, 1],
  ];
  const summary = {
    routes: p.routes,
    target: p.target,
    seconds: SECONDS,
    rate: RATE,
    clients: CLIENTS,
    requests: total,
    availability: total ? ok.length / total : NaN,
    latency_ms: { p50: percentile(lat, 0.5), p90: percentile(lat, 0.9), p99: percentile(lat, 0.99), p999: percentile(lat, 0.999) },
    from_arrival_ms: { p50: percentile(fromArrival, 0.5), p99: percentile(fromArrival, 0.99) },
    levels: Object.fromEntries(byLevel),
    phases: phases.map(([name, a, b]) => {
      const inPhase = r.samples.filter((s) => s.t >= a * SECONDS && s.t < b * SECONDS);
      const good = inPhase.filter((s) => s.ok).map((s) => s.ms).sort((x, y) => x - y);
      return { name, requests: inPhase.length, availability: inPhase.length ? good.length / inPhase.length : NaN, p99_ms: percentile(good, 0.99) };
    }),
    events: r.markers,
    failures: Object.fromEntries(r.errors),
    route: r.route,
  };
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');
  console.log(`\n${total} requests in ${SECONDS} s; availability ${(summary.availability * 100).toFixed(3)} %`);
  console.log(`latency (send to answer): P50 ${f(summary.latency_ms.p50)} ms  P90 ${f(summary.latency_ms.p90)} ms  P99 ${f(summary.latency_ms.p99)} ms  P999 ${f(summary.latency_ms.p999)} ms`);
  console.log(`from scheduled arrival (includes waiting for one of ${CLIENTS} connections): P50 ${f(summary.from_arrival_ms.p50)} ms  P99 ${f(summary.from_arrival_ms.p99)} ms`);
  console.log('answered by:');
  for (const [level, n] of [...byLevel].sort((a, b) => b[1] - a[1])) console.log(`  ${level.padEnd(24)} ${String(n).padStart(7)}  ${((n / total) * 100).toFixed(2)} %`);
  console.log('by phase:');
  for (const ph of summary.phases) console.log(`  ${ph.name.padEnd(20)} ${String(ph.requests).padStart(7)} requests  availability ${(ph.availability * 100).toFixed(3)} %  P99 ${f(ph.p99_ms)} ms`);
  for (const m of r.markers) console.log(`  at ${m.t.toFixed(1)} s: ${m.label}`);
  if (r.errors.size > 0) {
    console.log('failures, most frequent first:');
    for (const [message, n] of [...r.errors].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`  ${String(n).padStart(6)}  ${message}`);
  }
  if (!p.routes) console.log('\nWithout the route backend nothing answers while the primary is down; with it, the fallback chain does (see README.md).');
  else if (r.route) {
    const canary = r.route.canary as { status: string; step: number; weight_percent: number } | undefined;
    const levels = (r.route.fallback as { levels: Array<{ target: string; answered: number; breaker?: string }> } | undefined)?.levels ?? [];
    if (canary) console.log(`\ncanary (route 'recommend'): ${canary.status}, step ${canary.step}, candidate at ${canary.weight_percent} %`);
    console.log(`fallback chain: ${levels.map((l) => `${l.target} ${l.answered}${l.breaker ? ` (breaker ${l.breaker})` : ''}`).join(', ')}`);
  }
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'recommender.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const title = `recommender: ${total} requests, availability ${(summary.availability * 100).toFixed(2)} %, P99 ${f(summary.latency_ms.p99)} ms${p.routes ? '' : ' (no route backend)'}`;
  writeFileSync(join(OUT, 'recommender-latency.svg'), latencyChart(r.samples, r.markers, title, SECONDS));
  console.log(`\nwrote ${join(OUT, 'recommender.json')} and ${join(OUT, 'recommender-latency.svg')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
