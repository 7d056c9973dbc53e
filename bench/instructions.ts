// npm run bench:instructions — instructions executed per request (valgrind's callgrind), a figure that
// does not depend on timing: repeatable on a noisy machine whatever else runs, so a regression guard.
// Each system runs twice under callgrind with the same warm-up and a different number of measured
// requests; the difference of the two runs divided by the difference of the counts is the cost of one
// steady-state request (start-up, JIT warm-up and teardown cancel out). Spinning is off everywhere
// (its instructions depend on timing). Systems:
//   engine:<model>    tensorgate's engine in-process, one request at a time (bench/instructions-driver.mjs)
//   ort-node:<model>  onnxruntime-node's `await session.run`, one at a time
//   http:<model>      `tensorgate serve --http-threads 1` under callgrind, requests sent one at a time
//                     over one keep-alive connection (binary tensors) by this process, not measured
// Per request: the total, and where it went by object (ONNX Runtime, the tensorgate addon, uWS, node's
// own code and builtins, JIT-compiled JavaScript, libc, ...).
//
//   npm run bench:instructions                 measure, write bench/results/instructions.json
//   npm run bench:instructions -- --update     ... and make it the baseline (bench/baselines/instructions.json)
//   npm run bench:instructions -- --check      ... and fail when a figure is over the baseline by more
//                                              than BENCH_TOLERANCE (default 0.1)
// Env: BENCH_SYSTEMS (engine:tiny,engine:mlp,ort-node:tiny,ort-node:mlp,http:tiny,http:mlp),
// BENCH_WARM (2000), BENCH_COUNTS (300,2300). Needs valgrind and a built dist/ (npm run build:ts).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { HttpTarget } from '../src/perf/http-target.js';
import { httpPayload, inputSets } from '../src/perf/inputs.js';
import { parsePerfArgs, type PerfOptions } from '../src/perf/options.js';
import { BENCH_DIR, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';

const SYSTEMS = (process.env.BENCH_SYSTEMS ?? 'engine:tiny,engine:mlp,ort-node:tiny,ort-node:mlp,http:tiny,http:mlp').split(',');
const WARM = Number(process.env.BENCH_WARM ?? 2000);
const COUNTS = (process.env.BENCH_COUNTS ?? '300,2300').split(',').map(Number) as [number, number];
const TOLERANCE = Number(process.env.BENCH_TOLERANCE ?? 0.1);
const ROW: Record<string, string> = { tiny: '16', mlp: '256', encoder: '32x64' };
const BASELINE = join(BENCH_DIR, 'baselines', 'instructions.json');
const VALGRIND = ['--tool=callgrind', '--smc-check=all-non-file', '--dump-instr=no', '--collect-jumps=no'];

interface Run {
  total: number;
  /** Self cost by object file, and by function (object-qualified). */
  objects: Map<string, number>;
  functions: Map<string, number>;
}

/** Reads a callgrind output through callgrind_annotate: the total and each function's self cost. */
function readCallgrind(file: string): Run {
  const out = spawnSync('callgrind_annotate', ['--threshold=100', '--inclusive=no', file], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (out.status !== 0) throw new Error(`callgrind_annotate failed: ${out.stderr}`);
  const objects = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const line of out.stdout.split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(.*)$/.exec(line);
    if (!m) continue;
    const ir = Number(m[1]!.replace(/,/g, ''));
    const what = m[2]!.trim();
    if (what.startsWith('PROGRAM TOTALS')) {
      total = ir;
      continue;
    }
    const obj = /\[([^\]]*)\]\s*$/.exec(what)?.[1] ?? '???';
    const group = objectGroup(obj, what);
    objects.set(group, (objects.get(group) ?? 0) + ir);
    const fn = what.replace(/\s*\[[^\]]*\]\s*$/, '').replace(/^[^:]*:/, '');
    functions.set(`${group}: ${fn}`, (functions.get(`${group}: ${fn}`) ?? 0) + ir);
  }
  return { total, objects, functions };
}

/** Where an instruction ran, in groups a reader recognises. */
function objectGroup(obj: string, what: string): string {
  const name = basename(obj);
  if (name.startsWith('libonnxruntime')) return 'onnxruntime';
  if (name.startsWith('onnxruntime_binding')) return 'onnxruntime-node binding';
  if (name === 'tensorgate.node') return 'tensorgate addon';
  if (name.startsWith('uws_')) return 'uWS';
  if (name === 'node') {
    if (/v8::internal::compiler::|v8::internal::maglev::|v8::internal::baseline::/.test(what)) return 'node: JIT compiler';
    if (/Heap|Scavenge|MarkCompact|Sweeper|Marking|GC|Evacuat/.test(what)) return 'node: GC';
    if (/Builtins_/.test(what)) return 'node: builtins';
    return 'node: runtime';
  }
  if (name.startsWith('libc.so') || name.startsWith('ld-linux')) return 'libc';
  if (name.startsWith('libstdc++') || name.startsWith('libgcc')) return 'libstdc++';
  if (obj === '???' || obj === '') return 'JIT code (JavaScript)';
  return name;
}

function diff(a: Run, b: Run, n: number): { total: number; objects: Record<string, number>; top: Array<[string, number]> } {
  const per = (x: number, y: number) => (y - x) / n;
  const objects: Record<string, number> = {};
  for (const k of new Set([...a.objects.keys(), ...b.objects.keys()])) {
    const v = per(a.objects.get(k) ?? 0, b.objects.get(k) ?? 0);
    if (Math.abs(v) >= 1) objects[k] = Math.round(v);
  }
  const top = [...new Set([...a.functions.keys(), ...b.functions.keys()])]
    .map((k) => [k, per(a.functions.get(k) ?? 0, b.functions.get(k) ?? 0)] as [string, number])
    .sort((x, y) => y[1] - x[1])
    .slice(0, 15)
    .map(([k, v]) => [k, Math.round(v)] as [string, number]);
  return { total: Math.round(per(a.total, b.total)), objects, top };
}

function callgrindFile(dir: string, label: string): string {
  return join(dir, `${label.replace(/[^a-z0-9]+/gi, '-')}.out`);
}

function runDriver(dir: string, system: string, model: string, count: number): Run {
  const out = callgrindFile(dir, `${system}-${model}-${count}`);
  const args = [...VALGRIND, `--callgrind-out-file=${out}`, process.execPath, join(BENCH_DIR, 'instructions-driver.mjs'), system, modelPath(model), ROW[model]!, String(WARM), String(count)];
  const r = spawnSync('valgrind', args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`valgrind ${system} ${model} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return readCallgrind(out);
}

async function runServer(dir: string, repo: string, model: string, count: number, port: number): Promise<Run> {
  const out = callgrindFile(dir, `http-${model}-${count}`);
  const args = [
    ...VALGRIND,
    `--callgrind-out-file=${out}`,
    process.execPath,
    join(ROOT, 'dist/cli/main.js'),
    'serve',
    '--model-repository',
    repo,
    '--http-port',
    String(port),
    '--grpc-port',
    '0',
    '--http-threads',
    '1',
    '--http-engine',
    'uws',
    '--intra-op-threads',
    '1',
    '--spin-microseconds',
    '0',
    '--log-level',
    'warn',
  ];
  const child: ChildProcess = spawn('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const options = parsePerfArgs(['-m', model, '-u', `127.0.0.1:${port}`]) as PerfOptions;
    const target = new HttpTarget(options.url, model, undefined, {});
    const deadline = Date.now() + 600_000; // node and ORT start slowly under valgrind
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited: ${stderr.slice(-2000)}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v2/health/ready`);
        if (res.ok) break;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error('the server under valgrind did not become ready');
      await new Promise((r) => setTimeout(r, 500));
    }
    const info = await target.info();
    const payload = httpPayload(inputSets(info, options)[0]!, info, options);
    const sender = await target.sender();
    for (let i = 0; i < WARM + count; i++) {
      const o = await sender.send(payload);
      if (!o.ok) throw new Error(`request failed: ${o.error}`);
    }
    sender.close();
    await target.close();
  } finally {
    child.kill('SIGTERM');
  }
  const code = await exited;
  if (code !== 0 || !existsSync(out)) throw new Error(`the server under valgrind exited with ${code}: ${stderr.slice(-2000)}`);
  return readCallgrind(out);
}

let examples = '';
const modelPath = (model: string) => join(examples, model, '1', 'model.onnx');

async function main(): Promise<void> {
  const mode = process.argv.includes('--check') ? 'check' : process.argv.includes('--update') ? 'update' : 'measure';
  if (spawnSync('valgrind', ['--version']).error) throw new Error('valgrind is not installed (Debian: apt-get install valgrind)');
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: npm run build:ts first');
  examples = join(ROOT, 'examples', 'models');
  await makeExampleModels(examples);
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-bench-instr-'));
  const repo = join(work, 'models');
  for (const m of Object.keys(ROW)) {
    mkdirSync(join(repo, m, '1'), { recursive: true });
    cpSync(modelPath(m), join(repo, m, '1', 'model.onnx'));
  }
  const recorder = machineRecorder(ROOT);
  const results: Record<string, ReturnType<typeof diff>> = {};
  let port = 18_650;
  try {
    for (const entry of SYSTEMS) {
      const [system, model] = entry.split(':') as [string, string];
      const runs: Run[] = [];
      for (const count of COUNTS) {
        console.error(`callgrind: ${entry}, ${WARM} + ${count} requests`);
        runs.push(system === 'http' ? await runServer(work, repo, model, count, ++port) : runDriver(work, system, model, count));
      }
      results[entry] = diff(runs[0]!, runs[1]!, COUNTS[1] - COUNTS[0]);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  console.log(table(Object.entries(results).map(([system, r]) => ({ system, 'instructions/request': r.total, ...Object.fromEntries(Object.entries(r.objects).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v], i) => [`#${i + 1}`, `${k} ${v}`])) }))));
  const baseline = existsSync(BASELINE) ? (JSON.parse(readFileSync(BASELINE, 'utf8')) as { results: Record<string, { total: number }> }) : undefined;
  const comparison = Object.entries(results).map(([system, r]) => {
    const base = baseline?.results[system]?.total;
    return { system, now: r.total, baseline: base ?? NaN, ratio: base ? r.total / base : NaN };
  });
  if (baseline) {
    console.log(`\nagainst ${BASELINE} (tolerance ${TOLERANCE * 100} %)`);
    console.log(table(comparison.map((c) => ({ ...c, ratio: Number.isNaN(c.ratio) ? '-' : c.ratio.toFixed(3) }))));
  }
  const record = { machine: recorder.record(), warm: WARM, counts: COUNTS, valgrind: spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).stdout.trim(), results };
  console.log(`\nwrote ${writeResults('instructions', { ...record, comparison })}`);
  if (mode === 'update') {
    mkdirSync(join(BENCH_DIR, 'baselines'), { recursive: true });
    writeFileSync(BASELINE, `${JSON.stringify(record, null, 2)}\n`);
    console.log(`baseline updated: ${BASELINE}`);
  }
  if (mode === 'check') {
    const over = comparison.filter((c) => c.ratio > 1 + TOLERANCE);
    if (!baseline) throw new Error(`no baseline at ${BASELINE}: run with --update first`);
    if (over.length > 0) {
      console.error(`instruction count regression: ${over.map((c) => `${c.system} ${c.ratio.toFixed(3)}x`).join(', ')}`);
      process.exitCode = 1;
    } else {
      console.log('no instruction count regression');
    }
  }
}

await main();
