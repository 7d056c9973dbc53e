// npm run bench:observability — what tracing and drift monitoring cost, against the same server with
// both off, as bench:http measures it (wrk, one thread, JSON, systems interleaved over rounds):
//   off              tensorgate serve, no --trace-config, no monitoring section
//   trace-1000       --trace-config level=TIMESTAMPS,rate=1000 (1 request in 1000 traced), spans
//                    exported over OTLP/HTTP to a receiver in this process that discards them
//   drift-100        the model's config has monitoring { sample_rate: 1 }: every request observed
//   both             the two together
//   baseline         tensorgate serve built from another checkout (BENCH_BASELINE_DIR, e.g. the
//                    commit before observability): "off" against it is the cost of having it at all
// Targets (issue 12): trace-1000 and drift-100 each ≤ 3 % below off in req/s; off within noise of baseline.
// Env: BENCH_SECONDS (5), BENCH_ROUNDS (5), BENCH_CONNECTIONS (64), BENCH_MODEL (mlp),
// BENCH_SYSTEMS, BENCH_INTRA_THREADS (1), BENCH_BASELINE_DIR. Writes bench/results/observability.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { inferBody, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave, spreadText } from './lib/rounds.js';
import { checkWrk, runWrk, stop, waitReady } from './wrk.js';
import { buildDist, kilo } from './lib/report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '64').split(',').map(Number);
const MODEL = process.env.BENCH_MODEL ?? 'mlp';
const BASELINE_DIR = process.env.BENCH_BASELINE_DIR ? resolve(process.env.BENCH_BASELINE_DIR) : undefined;
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? `off,trace-1000,drift-100,both${BASELINE_DIR ? ',baseline' : ''}`).split(',');
const THREADS = process.env.BENCH_INTRA_THREADS ?? '1';

/** An OTLP/HTTP endpoint that reads and discards what it gets, counting spans' requests. */
async function discardingCollector(): Promise<{ url: string; requests: () => number; close: () => void }> {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces`, requests: () => requests, close: () => server.close() };
}

function serveArgs(root: string, repo: string, port: number, extra: string[]): string[] {
  const help = spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--help'], { encoding: 'utf8' }).stdout;
  const args = [join(root, 'dist/cli/main.js'), 'serve', '--model-repository', repo, '--http-port', String(port), '--http-engine', 'uws', '--intra-op-threads', THREADS, '--log-level', 'warn', ...extra];
  if (help.includes('--http-threads')) args.push('--http-threads', '1'); // as a baseline checkout from before the flag
  return help.includes('--grpc-port') ? [...args, '--grpc-port', '0'] : args;
}

async function main(): Promise<void> {
  checkWrk();
  buildDist(ROOT);
  const examples = join(ROOT, 'examples', 'models');
  await makeExampleModels(examples);
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-bench-observability-'));
  const plain = join(work, 'plain');
  const watched = join(work, 'watched');
  for (const repo of [plain, watched]) {
    mkdirSync(join(repo, MODEL, '1'), { recursive: true });
    cpSync(join(examples, MODEL, '1', 'model.onnx'), join(repo, MODEL, '1', 'model.onnx'));
  }
  writeFileSync(join(watched, MODEL, 'config.json'), JSON.stringify({ monitoring: { sample_rate: 1 } }));
  const script = join(work, 'infer.lua');
  writeFileSync(script, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(inferBody(MODEL))}\n`);
  const collector = await discardingCollector();
  const trace = ['--trace-config', `level=TIMESTAMPS,rate=1000,url=${collector.url}`];
  const setups: Record<string, { root: string; repo: string; extra: string[] }> = {
    off: { root: ROOT, repo: plain, extra: [] },
    'trace-1000': { root: ROOT, repo: plain, extra: trace },
    'drift-100': { root: ROOT, repo: watched, extra: [] },
    both: { root: ROOT, repo: watched, extra: trace },
    ...(BASELINE_DIR ? { baseline: { root: BASELINE_DIR, repo: plain, extra: [] } } : {}),
  };
  const recorder = machineRecorder(ROOT);
  const ports = new Map<string, number>();
  const children: ChildProcess[] = [];
  try {
    let port = 18_500;
    for (const system of SYSTEMS) {
      const setup = setups[system];
      if (!setup) throw new Error(`unknown system '${system}' (${Object.keys(setups).join(', ')})`);
      ports.set(system, ++port);
      const child = spawn(process.execPath, serveArgs(setup.root, setup.repo, port, setup.extra), { stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      await waitReady(child, `http://127.0.0.1:${port}/v2/models/${MODEL}/infer`, inferBody(MODEL));
    }
    const results = await interleave(
      ROUNDS,
      SYSTEMS,
      CONNECTIONS.map((connections) => ({ connections })),
      (system, { connections }) => {
        const url = `http://127.0.0.1:${ports.get(system)}/v2/models/${MODEL}/infer`;
        runWrk(url, Math.min(connections, 8), 1, script); // warm
        const r = runWrk(url, connections, SECONDS, script);
        return { rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors };
      },
      (text) => console.error(text),
    );
    const off = (c: number) => results.find((r) => r.system === 'off' && r.cell.connections === c)?.metrics.rps.median ?? NaN;
    const rows = results.map((r) => ({
      system: r.system,
      c: r.cell.connections,
      'req/s': spreadText(r.metrics.rps, kilo),
      p99_us: spreadText(r.metrics.p99_us),
      'vs off': (r.metrics.rps.median / off(r.cell.connections)).toFixed(3),
      errors: r.metrics.errors.runs.reduce((a, b) => a + b, 0),
    }));
    console.log(table(rows));
    // What reached the collector: proof that tracing was on (about requests / 1000 traces, batched).
    // (Retried once: a keep-alive connection the server closed while idle fails the first try.)
    const metricsUrl = `http://127.0.0.1:${ports.get(SYSTEMS.includes('trace-1000') ? 'trace-1000' : SYSTEMS[0]!)}/metrics`;
    const status = await fetch(metricsUrl)
      .catch(() => fetch(metricsUrl))
      .then((r) => r.text());
    const traced = Number(/^tensorgate_traces_total (\d+)/m.exec(status)?.[1] ?? 0);
    console.log(`\ntraces taken by trace-1000: ${traced}; OTLP requests received: ${collector.requests()}`);
    const file = writeResults('observability', {
      machine: recorder.record(),
      model: MODEL,
      seconds: SECONDS,
      rounds: ROUNDS,
      intra_op_threads: Number(THREADS),
      load_generator: 'wrk -t1',
      baseline_dir: BASELINE_DIR,
      traces_taken: traced,
      results: results.map((r) => ({ system: r.system, ...r.cell, ...r.metrics, vs_off: r.metrics.rps.median / off(r.cell.connections) })),
    });
    console.log(`wrote ${file}`);
  } finally {
    await Promise.all(children.map((c) => stop(c)));
    collector.close();
  }
}

await main();
