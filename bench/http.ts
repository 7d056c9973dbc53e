// npm run bench:http — requests per second and latency over HTTP, load from a separate process (wrk,
// BENCH_WRK_THREADS threads, default 1), systems interleaved over rounds (median and min–max reported):
//   tensorgate-uws          tensorgate serve on uWebSockets.js, one HTTP thread, dynamic batching on
//   tensorgate-uws-threads  the same with --http-threads = the cores (BENCH_HTTP_THREADS)
//   tensorgate-nobatch      uWS, one HTTP thread, no batching (--default-max-batch-size 0): what the
//                           transport alone gives, apart from the batcher
//   tensorgate-node         tensorgate serve on node:http
//   tensorgate-baseline     tensorgate serve built from another checkout (BENCH_BASELINE_DIR), one HTTP
//                           thread: the no-regression check of a change, measured in the same run
//   fastify-ort             Fastify + onnxruntime-node, one intra-op thread (bench/baseline/fastify-ort.mjs)
//   fastify-ort-cores       the same with intra-op threads = the cores
//   fastify-ort-cluster     the same in cluster mode, one process per core (one intra-op thread each)
//   uws-echo                a uWS JSON echo with no model (bench/baseline/uws-echo.mjs): what the HTTP
//                           layer alone does here, not a ceiling for a server that batches
//   engine                  the in-process engine at the same concurrency, no HTTP (bench/engine-child.ts)
// Models tiny and mlp, JSON bodies. Env: BENCH_SECONDS (5), BENCH_ROUNDS (5), BENCH_CONNECTIONS
// (1,16,64,256), BENCH_MODELS, BENCH_SYSTEMS, BENCH_INTRA_THREADS (1), BENCH_BASELINE_DIR.
// Targets at 64 connections, one HTTP thread: tiny >= 75 % of uws-echo's req/s, mlp >= 60 % of the
// in-process engine's; --http-threads: no regression against one thread on a 2-core machine.
// Route rows (BENCH_ROUTES=0 skips them), on the tensorgate systems, interleaved with the direct
// model in the same rounds: tiny direct; `route-one`, a route with tiny as its one target; and
// `route-split`, a 95/5 split of tiny and a copy, sticky on an x-user header that wrk varies over
// 10,000 users. Targets: route-one >= 95 % and route-split >= 90 % of the direct model's req/s.
// Prints tables and writes bench/results/http.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { BENCH_DIR, inferBody, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave } from './lib/rounds.js';
import { checkWrk, runWrk, stop, waitReady } from './wrk.js';
import { buildDist, loadRows } from './lib/report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,16,64,256').split(',').map(Number);
const MODELS = (process.env.BENCH_MODELS ?? 'tiny,mlp').split(',');
const BASELINE_DIR = process.env.BENCH_BASELINE_DIR ? resolve(process.env.BENCH_BASELINE_DIR) : undefined;
const SYSTEMS = (
  process.env.BENCH_SYSTEMS ??
  `tensorgate-uws,tensorgate-uws-threads,tensorgate-nobatch,tensorgate-node,${BASELINE_DIR ? 'tensorgate-baseline,' : ''}fastify-ort,fastify-ort-cores,fastify-ort-cluster,uws-echo,engine`
).split(',');
const THREADS = process.env.BENCH_INTRA_THREADS ?? '1';
const CORES = availableParallelism();
const HTTP_THREADS = process.env.BENCH_HTTP_THREADS ?? String(CORES);
const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? 1);
/** One row's dims per model (the JSON bodies are one row). */
const DIMS: Record<string, number[]> = { tiny: [16], mlp: [256] };
/** Systems that are not an HTTP server. */
const IN_PROCESS = new Set(['engine']);
const ROUTES = process.env.BENCH_ROUTES !== '0';
const ROUTE_CELLS = ['tiny', 'route-one', 'route-split'] as const;

/** The route rows' repository entries: a copy of tiny and two routes over it. */
function writeRoutes(repo: string, examples: string): void {
  mkdirSync(join(repo, 'tiny2', '1'), { recursive: true });
  cpSync(join(examples, 'tiny', '1', 'model.onnx'), join(repo, 'tiny2', '1', 'model.onnx'));
  const route = (name: string, routing: object) => {
    mkdirSync(join(repo, name), { recursive: true });
    writeFileSync(join(repo, name, 'config.json'), JSON.stringify({ platform: 'tensorgate_route', routing }));
  };
  route('route-one', { targets: [{ model: 'tiny' }] });
  route('route-split', { targets: [{ model: 'tiny', weight: 95 }, { model: 'tiny2', weight: 5 }], sticky: { header: 'x-user' } });
}

/** wrk script for a route cell: tiny's body; route-split varies the sticky key per request. */
function routeScript(dir: string, cell: string): string {
  const path = join(dir, `${cell}.lua`);
  const base = `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(inferBody('tiny'))}\n`;
  const sticky =
    'local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, nil, { ["Content-Type"] = "application/json", ["x-user"] = "user-" .. (n % 10000) }, nil)\nend\n';
  writeFileSync(path, cell === 'route-split' ? base + sticky : base);
  return path;
}

function wrkScript(dir: string, model: string): string {
  const path = join(dir, `${model}.lua`);
  writeFileSync(path, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(inferBody(model))}\n`);
  return path;
}

const helpText = new Map<string, string>();
/** tensorgate serve in checkout `root`, with the flags it knows of: --grpc-port 0 (HTTP only), --http-threads. */
function serveArgs(root: string, repo: string, port: number, engine: string, extra: { threads?: string; noBatch?: boolean } = {}): string[] {
  if (!helpText.has(root)) helpText.set(root, spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--help'], { encoding: 'utf8' }).stdout);
  const help = helpText.get(root)!;
  const args = [join(root, 'dist/cli/main.js'), 'serve', '--model-repository', repo, '--http-port', String(port), '--http-engine', engine, '--intra-op-threads', THREADS, '--log-level', 'warn'];
  if (help.includes('--grpc-port')) args.push('--grpc-port', '0');
  if (help.includes('--http-threads')) args.push('--http-threads', extra.threads ?? '1');
  if (extra.noBatch) args.push('--default-max-batch-size', '0');
  return args;
}

function start(system: string, repo: string, port: number): ChildProcess {
  const args: Record<string, () => string[]> = {
    'tensorgate-uws': () => serveArgs(ROOT, repo, port, 'uws'),
    'tensorgate-uws-threads': () => serveArgs(ROOT, repo, port, 'uws', { threads: HTTP_THREADS }),
    'tensorgate-nobatch': () => serveArgs(ROOT, repo, port, 'uws', { noBatch: true }),
    'tensorgate-node': () => serveArgs(ROOT, repo, port, 'node'),
    'tensorgate-baseline': () => serveArgs(BASELINE_DIR!, repo, port, 'uws'),
    'fastify-ort': () => [join(BENCH_DIR, 'baseline/fastify-ort.mjs'), repo, String(port), THREADS],
    'fastify-ort-cores': () => [join(BENCH_DIR, 'baseline/fastify-ort.mjs'), repo, String(port), String(CORES)],
    'fastify-ort-cluster': () => [join(BENCH_DIR, 'baseline/fastify-ort-cluster.mjs'), repo, String(port)],
    'uws-echo': () => [join(BENCH_DIR, 'baseline/uws-echo.mjs'), String(port)],
  };
  const make = args[system];
  if (!make) throw new Error(`unknown system ${system}`);
  return spawn(process.execPath, make(), { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The in-process engine (batched as the server's default) at `concurrency`, in its own process. */
function engineInProcess(examples: string, model: string, concurrency: number): { rps: number; p50_us: number; p99_us: number; errors: number } {
  const job = { model: join(examples, model, '1', 'model.onnx'), dims: DIMS[model]!, concurrency, seconds: SECONDS, intraOpThreads: Number(THREADS), maxBatchSize: 64 };
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(BENCH_DIR, 'engine-child.ts'), JSON.stringify(job)], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`engine child failed: ${r.stderr}`);
  const m = JSON.parse(r.stdout) as { rps: number; p50_us: number; p99_us: number };
  return { rps: m.rps, p50_us: m.p50_us, p99_us: m.p99_us, errors: 0 };
}

async function main(): Promise<void> {
  checkWrk();
  buildDist(ROOT);
  const examples = join(ROOT, 'examples', 'models');
  await makeExampleModels(examples);
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-bench-http-'));
  const repo = join(work, 'models');
  for (const m of new Set([...MODELS, 'tiny'])) {
    mkdirSync(join(repo, m, '1'), { recursive: true });
    cpSync(join(examples, m, '1', 'model.onnx'), join(repo, m, '1', 'model.onnx'));
  }
  const scripts = Object.fromEntries(MODELS.map((m) => [m, wrkScript(work, m)]));
  if (ROUTES) writeRoutes(repo, examples);
  const recorder = machineRecorder(ROOT);
  const ports = new Map<string, number>();
  const children: ChildProcess[] = [];
  try {
    let port = 18_400;
    for (const system of SYSTEMS.filter((x) => !IN_PROCESS.has(x))) {
      ports.set(system, ++port);
      const child = start(system, repo, port);
      children.push(child);
      await waitReady(child, `http://127.0.0.1:${port}/v2/models/tiny/infer`, inferBody('tiny'));
    }
    const cells = MODELS.flatMap((model) => CONNECTIONS.map((connections) => ({ model, connections })));
    const results = await interleave(
      ROUNDS,
      SYSTEMS,
      cells,
      (system, { model, connections }) => {
        if (system === 'engine') return engineInProcess(examples, model, connections);
        const url = `http://127.0.0.1:${ports.get(system)}/v2/models/${model}/infer`;
        runWrk(url, Math.min(connections, 8), 1, scripts[model]!, WRK_THREADS); // warm
        const r = runWrk(url, connections, SECONDS, scripts[model]!, WRK_THREADS);
        return { rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors };
      },
      (text) => console.error(text),
    );
    console.log(
      table(loadRows(results, (c) => ({ model: c.model, c: c.connections }))),
    );
    const median = (s: string, m: string, c: number) => results.find((r) => r.system === s && r.cell.model === m && r.cell.connections === c)?.metrics.rps.median ?? NaN;
    const ratios = cells.map(({ model, connections: c }) => ({
      model,
      connections: c,
      uws_over_fastify: median('tensorgate-uws', model, c) / median('fastify-ort', model, c),
      threads_over_fastify_cluster: median('tensorgate-uws-threads', model, c) / median('fastify-ort-cluster', model, c),
      uws_over_echo: median('tensorgate-uws', model, c) / median('uws-echo', model, c),
      uws_over_engine: median('tensorgate-uws', model, c) / median('engine', model, c),
      uws_over_nobatch: median('tensorgate-uws', model, c) / median('tensorgate-nobatch', model, c),
      threads_over_one: median('tensorgate-uws-threads', model, c) / median('tensorgate-uws', model, c),
      node_over_uws: median('tensorgate-node', model, c) / median('tensorgate-uws', model, c),
      uws_over_baseline: median('tensorgate-uws', model, c) / median('tensorgate-baseline', model, c),
    }));
    console.log();
    console.log(table(ratios.map((r) => Object.fromEntries(Object.entries(r).map(([key, v]) => [key, typeof v === 'number' && !Number.isInteger(v) ? (Number.isNaN(v) ? '-' : v.toFixed(3)) : v])))));
    const routeRows = ROUTES ? await measureRoutes(ports, work) : undefined;
    const file = writeResults('http', {
      machine: recorder.record(),
      seconds: SECONDS,
      rounds: ROUNDS,
      intra_op_threads: Number(THREADS),
      load_generator: `wrk -t${WRK_THREADS}`,
      http_threads: Number(HTTP_THREADS),
      baseline_dir: BASELINE_DIR,
      results: results.map((r) => ({ system: r.system, ...r.cell, ...r.metrics })),
      ratios,
      ...(routeRows ? { routes: routeRows } : {}),
    });
    console.log(`\nwrote ${file}`);
  } finally {
    await Promise.all(children.map((c) => stop(c)));
  }
}

/** The route rows: direct tiny, route-one and route-split on each tensorgate system, interleaved. */
async function measureRoutes(ports: Map<string, number>, work: string) {
  const systems = SYSTEMS.filter((sys) => sys === 'tensorgate-uws' || sys === 'tensorgate-uws-threads' || sys === 'tensorgate-node');
  if (systems.length === 0) return undefined;
  const scripts = Object.fromEntries(ROUTE_CELLS.map((c) => [c, routeScript(work, c)]));
  const cells = ROUTE_CELLS.flatMap((model) => CONNECTIONS.map((connections) => ({ model, connections })));
  const results = await interleave(
    ROUNDS,
    systems,
    cells,
    (system, { model, connections }) => {
      const url = `http://127.0.0.1:${ports.get(system)}/v2/models/${model}/infer`;
      runWrk(url, Math.min(connections, 8), 1, scripts[model]!, WRK_THREADS); // warm
      const r = runWrk(url, connections, SECONDS, scripts[model]!, WRK_THREADS);
      return { rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors };
    },
    (text) => console.error(text),
  );
  const median = (sys: string, m: string, c: number) => results.find((r) => r.system === sys && r.cell.model === m && r.cell.connections === c)?.metrics.rps.median ?? NaN;
  const ratios = systems.flatMap((sys) =>
    CONNECTIONS.map((c) => ({
      system: sys,
      connections: c,
      route_one_over_direct: median(sys, 'route-one', c) / median(sys, 'tiny', c),
      route_split_over_direct: median(sys, 'route-split', c) / median(sys, 'tiny', c),
    })),
  );
  console.log('\nroutes (targets: route-one >= 0.95, route-split >= 0.90 of direct req/s)');
  console.log(
    table(loadRows(results, (c) => ({ model: c.model, c: c.connections }))),
  );
  console.log(table(ratios.map((r) => ({ ...r, route_one_over_direct: r.route_one_over_direct.toFixed(3), route_split_over_direct: r.route_split_over_direct.toFixed(3) }))));
  return { results: results.map((r) => ({ system: r.system, ...r.cell, ...r.metrics })), ratios };
}

await main();
