// npm run bench:http-threads — requests/s against --http-threads, to see HTTP scale with cores: the
// same tensorgate serve with 1, 2, 4, … up to the cores (BENCH_THREADS), and Fastify + onnxruntime-node
// in cluster mode with one process per core as what a Node team would otherwise run; wrk from a
// separate process with BENCH_WRK_THREADS threads (default: a quarter of the cores, at least 1),
// systems interleaved over rounds. Written to run unchanged on a large machine; on a 2-core one the
// load generator shares the cores and the picture says little beyond "no regression at 1 thread".
// Env: BENCH_SECONDS (5), BENCH_ROUNDS (5), BENCH_CONNECTIONS (64,256), BENCH_MODELS (tiny,mlp),
// BENCH_THREADS, BENCH_INTRA_THREADS (1). Writes bench/results/http-threads.json and .svg.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { BENCH_DIR, inferBody, RESULTS_DIR, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave } from './lib/rounds.js';
import { checkWrk, runWrk, stop, waitReady } from './wrk.js';
import { buildDist, loadRows } from './lib/report.js';

const CORES = availableParallelism();
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '64,256').split(',').map(Number);
const MODELS = (process.env.BENCH_MODELS ?? 'tiny,mlp').split(',');
const INTRA = process.env.BENCH_INTRA_THREADS ?? '1';
const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? Math.max(1, Math.floor(CORES / 4)));
const THREADS = (process.env.BENCH_THREADS ?? [...new Set([1, 2, 4, 8, 16, 32, 64].filter((t) => t < CORES).concat(CORES))].join(',')).split(',').map(Number);
const SYSTEMS = [...THREADS.map((t) => `tensorgate-${t}t`), 'fastify-ort-cluster'];

function start(system: string, repo: string, port: number): ChildProcess {
  const args =
    system === 'fastify-ort-cluster'
      ? [join(BENCH_DIR, 'baseline/fastify-ort-cluster.mjs'), repo, String(port)]
      : [join(ROOT, 'dist/cli/main.js'), 'serve', '--model-repository', repo, '--http-port', String(port), '--grpc-port', '0', '--http-threads', system.replace(/^tensorgate-(\d+)t$/, '$1'), '--intra-op-threads', INTRA, '--log-level', 'warn'];
  return spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

function svg(points: Array<{ model: string; connections: number; threads: number; rps: number; cluster: number }>): string {
  const W = 720;
  const H = 420;
  const m = { l: 70, r: 190, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const xMax = Math.max(...THREADS);
  const yMax = Math.max(...points.map((p) => Math.max(p.rps, p.cluster))) * 1.1;
  const x = (t: number) => m.l + (Math.log2(t) / Math.max(1, Math.log2(xMax))) * pw;
  const y = (v: number) => m.t + ph - (v / yMax) * ph;
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12"><rect width="${W}" height="${H}" fill="white"/>`];
  out.push(`<text x="${m.l}" y="22" font-size="15" font-weight="bold">req/s against --http-threads (${CORES} cores, wrk -t${WRK_THREADS})</text>`);
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (const t of THREADS) out.push(`<text x="${x(t)}" y="${m.t + ph + 18}" text-anchor="middle">${t}</text>`);
  for (let i = 0; i <= 5; i++) out.push(`<text x="${m.l - 8}" y="${y((yMax * i) / 5) + 4}" text-anchor="end">${Math.round((yMax * i) / 5 / 1000)}k</text>`);
  out.push(`<text x="${m.l + pw / 2}" y="${H - 12}" text-anchor="middle">HTTP threads</text>`);
  const keys = [...new Set(points.map((p) => `${p.model} c=${p.connections}`))];
  keys.forEach((key, i) => {
    const ps = points.filter((p) => `${p.model} c=${p.connections}` === key).sort((a, b) => a.threads - b.threads);
    const color = colors[i % colors.length]!;
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${ps.map((p) => `${x(p.threads).toFixed(1)},${y(p.rps).toFixed(1)}`).join(' ')}"/>`);
    const cl = ps[0]!.cluster;
    out.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(cl).toFixed(1)}" y2="${y(cl).toFixed(1)}" stroke="${color}" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${m.l + pw + 10}" y="${m.t + 14 + i * 34}" fill="${color}">${key}</text>`);
    out.push(`<text x="${m.l + pw + 10}" y="${m.t + 28 + i * 34}" fill="${color}" font-size="10">dashed: Fastify cluster</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

async function main(): Promise<void> {
  checkWrk();
  buildDist(ROOT);
  const examples = join(ROOT, 'examples', 'models');
  await makeExampleModels(examples);
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-bench-threads-'));
  const repo = join(work, 'models');
  const scripts: Record<string, string> = {};
  for (const m of MODELS) {
    mkdirSync(join(repo, m, '1'), { recursive: true });
    cpSync(join(examples, m, '1', 'model.onnx'), join(repo, m, '1', 'model.onnx'));
    scripts[m] = join(work, `${m}.lua`);
    writeFileSync(scripts[m]!, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(inferBody(m))}\n`);
  }
  const recorder = machineRecorder(ROOT);
  const ports = new Map<string, number>();
  const children: ChildProcess[] = [];
  try {
    let port = 18_700;
    for (const system of SYSTEMS) {
      ports.set(system, ++port);
      const child = start(system, repo, port);
      children.push(child);
      await waitReady(child, `http://127.0.0.1:${port}/v2/models/${MODELS[0]}/infer`, inferBody(MODELS[0]!));
    }
    const cells = MODELS.flatMap((model) => CONNECTIONS.map((connections) => ({ model, connections })));
    const results = await interleave(
      ROUNDS,
      SYSTEMS,
      cells,
      (system, { model, connections }) => {
        const url = `http://127.0.0.1:${ports.get(system)}/v2/models/${model}/infer`;
        runWrk(url, Math.min(connections, 8), 1, scripts[model]!, WRK_THREADS);
        const r = runWrk(url, connections, SECONDS, scripts[model]!, WRK_THREADS);
        return { rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors };
      },
      (text) => console.error(text),
    );
    console.log(table(loadRows(results, (c) => ({ model: c.model, c: c.connections }))));
    const rps = (s: string, m: string, c: number) => results.find((r) => r.system === s && r.cell.model === m && r.cell.connections === c)!.metrics.rps.median;
    const points = cells.flatMap(({ model, connections }) => THREADS.map((threads) => ({ model, connections, threads, rps: rps(`tensorgate-${threads}t`, model, connections), cluster: rps('fastify-ort-cluster', model, connections) })));
    const scaling = cells.map(({ model, connections }) => ({
      model,
      connections,
      ...Object.fromEntries(THREADS.map((t) => [`${t}t_over_1t`, (rps(`tensorgate-${t}t`, model, connections) / rps('tensorgate-1t', model, connections)).toFixed(2)])),
      [`${THREADS[THREADS.length - 1]}t_over_fastify_cluster`]: (rps(`tensorgate-${THREADS[THREADS.length - 1]}t`, model, connections) / rps('fastify-ort-cluster', model, connections)).toFixed(2),
    }));
    console.log();
    console.log(table(scaling));
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(join(RESULTS_DIR, 'http-threads.svg'), svg(points));
    const file = writeResults('http-threads', { machine: recorder.record(), seconds: SECONDS, rounds: ROUNDS, load_generator: `wrk -t${WRK_THREADS}`, intra_op_threads: Number(INTRA), results: results.map((r) => ({ system: r.system, ...r.cell, ...r.metrics })), scaling });
    console.log(`\nwrote ${file} and http-threads.svg`);
  } finally {
    await Promise.all(children.map((c) => stop(c)));
  }
}

await main();
