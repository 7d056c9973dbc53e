// npm run sim:traffic — traffic management on real loaded models, in-process (the inference service
// every front uses, no HTTP), drawn as pictures:
//   canary-good.svg   a healthy candidate promoted step by step (5, 10, 25, 50, 100 %)
//   canary-bad.svg    a candidate that starts failing when the traffic shifts to inputs it cannot
//                     take: rolled back at the next check (the rollback marked)
//   bandit-regret.svg cumulative regret of each bandit policy over 10,000 requests to three models
//                     whose (simulated) reward rates are 0.05 / 0.10 / 0.15, rewards sent by request
//                     id in delayed batches of 100; a uniform random split for reference
// Writes the SVGs to docs/traffic/ and the figures to bench/results/traffic-sim.json.
// Env: SIM_INTERVAL_S (0.5: the canary's check interval), SIM_PULLS (10000), SIM_SEED (1).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { writeResults, ROOT } from '../bench/common.js';
import { machineRecorder } from '../bench/lib/machine.js';
import { Engine } from '../src/engine/index.js';
import { InferenceService, RequestContext } from '../src/inference/index.js';
import { offsetModel } from '../src/onnx/models.js';
import { ModelRepository } from '../src/repository/repository.js';
import { RoutingControl } from '../src/routing/control.js';
import { Rng } from '../src/routing/rng.js';
import { RoutingRuntime } from '../src/routing/runtime.js';
import { HTTP_WIRE } from '../src/server/http-wire.js';
import { lineChart } from './svg.js';

const INTERVAL_S = Number(process.env.SIM_INTERVAL_S ?? 0.5);
const PULLS = Number(process.env.SIM_PULLS ?? 10_000);
const SEED = Number(process.env.SIM_SEED ?? 1);
const OUT = join(ROOT, 'docs', 'traffic');
const STEPS = [5, 10, 25, 50, 100];
const RATES: Record<string, number> = { a: 0.05, b: 0.1, c: 0.15 };

const work = mkdtempSync(join(tmpdir(), 'tg-sim-traffic-'));
const model = (name: string, bytes: Uint8Array) => {
  mkdirSync(join(work, name, '1'), { recursive: true });
  writeFileSync(join(work, name, '1', 'model.onnx'), bytes);
};
const route = (name: string, routing: object) => {
  mkdirSync(join(work, name), { recursive: true });
  writeFileSync(join(work, name, 'config.json'), JSON.stringify({ platform: 'tensorgate_route', routing }));
};
model('stable', offsetModel({ offset: 1 }));
model('good', offsetModel({ offset: 2 }));
model('bad', offsetModel({ offset: 3, failAbove: 0.9 })); // fails whenever an input exceeds 0.9
for (const arm of Object.keys(RATES)) model(arm, offsetModel({ offset: arm.charCodeAt(0) }));
const canary = { steps: STEPS, interval_s: INTERVAL_S, threshold: 1, gates: { min_requests: 20, error_rate: { max: 0.02 } } };
route('canary-good', { targets: [{ model: 'stable' }, { model: 'good' }], canary: { candidate: 'good', ...canary } });
route('canary-bad', { targets: [{ model: 'stable' }, { model: 'bad' }], canary: { candidate: 'bad', ...canary } });
const policies: Record<string, object> = {
  thompson: { policy: 'thompson' },
  ucb1: { policy: 'ucb1' },
  'epsilon-greedy': { policy: 'epsilon_greedy', epsilon: 0.1 },
  'epsilon-decaying': { policy: 'epsilon_greedy', epsilon: 1, epsilon_decay: 500 },
};
for (const [name, bandit] of Object.entries(policies)) route(`bandit-${name}`, { targets: Object.keys(RATES).map((m) => ({ model: m })), bandit, seed: SEED });

const log = pino({ level: 'warn' });
const routing = new RoutingRuntime({ logger: log });
const repository = await ModelRepository.open({ root: work, engine: Engine.create({ intraOpThreads: 1 }), controlMode: 'none', logger: log, routing });
const service = new InferenceService({ repository });
const control = new RoutingControl(repository);

const body = (values: number[], id?: string) => Buffer.from(JSON.stringify({ ...(id ? { id } : {}), inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: values }] }));

/** One in-process request; the target that served it, or 'error'. */
async function infer(name: string, payload: Buffer): Promise<string> {
  const ctx = new RequestContext('inproc', HTTP_WIRE, name, undefined, payload);
  try {
    await service.infer(ctx);
    return ctx.routing!.target;
  } catch {
    return 'error';
  }
}

interface CanaryRun {
  samples: Array<{ t: number; weight: number; errorRate: number | null }>;
  transitions: Array<{ t: number; kind: string; weight: number }>;
  shiftAt: number | null;
  status: string;
  clientErrors: number;
  requests: number;
}

/** Drives a canary route with 4 closed-loop clients until it is promoted or rolled back. */
async function runCanary(name: string, shiftAt: number | null): Promise<CanaryRun> {
  const rt = routing.route(name)!;
  const driver = rt.canary!;
  const rng = new Rng(SEED);
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  const run: CanaryRun = { samples: [], transitions: [], shiftAt, status: '', clientErrors: 0, requests: 0 };
  let done = false;
  const clients = Array.from({ length: 4 }, async () => {
    while (!done) {
      // Before the shift inputs stay below 0.5; after it they span [0, 1) (new users, new data).
      const top = shiftAt !== null && now() >= shiftAt ? 1 : 0.5;
      const target = await infer(name, body([rng.next() * top, rng.next() * top, rng.next() * top, rng.next() * top]));
      run.requests++;
      if (target === 'error') run.clientErrors++;
    }
  });
  const candidate = driver.candidate;
  let lastRequests = 0;
  let lastErrors = 0;
  let lastRevision = driver.state.revision;
  while (!done) {
    await new Promise((r) => setTimeout(r, 100));
    const requests = rt.requests[candidate]!;
    const errors = rt.errors[candidate]!;
    const dr = requests - lastRequests;
    run.samples.push({ t: now(), weight: driver.weight, errorRate: dr > 0 ? (100 * (errors - lastErrors)) / dr : null });
    lastRequests = requests;
    lastErrors = errors;
    if (driver.state.revision !== lastRevision) {
      lastRevision = driver.state.revision;
      run.transitions.push({ t: now(), kind: driver.state.status === 'progressing' ? 'step' : driver.state.status, weight: driver.weight });
    }
    const status = driver.state.status;
    if (status === 'promoted' || status === 'rolled_back' || now() > 60) {
      // A little more after the end, to show the weight holding.
      const end = now() + 1;
      while (now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        const dr2 = rt.requests[candidate]! - lastRequests;
        run.samples.push({ t: now(), weight: driver.weight, errorRate: dr2 > 0 ? (100 * (rt.errors[candidate]! - lastErrors)) / dr2 : null });
        lastRequests = rt.requests[candidate]!;
        lastErrors = rt.errors[candidate]!;
      }
      run.status = status;
      done = true;
    }
  }
  await Promise.all(clients);
  return run;
}

function canaryPicture(title: string, run: CanaryRun): string {
  const xMax = Math.ceil(run.samples.at(-1)!.t);
  const markers = run.transitions
    .filter((t) => t.kind === 'rolled_back' || t.kind === 'promoted')
    .map((t) => ({ x: t.t, label: t.kind === 'rolled_back' ? 'rolled back' : 'promoted', color: t.kind === 'rolled_back' ? '#c0392b' : '#1e8449' }));
  if (run.shiftAt !== null) markers.unshift({ x: run.shiftAt, label: 'traffic shift', color: '#7f8c8d' });
  return lineChart({
    title,
    xLabel: `time (s) — one check every ${INTERVAL_S} s, gate: error rate ≤ 2 %, threshold 1`,
    xMax,
    left: { label: 'candidate weight (%)', max: 100 },
    right: { label: 'candidate error rate (%, per 100 ms)', max: 100 },
    series: [
      { name: 'candidate weight', color: '#2471a3', points: run.samples.map((s) => [s.t, s.weight]), step: true },
      { name: 'candidate error rate', color: '#c0392b', axis: 'right', points: run.samples.filter((s) => s.errorRate !== null).map((s) => [s.t, s.errorRate!]) },
    ],
    markers,
  });
}

interface BanditRun {
  policy: string;
  regret: Array<[number, number]>;
  finalRegret: number;
  lastThousandOnBest: number;
  pulls: Record<string, number>;
}

async function runBandit(policy: string): Promise<BanditRun> {
  const name = `bandit-${policy}`;
  const world = new Rng(SEED + 7);
  let regret = 0;
  let onBest = 0;
  const curve: Array<[number, number]> = [[0, 0]];
  const pulls: Record<string, number> = { a: 0, b: 0, c: 0 };
  let batch: Array<{ id: string; reward: number }> = [];
  const input = body([0.1, 0.2, 0.3, 0.4]);
  for (let i = 0; i < PULLS; i++) {
    const id = `${policy}-${i}`;
    const payload = Buffer.concat([Buffer.from(`{"id":"${id}",`), input.subarray(1)]);
    const arm = await infer(name, payload);
    pulls[arm]!++;
    regret += RATES.c! - RATES[arm]!;
    if (i >= PULLS - 1000 && arm === 'c') onBest++;
    if ((i + 1) % 50 === 0) curve.push([i + 1, regret]);
    batch.push({ id, reward: world.next() < RATES[arm]! ? 1 : 0 });
    if (batch.length === 100) {
      await control.feedback(name, { feedback: batch });
      batch = [];
    }
  }
  return { policy, regret: curve, finalRegret: regret, lastThousandOnBest: onBest / 1000, pulls };
}

mkdirSync(OUT, { recursive: true });
const recorder = machineRecorder(ROOT);
const good = await runCanary('canary-good', null);
const bad = await runCanary('canary-bad', INTERVAL_S * 2.5);
writeFileSync(join(OUT, 'canary-good.svg'), canaryPicture(`Canary, healthy candidate: ${good.status.replace('_', ' ')}`, good));
writeFileSync(join(OUT, 'canary-bad.svg'), canaryPicture(`Canary, candidate failing after a traffic shift: ${bad.status.replace('_', ' ')}`, bad));
const bandits: BanditRun[] = [];
for (const policy of Object.keys(policies)) bandits.push(await runBandit(policy));
const colors = ['#2471a3', '#c0392b', '#1e8449', '#b9770e'];
writeFileSync(
  join(OUT, 'bandit-regret.svg'),
  lineChart({
    title: `Bandits: cumulative regret over ${PULLS.toLocaleString('en')} requests (reward rates 0.05 / 0.10 / 0.15)`,
    xLabel: 'requests (rewards by request id, in delayed batches of 100)',
    xMax: PULLS,
    left: { label: 'cumulative regret (lost rewards)', max: Math.ceil((0.05 * PULLS) / 100) * 100 },
    series: [
      ...bandits.map((b, i) => ({ name: b.policy, color: colors[i]!, points: b.regret })),
      { name: 'uniform random', color: '#7f8c8d', dashed: true, points: [[0, 0], [PULLS, 0.05 * PULLS]] as Array<[number, number]> },
    ],
  }),
);
await repository.close();
await routing.close();
rmSync(work, { recursive: true, force: true });

const summary = {
  canary: [good, bad].map((r, i) => ({
    scenario: i === 0 ? 'healthy' : 'failing after a traffic shift',
    outcome: r.status,
    transitions: r.transitions.map((t) => ({ t_s: Math.round(t.t * 100) / 100, kind: t.kind, weight: t.weight })),
    client_requests: r.requests,
    client_errors: r.clientErrors,
  })),
  bandits: bandits.map((b) => ({ policy: b.policy, cumulative_regret: Math.round(b.finalRegret * 10) / 10, last_1000_on_best: b.lastThousandOnBest, pulls: b.pulls })),
};
console.log(JSON.stringify(summary, null, 2));
const file = writeResults('traffic-sim', { machine: recorder.record(), interval_s: INTERVAL_S, pulls: PULLS, seed: SEED, ...summary });
console.log(`wrote ${file} and ${OUT}/{canary-good,canary-bad,bandit-regret}.svg`);
