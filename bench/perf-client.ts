// npm run bench:perf-client — `tensorgate perf`'s own overhead: the same server loaded by wrk and by
// tensorgate perf with the same JSON body at the same connection count, interleaved over rounds;
// reports both req/s and p50 and their ratio (target: within 5 % at 64 connections), and the client
// CPU tensorgate perf spends per request. Env: BENCH_SECONDS (6), BENCH_ROUNDS (5), BENCH_CONNECTIONS
// (1,64), BENCH_MODELS (tiny,mlp). Writes bench/results/perf-client.json.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { parsePerfArgs, type PerfOptions } from '../src/perf/options.js';
import { runPerf } from '../src/perf/perf-command.js';
import { inferBody, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave, spreadText } from './lib/rounds.js';
import { checkWrk, runWrk, stop, waitReady } from './wrk.js';
import { buildDist, kilo } from './lib/report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '1,64').split(',').map(Number);
const MODELS = (process.env.BENCH_MODELS ?? 'tiny,mlp').split(',');
const PORT = 18_640;

async function main(): Promise<void> {
  checkWrk();
  buildDist(ROOT);
  const examples = join(ROOT, 'examples', 'models');
  await makeExampleModels(examples);
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-bench-perf-'));
  const repo = join(work, 'models');
  const scripts: Record<string, string> = {};
  const inputs: Record<string, string> = {};
  for (const m of MODELS) {
    mkdirSync(join(repo, m, '1'), { recursive: true });
    cpSync(join(examples, m, '1', 'model.onnx'), join(repo, m, '1', 'model.onnx'));
    const body = inferBody(m);
    scripts[m] = join(work, `${m}.lua`);
    writeFileSync(scripts[m]!, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`);
    // The same values for tensorgate perf (--input-data), sent as JSON and answered as JSON, like wrk's.
    const input = (JSON.parse(body) as { inputs: Array<{ name: string; shape: number[]; data: number[] }> }).inputs[0]!;
    inputs[m] = join(work, `${m}.json`);
    writeFileSync(inputs[m]!, JSON.stringify({ data: [{ [input.name]: { content: input.data, shape: input.shape } }] }));
  }
  const recorder = machineRecorder(ROOT);
  const server: ChildProcess = spawn(process.execPath, [join(ROOT, 'dist/cli/main.js'), 'serve', '--model-repository', repo, '--http-port', String(PORT), '--grpc-port', '0', '--http-threads', '1', '--intra-op-threads', '1', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitReady(server, `http://127.0.0.1:${PORT}/v2/models/${MODELS[0]}/infer`, inferBody(MODELS[0]!));
    const cells = MODELS.flatMap((model) => CONNECTIONS.map((connections) => ({ model, connections })));
    const results = await interleave(
      ROUNDS,
      ['wrk', 'tensorgate-perf'] as const,
      cells,
      async (system, { model, connections }) => {
        if (system === 'wrk') {
          const url = `http://127.0.0.1:${PORT}/v2/models/${model}/infer`;
          runWrk(url, connections, 1, scripts[model]!);
          const r = runWrk(url, connections, SECONDS, scripts[model]!);
          return { rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, client_cpu_us: NaN };
        }
        const options = parsePerfArgs([
          '-m', model, '-u', `127.0.0.1:${PORT}`, '--concurrency-range', String(connections), '--input-data', inputs[model]!,
          '--input-tensor-format', 'json', '--output-tensor-format', 'json', '-p', String(Math.round((SECONDS * 1000) / 3)), '--max-trials', '3', '--warmup-interval', '1000', '-q',
        ]) as PerfOptions;
        const run = await runPerf(options, () => undefined);
        const s = run.steps[0]!;
        return { rps: s.throughput, p50_us: s.latencyUs.p50, p99_us: s.latencyUs.p99, client_cpu_us: s.clientCpuUs };
      },
      (text) => console.error(text),
    );
    console.log(table(results.map((r) => ({ client: r.system, model: r.cell.model, c: r.cell.connections, 'req/s': spreadText(r.metrics.rps, kilo), p50_us: spreadText(r.metrics.p50_us), p99_us: spreadText(r.metrics.p99_us), 'client cpu us/req': Number.isNaN(r.metrics.client_cpu_us.median) ? '-' : r.metrics.client_cpu_us.median.toFixed(1) }))));
    const median = (s: string, m: string, c: number, metric: 'rps' | 'p50_us') => results.find((r) => r.system === s && r.cell.model === m && r.cell.connections === c)!.metrics[metric].median;
    const ratios = cells.map(({ model, connections: c }) => ({
      model,
      connections: c,
      perf_over_wrk_rps: (median('tensorgate-perf', model, c, 'rps') / median('wrk', model, c, 'rps')).toFixed(3),
      perf_over_wrk_p50: (median('tensorgate-perf', model, c, 'p50_us') / median('wrk', model, c, 'p50_us')).toFixed(3),
    }));
    console.log();
    console.log(table(ratios));
    const file = writeResults('perf-client', { machine: recorder.record(), seconds: SECONDS, rounds: ROUNDS, results: results.map((r) => ({ system: r.system, ...r.cell, ...r.metrics })), ratios });
    console.log(`\nwrote ${file}`);
  } finally {
    await stop(server);
  }
}

await main();
