// npm run fuzz:live — hostile traffic against a real `tensorgate serve` (child process), on each HTTP
// transport: fuzzed and mutated HTTP requests (test/helpers/fuzz-corpus.ts: JSON, binary and raw
// bodies, paths, methods, headers, compression) and gRPC ModelInfer messages, mixed with valid ones,
// over keep-alive connections. Passes when: 0 answers 5xx (other than the server's deliberate 503s),
// 0 connections dropped without an answer, the process alive and serving, and its memory back to the
// warmed-up baseline (RSS and heap after the run within 10 % + 32 MiB of the baseline taken after a
// warm-up of the same traffic; stated bound: allocator and JIT noise on a shared machine).
// Env: FUZZ_HTTP (10000 per transport), FUZZ_GRPC (5000), FUZZ_CONCURRENCY (16), FUZZ_SEED (1),
// FUZZ_ENGINES (uws,node). Writes bench/results/fuzz-live.json; exits 1 on any failure.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel, mlpModel, tinyModel } from '../src/onnx/models.js';
import { putModel } from '../test/helpers/fixtures.js';
import { fuzzLive, type LiveFuzzReport } from '../test/helpers/fuzz-live.js';
import { ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { freePort, sampleProcess, startServer, type ProcessSample } from './lib/server-process.js';

const HTTP = Number(process.env.FUZZ_HTTP ?? 10_000);
const GRPC = Number(process.env.FUZZ_GRPC ?? 5_000);
const CONCURRENCY = Number(process.env.FUZZ_CONCURRENCY ?? 16);
const SEED = Number(process.env.FUZZ_SEED ?? 1);
const ENGINES = (process.env.FUZZ_ENGINES ?? 'uws,node').split(',');
const MiB = 1024 * 1024;

function repository(): string {
  const root = join(mkdtempSync(join(tmpdir(), 'tg-fuzz-')), 'models');
  putModel(root, 'mlp', 1, mlpModel());
  putModel(root, 'tiny', 1, tinyModel());
  putModel(root, 'strings', 1, identityModel(ElemType.STRING, ['batch', 2]));
  return root;
}

/** Back to baseline: within 10 % + 32 MiB. */
const withinBaseline = (after: number, before: number) => after <= before * 1.1 + 32 * MiB;

interface EngineResult {
  engine: string;
  warmup: LiveFuzzReport;
  run: LiveFuzzReport;
  baseline: ProcessSample;
  after: ProcessSample;
  alive: boolean;
  failures: string[];
}

async function fuzzEngine(engine: string, root: string): Promise<EngineResult> {
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const server = await startServer(['--model-repository', root, '--http-engine', engine, '--max-body-bytes', '1MiB'], httpPort, grpcPort);
  const t0 = performance.now();
  try {
    const options = { httpPort, grpcPort, concurrency: CONCURRENCY };
    // As much warm-up as the run: with uWS the server serves on every core's HTTP thread, and each
    // thread's heap and JIT code grow to their working size only once it has seen the traffic.
    const warmup = await fuzzLive({ ...options, httpRequests: HTTP, grpcRequests: GRPC, seed: SEED + 1000 });
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = await sampleProcess(httpPort, t0);
    const run = await fuzzLive({ ...options, httpRequests: HTTP, grpcRequests: GRPC, seed: SEED });
    await new Promise((r) => setTimeout(r, 3000));
    const after = await sampleProcess(httpPort, t0);
    const alive = server.child.exitCode === null && (await fetch(`http://127.0.0.1:${httpPort}/v2/health/ready`)).status === 200;
    const failures: string[] = [];
    for (const report of [warmup, run]) {
      if (report.http.serverErrors > 0) failures.push(`${report.http.serverErrors} HTTP 5xx: ${report.http.examples.join('; ')}`);
      if (report.http.dropped > 0) failures.push(`${report.http.dropped} HTTP connections dropped: ${report.http.examples.join('; ')}`);
      if (report.grpc.serverErrors > 0 || report.grpc.dropped > 0) failures.push(`gRPC: ${report.grpc.serverErrors} INTERNAL/UNKNOWN, ${report.grpc.dropped} dropped: ${report.grpc.examples.join('; ')}`);
    }
    if (!alive) failures.push('the server is not alive and ready after the run');
    if (!withinBaseline(after.rssBytes, baseline.rssBytes)) failures.push(`RSS ${(after.rssBytes / MiB).toFixed(0)} MiB after vs ${(baseline.rssBytes / MiB).toFixed(0)} MiB baseline`);
    if (!withinBaseline(after.heapUsedBytes, baseline.heapUsedBytes)) failures.push(`heap ${(after.heapUsedBytes / MiB).toFixed(0)} MiB after vs ${(baseline.heapUsedBytes / MiB).toFixed(0)} MiB baseline`);
    return { engine, warmup, run, baseline, after, alive, failures };
  } finally {
    await server.stop();
  }
}

async function main(): Promise<void> {
  const recorder = machineRecorder(ROOT);
  const root = repository();
  const results: EngineResult[] = [];
  for (const engine of ENGINES) results.push(await fuzzEngine(engine, root));
  const rows = results.map((r) => ({
    engine: r.engine,
    http: r.run.http.sent,
    'http 2xx': r.run.http.byStatus['200'] ?? 0,
    'http 4xx': Object.entries(r.run.http.byStatus).filter(([s]) => s.startsWith('4')).reduce((n, [, c]) => n + c, 0),
    'http 5xx (bug)': r.run.http.serverErrors,
    dropped: r.run.http.dropped + r.run.grpc.dropped,
    grpc: r.run.grpc.sent,
    'grpc bugs': r.run.grpc.serverErrors,
    'rss MiB before/after': `${(r.baseline.rssBytes / MiB).toFixed(0)}/${(r.after.rssBytes / MiB).toFixed(0)}`,
    'heap MiB before/after': `${(r.baseline.heapUsedBytes / MiB).toFixed(0)}/${(r.after.heapUsedBytes / MiB).toFixed(0)}`,
    verdict: r.failures.length === 0 ? 'pass' : 'FAIL',
  }));
  process.stdout.write(`${table(rows)}\n`);
  for (const r of results) for (const f of r.failures) process.stdout.write(`${r.engine}: ${f}\n`);
  const path = writeResults('fuzz-live', { machine: recorder.record(), settings: { HTTP, GRPC, CONCURRENCY, SEED, ENGINES }, results });
  process.stdout.write(`wrote ${path}\n`);
  if (results.some((r) => r.failures.length > 0)) process.exitCode = 1;
}

await main();
