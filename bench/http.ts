// npm run bench:http — requests per second and latency over HTTP, load from a separate process (wrk),
// for: tensorgate on uWebSockets.js, tensorgate on node:http, a Fastify + onnxruntime-node baseline
// (bench/baseline/fastify-ort.mjs) and a uWS ceiling that parses the JSON body and answers a fixed
// reply (bench/baseline/uws-ceiling.mjs). Models: tiny and mlp; connections 1, 16, 64, 256.
// Prints a table and writes bench/results/http.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { checkWrk, runWrk, stop, waitReady, type WrkResult } from './wrk.js';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { BENCH_DIR, machine, ROOT, table, writeResults } from './common.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,16,64,256').split(',').map(Number);
const MODELS = (process.env.BENCH_MODELS ?? 'tiny,mlp').split(',');
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? 'tensorgate-uws,tensorgate-node,fastify-ort,uws-ceiling').split(',');
const THREADS = process.env.BENCH_INTRA_THREADS ?? '1';
const ROW: Record<string, number> = { tiny: 16, mlp: 256 };

function body(model: string): string {
  const n = ROW[model]!;
  const data = Array.from({ length: n }, (_, i) => Math.round(Math.sin(i) * 1000) / 1000);
  return JSON.stringify({ inputs: [{ name: 'x', shape: [1, n], datatype: 'FP32', data }] });
}

function wrkScript(dir: string, model: string): string {
  const path = join(dir, `${model}.lua`);
  writeFileSync(path, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body(model))}\n`);
  return path;
}

function run(port: number, model: string, connections: number, script: string): WrkResult {
  return runWrk(`http://127.0.0.1:${port}/v2/models/${model}/infer`, connections, SECONDS, script);
}

function start(system: string, repo: string, port: number): ChildProcess {
  const node = process.execPath;
  const serve = (engine: string) => [
    join(ROOT, 'dist/cli/main.js'),
    'serve',
    '--model-repository',
    repo,
    '--http-port',
    String(port),
    '--http-engine',
    engine,
    '--intra-op-threads',
    THREADS,
    '--log-level',
    'warn',
  ];
  const args =
    system === 'tensorgate-uws'
      ? serve('uws')
      : system === 'tensorgate-node'
        ? serve('node')
        : system === 'fastify-ort'
          ? [join(BENCH_DIR, 'baseline/fastify-ort.mjs'), repo, String(port), THREADS]
          : [join(BENCH_DIR, 'baseline/uws-ceiling.mjs'), String(port)];
  return spawn(node, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function main(): Promise<void> {
  checkWrk();
  const build = spawnSync('npx', ['tsc', '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error('TypeScript build failed');
  const examples = join(ROOT, 'examples', 'models');
  await makeExampleModels(examples);
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-bench-http-'));
  const repo = join(work, 'models');
  for (const m of MODELS) {
    mkdirSync(join(repo, m, '1'), { recursive: true });
    cpSync(join(examples, m, '1', 'model.onnx'), join(repo, m, '1', 'model.onnx'));
  }
  if (!MODELS.includes('tiny')) {
    mkdirSync(join(repo, 'tiny', '1'), { recursive: true });
    cpSync(join(examples, 'tiny', '1', 'model.onnx'), join(repo, 'tiny', '1', 'model.onnx'));
  }
  const scripts = Object.fromEntries(MODELS.map((m) => [m, wrkScript(work, m)]));
  const rows: Array<{ system: string; model: string; connections: number } & WrkResult> = [];
  let port = 18_400;
  for (const system of SYSTEMS) {
    port++;
    const child = start(system, repo, port);
    try {
      await waitReady(child, `http://127.0.0.1:${port}/v2/models/tiny/infer`, body('tiny'));
      for (const model of MODELS) {
        for (const c of CONNECTIONS) {
          run(port, model, Math.min(c, 8), scripts[model]!); // warm
          rows.push({ system, model, connections: c, ...run(port, model, c, scripts[model]!) });
          console.error(`done: ${system} ${model} c=${c}`);
        }
      }
    } finally {
      await stop(child);
    }
  }
  const get = (s: string, m: string, c: number) => rows.find((r) => r.system === s && r.model === m && r.connections === c);
  const ratios = MODELS.flatMap((m) =>
    CONNECTIONS.map((c) => {
      const tg = get('tensorgate-uws', m, c);
      const base = get('fastify-ort', m, c);
      const ceiling = get('uws-ceiling', m, c);
      return {
        model: m,
        connections: c,
        uws_over_fastify_rps: tg && base ? tg.rps / base.rps : NaN,
        fastify_p99_over_uws_p99: tg && base ? base.p99_us / tg.p99_us : NaN,
        uws_over_ceiling_rps: tg && ceiling ? tg.rps / ceiling.rps : NaN,
        node_over_uws_rps: tg && get('tensorgate-node', m, c) ? get('tensorgate-node', m, c)!.rps / tg.rps : NaN,
      };
    }),
  );
  console.log(
    table(rows.map((r) => ({ system: r.system, model: r.model, c: r.connections, rps: Math.round(r.rps), p50_us: r.p50_us, p90_us: r.p90_us, p99_us: r.p99_us, errors: r.errors }))),
  );
  console.log();
  console.log(table(ratios.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(2) : v])))));
  const file = writeResults('http', { machine: machine(), seconds: SECONDS, intra_op_threads: Number(THREADS), load_generator: 'wrk -t1', rows, ratios });
  console.log(`\nwrote ${file}`);
}

await main();
