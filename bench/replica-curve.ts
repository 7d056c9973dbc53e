// npm run bench:replica-curve — one replica's latency, queue time, CPU and batch size against offered
// load, with dynamic batching on and off: the curves the autoscaling simulation (npm run sim:autoscale)
// replays. Per mode: the saturation throughput (wrk, closed loop, 64 connections), then open-loop
// Poisson load at fractions of it (bench/open-loop-child.mjs: latency from each request's scheduled
// time). Server-side figures come from /metrics before and after each level. Modes alternate within
// each round; the result per level is the median over rounds (p99 with min-max).
//
// Options (environment): CURVE_MODEL=mlp-large|mlp (default mlp-large: 512-2048-2048-16, heavy enough
// that the load generator on the same machine stays small next to the server), CURVE_SECONDS (10),
// CURVE_ROUNDS (3), CURVE_THREADS (ORT intra-op threads, 1), CURVE_FRACTIONS (0.1,…,1.2),
// CURVE_PROVISIONAL=1 marks a short smoke pass in the output.
// Writes bench/results/replica-curve-<model>.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { USAGE } from '../src/cli/options.js';
import { mlpModel } from '../src/onnx/models.js';
import { BENCH_DIR, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { checkWrk, runWrk, stop, waitReady } from './wrk.js';

const MODEL = process.env.CURVE_MODEL ?? 'mlp-large';
const SECONDS = Number(process.env.CURVE_SECONDS ?? 10);
const ROUNDS = Number(process.env.CURVE_ROUNDS ?? 3);
const THREADS = process.env.CURVE_THREADS ?? '1';
const FRACTIONS = (process.env.CURVE_FRACTIONS ?? '0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2').split(',').map(Number);
const PROVISIONAL = process.env.CURVE_PROVISIONAL === '1';
const MODES = ['batching', 'no-batching'] as const;
type Mode = (typeof MODES)[number];

const MODELS: Record<string, { bytes: () => Uint8Array; width: number }> = {
  'mlp-large': { bytes: () => mlpModel({ inputSize: 512, hidden: [2048, 2048], outputSize: 16 }), width: 512 },
  mlp: { bytes: () => mlpModel(), width: 256 },
};

export interface CurvePoint {
  offeredRps: number;
  achievedRps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p99MinMs: number;
  p99MaxMs: number;
  /** Mean time in the batcher queue per request (nv_inference_queue_duration_us / success). */
  queueUsPerRequest: number;
  /** CPU cores the server process used (process_cpu_seconds_total per second). */
  cpuCores: number;
  meanBatch: number;
  errors: number;
}

/** Sum of a metric's samples in a Prometheus exposition. */
function metric(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function scrape(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return {
    queueUs: metric(text, 'nv_inference_queue_duration_us'),
    success: metric(text, 'nv_inference_request_success'),
    inferences: metric(text, 'nv_inference_count'),
    executions: metric(text, 'nv_inference_exec_count'),
    cpu: metric(text, 'process_cpu_seconds_total'),
    at: performance.now(),
  };
}

function repository(mode: Mode): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-curve-'));
  const modelDir = join(dir, 'm');
  spawnSync('mkdir', ['-p', join(modelDir, '1')]);
  writeFileSync(join(modelDir, '1', 'model.onnx'), MODELS[MODEL]!.bytes());
  const config = mode === 'batching' ? { max_batch_size: 64, dynamic_batching: {} } : { max_batch_size: 64 };
  writeFileSync(join(modelDir, 'config.json'), JSON.stringify(config));
  return dir;
}

function startServer(repo: string, port: number): ChildProcess {
  const grpcOff = USAGE.includes('--grpc-port') ? ['--grpc-port', '0'] : [];
  return spawn(
    process.execPath,
    [join(ROOT, 'dist/cli/main.js'), 'serve', '--model-repository', repo, '--http-port', String(port), '--intra-op-threads', THREADS, '--log-level', 'warn', ...grpcOff],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

function openLoop(port: number, bodyFile: string, rate: number, seed: number): Promise<{ achievedRps: number; p50Ms: number; p90Ms: number; p99Ms: number; errors: number; unanswered: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(BENCH_DIR, 'open-loop-child.mjs'), `http://127.0.0.1:${port}/v2/models/m/infer`, bodyFile, String(rate), String(SECONDS), String(seed)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`open-loop child exited ${code}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  checkWrk();
  const recorder = machineRecorder(ROOT);
  const work = mkdtempSync(join(tmpdir(), 'tg-curve-work-'));
  const width = MODELS[MODEL]!.width;
  const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, width], datatype: 'FP32', data: Array.from({ length: width }, (_, i) => Math.round(Math.sin(i) * 1000) / 1000) }] });
  const bodyFile = join(work, 'body.json');
  writeFileSync(bodyFile, body);
  const script = join(work, 'wrk.lua');
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\n`);
  const rounds: Record<Mode, Array<{ saturationRps: number; points: Array<Omit<CurvePoint, 'p99MinMs' | 'p99MaxMs'>> }>> = { batching: [], 'no-batching': [] };
  let port = 18_500;
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
      const repo = repository(mode);
      const p = port++;
      const server = startServer(repo, p);
      const url = `http://127.0.0.1:${p}/v2/models/m/infer`;
      try {
        await waitReady(server, url, body);
        runWrk(url, 16, 2, script); // warm-up
        const saturationRps = runWrk(url, mode === 'batching' ? 64 : 16, SECONDS, script).rps;
        const points = [];
        for (const [i, f] of FRACTIONS.entries()) {
          const rate = f * saturationRps;
          const before = await scrape(p);
          const r = await openLoop(p, bodyFile, rate, 1000 * round + i);
          const after = await scrape(p);
          const seconds = (after.at - before.at) / 1000;
          const served = after.success - before.success;
          points.push({
            offeredRps: rate,
            achievedRps: r.achievedRps,
            p50Ms: r.p50Ms,
            p90Ms: r.p90Ms,
            p99Ms: r.p99Ms,
            queueUsPerRequest: served > 0 ? (after.queueUs - before.queueUs) / served : 0,
            cpuCores: (after.cpu - before.cpu) / seconds,
            meanBatch: after.executions > before.executions ? (after.inferences - before.inferences) / (after.executions - before.executions) : 0,
            errors: r.errors + r.unanswered,
          });
          process.stderr.write(`round ${round + 1} ${mode} ${(f * 100).toFixed(0)}%: ${rate.toFixed(0)} req/s offered, p99 ${r.p99Ms.toFixed(1)} ms\n`);
        }
        rounds[mode].push({ saturationRps, points });
      } finally {
        await stop(server);
        rmSync(repo, { recursive: true, force: true });
      }
    }
  }
  rmSync(work, { recursive: true, force: true });
  const curves = Object.fromEntries(
    MODES.map((mode) => {
      const rs = rounds[mode];
      const points: CurvePoint[] = FRACTIONS.map((_, i) => {
        const at = rs.map((r) => r.points[i]!);
        const pick = (k: keyof (typeof at)[number]) => median(at.map((p) => p[k]));
        return {
          offeredRps: pick('offeredRps'),
          achievedRps: pick('achievedRps'),
          p50Ms: pick('p50Ms'),
          p90Ms: pick('p90Ms'),
          p99Ms: pick('p99Ms'),
          p99MinMs: Math.min(...at.map((p) => p.p99Ms)),
          p99MaxMs: Math.max(...at.map((p) => p.p99Ms)),
          queueUsPerRequest: pick('queueUsPerRequest'),
          cpuCores: pick('cpuCores'),
          meanBatch: pick('meanBatch'),
          errors: pick('errors'),
        };
      });
      return [mode, { saturationRps: median(rs.map((r) => r.saturationRps)), saturationRpsRounds: rs.map((r) => r.saturationRps), points }];
    }),
  );
  const result = {
    provisional: PROVISIONAL,
    note: PROVISIONAL
      ? 'PROVISIONAL: a short smoke pass on a busy shared machine; rerun npm run bench:replica-curve on a quiet one'
      : 'measured with npm run bench:replica-curve',
    model: MODEL,
    intraOpThreads: Number(THREADS),
    seconds: SECONDS,
    rounds: ROUNDS,
    fractions: FRACTIONS,
    curves,
    machine: recorder.record(),
  };
  const path = writeResults(`replica-curve-${MODEL}`, result);
  for (const mode of MODES) {
    process.stdout.write(`\n${mode}: saturation ${curves[mode]!.saturationRps.toFixed(0)} req/s (closed loop, wrk)\n`);
    process.stdout.write(
      `${table(
        curves[mode]!.points.map((p) => ({
          'offered/s': Math.round(p.offeredRps),
          'served/s': Math.round(p.achievedRps),
          'p50 ms': p.p50Ms,
          'p99 ms': p.p99Ms,
          'queue µs': Math.round(p.queueUsPerRequest),
          cores: p.cpuCores,
          batch: p.meanBatch,
          errors: p.errors,
        })),
      )}\n`,
    );
  }
  process.stdout.write(`\nwrote ${path}\n`);
}

await main();
