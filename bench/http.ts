// npm run bench:http — requests per second and latency over HTTP, load from a separate process (wrk,
// one thread), systems interleaved over rounds (median and min–max reported):
//   tensorgate-uws       tensorgate serve on uWebSockets.js (dynamic batching on)
//   tensorgate-node      tensorgate serve on node:http
//   tensorgate-baseline  tensorgate serve built from another checkout (BENCH_BASELINE_DIR): the
//                        no-regression check of a change, measured in the same run
//   fastify-ort          Fastify + onnxruntime-node (bench/baseline/fastify-ort.mjs)
//   uws-echo             a uWS JSON echo with no model (bench/baseline/uws-echo.mjs): what the HTTP
//                        layer alone does here, not a ceiling for a server that batches
// Models tiny and mlp, JSON bodies. Env: BENCH_SECONDS (5), BENCH_ROUNDS (5), BENCH_CONNECTIONS
// (1,16,64,256), BENCH_MODELS, BENCH_SYSTEMS, BENCH_INTRA_THREADS (1), BENCH_BASELINE_DIR.
// Route rows (BENCH_ROUTES=0 skips them), on the tensorgate systems, interleaved with the direct
// model in the same rounds: tiny direct; `route-one`, a route with tiny as its one target; and
// `route-split`, a 95/5 split of tiny and a copy, sticky on an x-user header that wrk varies over
// 10,000 users. Targets: route-one ≥ 95 % and route-split ≥ 90 % of the direct model's req/s.
// Prints tables and writes bench/results/http.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { BENCH_DIR, inferBody, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave, spreadText } from './lib/rounds.js';
import { checkWrk, runWrk, stop, waitReady } from './wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,16,64,256').split(',').map(Number);
const MODELS = (process.env.BENCH_MODELS ?? 'tiny,mlp').split(',');
const BASELINE_DIR = process.env.BENCH_BASELINE_DIR ? resolve(process.env.BENCH_BASELINE_DIR) : undefined;
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? `tensorgate-uws,tensorgate-node,${BASELINE_DIR ? 'tensorgate-baseline,' : ''}fastify-ort,uws-echo`).split(',');
const THREADS = process.env.BENCH_INTRA_THREADS ?? '1';
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

const grpcFlag = new Map<string, boolean>();
/** tensorgate serve in checkout `root`; --grpc-port 0 where the checkout knows the flag (HTTP only). */
function serveArgs(root: string, repo: string, port: number, engine: string): string[] {
  if (!grpcFlag.has(root)) {
    const help = spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), 'serve', '--help'], { encoding: 'utf8' });
    grpcFlag.set(root, help.stdout.includes('--grpc-port'));
  }
  const args = [join(root, 'dist/cli/main.js'), 'serve', '--model-repository', repo, '--http-port', String(port), '--http-engine', engine, '--intra-op-threads', THREADS, '--log-level', 'warn'];
  return grpcFlag.get(root) ? [...args, '--grpc-port', '0'] : args;
}

function start(system: string, repo: string, port: number): ChildProcess {
  const args =
    system === 'tensorgate-uws'
      ? serveArgs(ROOT, repo, port, 'uws')
      : system === 'tensorgate-node'
        ? serveArgs(ROOT, repo, port, 'node')
        : system === 'tensorgate-baseline'
          ? serveArgs(BASELINE_DIR!, repo, port, 'uws')
          : system === 'fastify-ort'
            ? [join(BENCH_DIR, 'baseline/fastify-ort.mjs'), repo, String(port), THREADS]
            : [join(BENCH_DIR, 'baseline/uws-echo.mjs'), String(port)];
  return spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function main(): Promise<void> {
  checkWrk();
  const build = spawnSync('npx', ['tsc', '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('TypeScript build failed');
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
    for (const system of SYSTEMS) {
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
        const url = `http://127.0.0.1:${ports.get(system)}/v2/models/${model}/infer`;
        runWrk(url, Math.min(connections, 8), 1, scripts[model]!); // warm
        const r = runWrk(url, connections, SECONDS, scripts[model]!);
        return { rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors };
      },
      (text) => console.error(text),
    );
    const k = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v)));
    console.log(
      table(
        results.map((r) => ({
          system: r.system,
          model: r.cell.model,
          c: r.cell.connections,
          'req/s': spreadText(r.metrics.rps, k),
          p50_us: spreadText(r.metrics.p50_us),
          p99_us: spreadText(r.metrics.p99_us),
          errors: r.metrics.errors.runs.reduce((a, b) => a + b, 0),
        })),
      ),
    );
    const median = (s: string, m: string, c: number) => results.find((r) => r.system === s && r.cell.model === m && r.cell.connections === c)?.metrics.rps.median ?? NaN;
    const ratios = cells.map(({ model, connections: c }) => ({
      model,
      connections: c,
      uws_over_fastify: median('tensorgate-uws', model, c) / median('fastify-ort', model, c),
      uws_over_echo: median('tensorgate-uws', model, c) / median('uws-echo', model, c),
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
      load_generator: 'wrk -t1',
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
  const systems = SYSTEMS.filter((sys) => sys === 'tensorgate-uws' || sys === 'tensorgate-node');
  if (systems.length === 0) return undefined;
  const scripts = Object.fromEntries(ROUTE_CELLS.map((c) => [c, routeScript(work, c)]));
  const cells = ROUTE_CELLS.flatMap((model) => CONNECTIONS.map((connections) => ({ model, connections })));
  const results = await interleave(
    ROUNDS,
    systems,
    cells,
    (system, { model, connections }) => {
      const url = `http://127.0.0.1:${ports.get(system)}/v2/models/${model}/infer`;
      runWrk(url, Math.min(connections, 8), 1, scripts[model]!); // warm
      const r = runWrk(url, connections, SECONDS, scripts[model]!);
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
  const k = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(1)}k` : String(Math.round(v)));
  console.log('\nroutes (targets: route-one >= 0.95, route-split >= 0.90 of direct req/s)');
  console.log(
    table(
      results.map((r) => ({
        system: r.system,
        model: r.cell.model,
        c: r.cell.connections,
        'req/s': spreadText(r.metrics.rps, k),
        p50_us: spreadText(r.metrics.p50_us),
        p99_us: spreadText(r.metrics.p99_us),
        errors: r.metrics.errors.runs.reduce((a, b) => a + b, 0),
      })),
    ),
  );
  console.log(table(ratios.map((r) => ({ ...r, route_one_over_direct: r.route_one_over_direct.toFixed(3), route_split_over_direct: r.route_split_over_direct.toFixed(3) }))));
  return { results: results.map((r) => ({ system: r.system, ...r.cell, ...r.metrics })), ratios };
}

await main();
