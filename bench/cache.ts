// npm run bench:cache — the response cache over HTTP on the MLP (wrk, separate process), systems
// interleaved over rounds (median and min–max): 90 % of requests over 100 hot inputs and 10 % unique,
// with the cache off, L1 only and L1 + Redis; and an all-hits load against L1 and against the uWS echo
// (bench/baseline/uws-echo.mjs, no model) with the same body. Servers run with one HTTP thread and stay
// up across rounds (the cache is warm after the first). Env: BENCH_SECONDS (8), BENCH_ROUNDS (5),
// BENCH_CONNECTIONS (64), BENCH_INTRA_THREADS (1). Prints tables and writes bench/results/cache.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { RedisServer } from '../test/helpers/redis-server.js';
import { BENCH_DIR, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave } from './lib/rounds.js';
import { checkWrk, runWrk, stop, waitReady } from './wrk.js';
import { buildDist, loadRows } from './lib/report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '64').split(',').map(Number);
const THREADS = process.env.BENCH_INTRA_THREADS ?? '1';

// 100 hot bodies, built the same way in Lua and here (for readiness checks).
const LUA_HOT = `
local hot = {}
for i = 1, 100 do
  local vals = {}
  for j = 1, 256 do vals[j] = string.format("%.3f", math.sin(i * 7 + j)) end
  hot[i] = '{"inputs":[{"name":"x","shape":[1,256],"datatype":"FP32","data":[' .. table.concat(vals, ",") .. ']}]}'
end
local headers = { ["Content-Type"] = "application/json" }
`;

const MIXED = `${LUA_HOT}
math.randomseed(7)
request = function()
  local body
  if math.random() < 0.9 then
    body = hot[math.random(1, 100)]
  else
    local vals = {}
    for j = 1, 256 do vals[j] = string.format("%.5f", math.random()) end
    body = '{"inputs":[{"name":"x","shape":[1,256],"datatype":"FP32","data":[' .. table.concat(vals, ",") .. ']}]}'
  end
  return wrk.format("POST", nil, headers, body)
end
`;

const ALL_HITS = `${LUA_HOT}
request = function() return wrk.format("POST", nil, headers, hot[1]) end
`;

const firstHot = JSON.stringify({
  inputs: [{ name: 'x', shape: [1, 256], datatype: 'FP32', data: Array.from({ length: 256 }, (_, j) => Number(Math.sin(7 + j + 1).toFixed(3))) }],
});

/** The systems: what serves, and the load it gets. */
const SYSTEMS = ['hot90: cache off', 'hot90: L1', 'hot90: L1 + Redis', 'hits: L1', 'hits: uws-echo'] as const;
type System = (typeof SYSTEMS)[number];

function serve(repo: string, port: number, cache: string[]): ChildProcess {
  const args = [join(ROOT, 'dist/cli/main.js'), 'serve', '--model-repository', repo, '--http-port', String(port), '--grpc-port', '0', '--http-threads', '1', '--intra-op-threads', THREADS, '--log-level', 'warn'];
  for (const c of cache) args.push('--cache', c);
  return spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function main(): Promise<void> {
  checkWrk();
  buildDist(ROOT);
  const examples = join(ROOT, 'examples', 'models');
  await makeExampleModels(examples);
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-bench-cache-'));
  const repo = (enable: boolean) => {
    const dir = join(work, enable ? 'cached' : 'plain');
    mkdirSync(join(dir, 'mlp', '1'), { recursive: true });
    cpSync(join(examples, 'mlp', '1', 'model.onnx'), join(dir, 'mlp', '1', 'model.onnx'));
    writeFileSync(join(dir, 'mlp', 'config.json'), JSON.stringify({ response_cache: { enable } }));
    return dir;
  };
  const plain = repo(false);
  const cached = repo(true);
  const scripts = { hot90: join(work, 'mixed.lua'), hits: join(work, 'hits.lua') };
  writeFileSync(scripts.hot90, MIXED);
  writeFileSync(scripts.hits, ALL_HITS);
  const recorder = machineRecorder(ROOT);
  const redis = await RedisServer.start();
  const local = 'local,size=256MiB';
  const children = new Map<System, { child: ChildProcess; port: number }>();
  try {
    const starts: Record<System, (port: number) => ChildProcess> = {
      'hot90: cache off': (p) => serve(plain, p, []),
      'hot90: L1': (p) => serve(cached, p, [local]),
      'hot90: L1 + Redis': (p) => serve(cached, p, [local, `redis,url=${redis.url}`]),
      'hits: L1': (p) => serve(cached, p, [local]),
      'hits: uws-echo': (p) => spawn(process.execPath, [join(BENCH_DIR, 'baseline/uws-echo.mjs'), String(p)], { stdio: ['ignore', 'ignore', 'inherit'] }),
    };
    let port = 18_500;
    for (const system of SYSTEMS) {
      const p = ++port;
      const child = starts[system](p);
      children.set(system, { child, port: p });
      await waitReady(child, `http://127.0.0.1:${p}/v2/models/mlp/infer`, firstHot);
      runWrk(`http://127.0.0.1:${p}/v2/models/mlp/infer`, 64, 3, system.startsWith('hits') ? scripts.hits : scripts.hot90); // warm: fills the cache
    }
    const results = await interleave(
      ROUNDS,
      SYSTEMS,
      CONNECTIONS.map((connections) => ({ connections })),
      (system, { connections }) => {
        const r = runWrk(`http://127.0.0.1:${children.get(system)!.port}/v2/models/mlp/infer`, connections, SECONDS, system.startsWith('hits') ? scripts.hits : scripts.hot90);
        return { rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors };
      },
      (text) => console.error(text),
    );
    console.log(
      table(loadRows(results, (c) => ({ c: c.connections }))),
    );
    const median = (s: System, c: number, m: 'rps' | 'p99_us') => results.find((r) => r.system === s && r.cell.connections === c)!.metrics[m].median;
    const ratios = CONNECTIONS.map((c) => ({
      connections: c,
      l1_p99_over_off_p99: median('hot90: L1', c, 'p99_us') / median('hot90: cache off', c, 'p99_us'),
      l1_redis_p99_over_off_p99: median('hot90: L1 + Redis', c, 'p99_us') / median('hot90: cache off', c, 'p99_us'),
      l1_rps_over_off_rps: median('hot90: L1', c, 'rps') / median('hot90: cache off', c, 'rps'),
      all_hits_rps_over_echo: median('hits: L1', c, 'rps') / median('hits: uws-echo', c, 'rps'),
    }));
    console.log();
    console.log(table(ratios.map((r) => Object.fromEntries(Object.entries(r).map(([key, v]) => [key, Number.isInteger(v) ? v : v.toFixed(3)])))));
    const file = writeResults('cache', {
      machine: recorder.record(),
      seconds: SECONDS,
      rounds: ROUNDS,
      model: 'mlp',
      load_generator: 'wrk -t1',
      results: results.map((r) => ({ system: r.system, ...r.cell, ...r.metrics })),
      ratios,
    });
    console.log(`\nwrote ${file}`);
  } finally {
    await Promise.all([...children.values()].map(({ child }) => stop(child)));
    await redis.stop();
  }
}

await main();
