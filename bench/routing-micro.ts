// npm run bench:routing-micro — what a routing decision costs: (a) ns per pick of each kind of
// decision (weighted split, sticky key, canary, bandits), and (b) µs per request through the whole
// in-process inference path (decode, stages, engine, encode: no HTTP) for the tiny model named
// directly, through a route with it as its one target, and through a 95/5 sticky split. Interleaved
// rounds, median and min–max. Env: BENCH_ROUNDS (5), BENCH_PICKS (1,000,000), BENCH_REQUESTS (20,000).
// Prints tables and writes bench/results/routing-micro.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Engine } from '../src/engine/index.js';
import { InferenceService, RequestContext } from '../src/inference/index.js';
import { tinyModel } from '../src/onnx/models.js';
import { ModelRepository } from '../src/repository/repository.js';
import { routingSchema } from '../src/repository/routing-schema.js';
import { RouteRuntime } from '../src/routing/route-runtime.js';
import { MemoryStateStore } from '../src/routing/state-store.js';
import { HTTP_WIRE } from '../src/server/http-wire.js';
import { ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave, spreadText } from './lib/rounds.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PICKS = Number(process.env.BENCH_PICKS ?? 1_000_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const SILENT = { info() {}, warn() {}, error() {} };

const DECISIONS: Record<string, Record<string, unknown>> = {
  'split 95/5': { targets: [{ model: 'a', weight: 95 }, { model: 'b', weight: 5 }] },
  'split 50/30/20': { targets: [{ model: 'a', weight: 50 }, { model: 'b', weight: 30 }, { model: 'c', weight: 20 }] },
  'sticky header, 2 targets': { targets: [{ model: 'a', weight: 95 }, { model: 'b', weight: 5 }], sticky: { header: 'x-user' } },
  'canary at 10 %': { targets: [{ model: 'a' }, { model: 'b' }], canary: { candidate: 'b', steps: [10, 100], interval_s: 3600 } },
  'bandit thompson, 3 arms': { targets: [{ model: 'a' }, { model: 'b' }, { model: 'c' }], bandit: { policy: 'thompson' } },
  'bandit ucb1, 3 arms': { targets: [{ model: 'a' }, { model: 'b' }, { model: 'c' }], bandit: { policy: 'ucb1' } },
};

async function decisions() {
  const routes = new Map<string, RouteRuntime>();
  for (const [name, routing] of Object.entries(DECISIONS)) {
    const route = new RouteRuntime({ name: 'r', spec: routingSchema.parse(routing), dir: tmpdir(), where: 'bench', store: new MemoryStateStore(), leases: () => { throw new Error('no leases'); }, log: SILENT, now: Date.now });
    await route.start();
    const bandit = route.feedback?.bandit;
    if (bandit) for (let i = 0; i < 3; i++) for (let k = 0; k < 100; k++) bandit.reward(i, k % (i + 2) === 0 ? 1 : 0);
    routes.set(name, route);
  }
  const keys = Array.from({ length: 1024 }, (_, i) => ({ 'x-user': `user-${i}` }));
  const ctx = new RequestContext('inproc', HTTP_WIRE, 'r', undefined, Buffer.alloc(0));
  const results = await interleave(ROUNDS, [...routes.keys()], [PICKS], (name, n) => {
    const route = routes.get(name)!;
    const sticky = route.spec.sticky !== undefined;
    for (let i = 0; i < 10_000; i++) route.pick(ctx);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (sticky) ctx.headers = keys[i & 1023];
      route.pick(ctx);
    }
    return { ns_per_pick: ((performance.now() - t0) * 1e6) / n };
  });
  for (const r of routes.values()) await r.close();
  return results.map((r) => ({ decision: r.system, ns_per_pick: r.metrics.ns_per_pick }));
}

async function requests() {
  const work = mkdtempSync(join(tmpdir(), 'tg-routing-micro-'));
  const put = (name: string, config?: object) => {
    mkdirSync(join(work, name, '1'), { recursive: true });
    if (config) writeFileSync(join(work, name, 'config.json'), JSON.stringify(config));
    else writeFileSync(join(work, name, '1', 'model.onnx'), tinyModel());
  };
  put('tiny');
  put('tiny2');
  put('route-one', { platform: 'tensorgate_route', routing: { targets: [{ model: 'tiny' }] } });
  put('route-split', { platform: 'tensorgate_route', routing: { targets: [{ model: 'tiny', weight: 95 }, { model: 'tiny2', weight: 5 }], sticky: { header: 'x-user' } } });
  const engine = Engine.create({ intraOpThreads: 1 });
  const repository = await ModelRepository.open({ root: work, engine, controlMode: 'none', logger: pino({ level: 'warn' }) });
  const service = new InferenceService({ repository });
  const payload = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i) }] }));
  const headers = Array.from({ length: 1024 }, (_, i) => ({ 'x-user': `user-${i}` }));
  const one = async (model: string, i: number) => {
    const ctx = new RequestContext('inproc', HTTP_WIRE, model, undefined, payload);
    ctx.headers = headers[i & 1023];
    await service.infer(ctx);
  };
  const results = await interleave(ROUNDS, ['tiny', 'route-one', 'route-split'], [REQUESTS], async (model, n) => {
    for (let i = 0; i < 500; i++) await one(model, i);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await one(model, i);
    return { us_per_request: ((performance.now() - t0) * 1000) / n };
  });
  await repository.close();
  rmSync(work, { recursive: true, force: true });
  return results.map((r) => ({ model: r.system, us_per_request: r.metrics.us_per_request }));
}

const recorder = machineRecorder(ROOT);
const picks = await decisions();
console.log(table(picks.map((p) => ({ decision: p.decision, 'ns/pick': spreadText(p.ns_per_pick) }))));
const path = await requests();
const direct = path.find((p) => p.model === 'tiny')!.us_per_request.median;
console.log();
console.log(
  table(
    path.map((p) => ({
      model: p.model,
      'µs/request': spreadText(p.us_per_request, (v) => v.toFixed(2)),
      'over direct µs': (p.us_per_request.median - direct).toFixed(2),
    })),
  ),
);
const file = writeResults('routing-micro', { machine: recorder.record(), rounds: ROUNDS, picks: PICKS, requests: REQUESTS, decisions: picks, path });
console.log(`\nwrote ${file}`);
