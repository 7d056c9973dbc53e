// npm run bench:cache — the response cache over HTTP on the MLP at 64 connections (wrk, separate
// process): 90 % of requests over 100 hot inputs and 10 % unique, with the cache off, L1 only and
// L1 + Redis; plus an all-hits run against the uWS ceiling (bench/baseline/uws-ceiling.mjs) with the
// same body. Prints a table and writes bench/results/cache.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { RedisServer } from '../test/helpers/redis-server.js';
import { BENCH_DIR, machine, ROOT, table, writeResults } from './common.js';
import { checkWrk, runWrk, stop, waitReady, type WrkResult } from './wrk.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
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

function serve(repo: string, port: number, cache: string[]): ChildProcess {
  const args = [join(ROOT, 'dist/cli/main.js'), 'serve', '--model-repository', repo, '--http-port', String(port), '--intra-op-threads', THREADS, '--log-level', 'warn'];
  for (const c of cache) args.push('--cache', c);
  return spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function measure(label: string, child: ChildProcess, port: number, script: string): Promise<WrkResult & { system: string }> {
  const url = `http://127.0.0.1:${port}/v2/models/mlp/infer`;
  try {
    await waitReady(child, url, firstHot);
    runWrk(url, CONNECTIONS, 3, script); // warm: fills the cache with the hot set
    const r = runWrk(url, CONNECTIONS, SECONDS, script);
    console.error(`done: ${label}`);
    return { system: label, ...r };
  } finally {
    await stop(child);
  }
}

async function main(): Promise<void> {
  checkWrk();
  if (spawnSync('npx', ['tsc', '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' }).status !== 0) throw new Error('build failed');
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
  const mixed = join(work, 'mixed.lua');
  const hits = join(work, 'hits.lua');
  writeFileSync(mixed, MIXED);
  writeFileSync(hits, ALL_HITS);
  const redis = await RedisServer.start();
  const local = 'local,size=256MiB';
  const rows: Array<WrkResult & { system: string; workload: string }> = [];
  try {
    rows.push({ workload: '90% hot', ...(await measure('cache off', serve(plain, 18_501, []), 18_501, mixed)) });
    rows.push({ workload: '90% hot', ...(await measure('L1', serve(cached, 18_502, [local]), 18_502, mixed)) });
    rows.push({ workload: '90% hot', ...(await measure('L1 + Redis', serve(cached, 18_503, [local, `redis,url=${redis.url}`]), 18_503, mixed)) });
    rows.push({ workload: 'all hits', ...(await measure('L1', serve(cached, 18_504, [local]), 18_504, hits)) });
    const ceiling = spawn(process.execPath, [join(BENCH_DIR, 'baseline/uws-ceiling.mjs'), '18505'], { stdio: ['ignore', 'ignore', 'inherit'] });
    rows.push({ workload: 'all hits', ...(await measure('uws ceiling', ceiling, 18_505, hits)) });
  } finally {
    await redis.stop();
  }
  const find = (w: string, s: string) => rows.find((r) => r.workload === w && r.system === s)!;
  const off = find('90% hot', 'cache off');
  const ratios = {
    l1_p99_over_off_p99: find('90% hot', 'L1').p99_us / off.p99_us,
    l1_redis_p99_over_off_p99: find('90% hot', 'L1 + Redis').p99_us / off.p99_us,
    l1_rps_over_off_rps: find('90% hot', 'L1').rps / off.rps,
    all_hits_rps_over_ceiling: find('all hits', 'L1').rps / find('all hits', 'uws ceiling').rps,
  };
  console.log(table(rows.map((r) => ({ workload: r.workload, system: r.system, rps: Math.round(r.rps), p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors }))));
  console.log();
  console.log(table([Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, v.toFixed(3)]))]));
  const file = writeResults('cache', { machine: machine(), seconds: SECONDS, connections: CONNECTIONS, model: 'mlp', rows, ratios });
  console.log(`\nwrote ${file}`);
}

await main();
