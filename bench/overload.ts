// npm run bench:overload — admission control under overload: `tensorgate serve` with its defaults
// (uWS, admission on, --default-request-timeout 50ms) serving the MLP, loaded by wrk (separate process)
// at 64 connections (the reference throughput) and at 1,024 (far more waiting clients than the queue
// can serve within the deadline), and at 1,024 with an explicit deadline in every request (the v2
// `timeout` parameter). Cells interleaved over rounds (median, min–max). Per cell:
//   - wrk: answers/s, p50/p99 of all answers, 200s (goodput) and 503/429s counted by a Lua script,
//     socket errors;
//   - a probe (this process, one request every 20 ms on its own connection): p99 of the admitted
//     requests and the round trip of refusals;
//   - what a refusal costs the server: timed through the inference service in this process.
// Issue 14's targets are printed against the figures (1,024 connections with the defaults: p99 of all
// answers <= 100 ms, goodput >= 80 % of the 64-connection throughput, only 200/503/429, no connection
// errors; with an explicit deadline: admitted p99 <= 2 x deadline; refusals < 1 ms).
// Env: OVERLOAD_SECONDS (10), OVERLOAD_ROUNDS (3), OVERLOAD_DEADLINES_MS (25,100), OVERLOAD_WRK_THREADS (2).
// Writes bench/results/overload.json.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mlpModel } from '../src/onnx/models.js';
import { putModel } from '../test/helpers/fixtures.js';
import { ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave, spreadText } from './lib/rounds.js';
import { freePort, startServer } from './lib/server-process.js';
import { checkWrk, parseWrk } from './wrk.js';
import { buildDist, kilo } from './lib/report.js';

const SECONDS = Number(process.env.OVERLOAD_SECONDS ?? 10);
const ROUNDS = Number(process.env.OVERLOAD_ROUNDS ?? 3);
/** Explicit deadlines tried at 1,024 connections: one below the HTTP layer's own cycle there, one above. */
const DEADLINES_MS = (process.env.OVERLOAD_DEADLINES_MS ?? '25,100').split(',').map(Number);
const WRK_THREADS = Number(process.env.OVERLOAD_WRK_THREADS ?? 2);

interface Cell {
  connections: number;
  /** The request's own deadline (ms) in the `timeout` parameter; 0: none (the server default applies). */
  deadlineMs: number;
}
const CELLS: Cell[] = [
  { connections: 64, deadlineMs: 0 },
  { connections: 1024, deadlineMs: 0 },
  ...DEADLINES_MS.map((deadlineMs) => ({ connections: 1024, deadlineMs })),
];

function body(deadlineMs: number): string {
  const data = Array.from({ length: 256 }, (_, i) => Math.round(Math.sin(i) * 1000) / 1000);
  return JSON.stringify({
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 256], data }],
    ...(deadlineMs > 0 ? { parameters: { timeout: deadlineMs * 1000 } } : {}),
  });
}

/** A wrk script posting `payload` that counts answers by status (200, 503/429, other) across threads. */
function wrkScript(dir: string, name: string, payload: string): string {
  const path = join(dir, `${name}.lua`);
  writeFileSync(
    path,
    `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = ${JSON.stringify(payload)}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok = 0; refused = 0; other = 0 end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 503 or status == 429 then refused = refused + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local o, r, x = 0, 0, 0
  for _, t in ipairs(threads) do o = o + t:get("ok"); r = r + t:get("refused"); x = x + t:get("other") end
  io.write(string.format("STATUS ok=%d refused=%d other=%d\\n", o, r, x))
end
`,
  );
  return path;
}

interface ProbeResult {
  admittedMs: number[];
  refusedMs: number[];
  other: number;
}

/** One request at a time every `everyMs`, on its own keep-alive connection, until `stop()`. */
function probe(port: number, payload: string, everyMs: number): { stop(): Promise<ProbeResult> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const result: ProbeResult = { admittedMs: [], refusedMs: [], other: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      const status = await new Promise<number>((resolve) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v2/models/mlp/infer', agent, headers: { 'content-length': Buffer.byteLength(payload) } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve(0));
        req.end(payload);
      });
      const ms = performance.now() - t0;
      if (status === 200) result.admittedMs.push(ms);
      else if (status === 503 || status === 429) result.refusedMs.push(ms);
      else result.other++;
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - ms)));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      agent.destroy();
      return result;
    },
  };
}

const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/**
 * What a refusal costs the server: requests to a model whose queue is full of slow work, refused by
 * admission, timed through the inference service in this process (no HTTP): µs per refusal.
 */
async function refusalCostUs(): Promise<{ perRefusalUs: number; refusals: number }> {
  const { serveOptionsSchema } = await import('../src/cli/options.js');
  const { startServer: startInProcess } = await import('../src/cli/serve.js');
  const { RequestContext } = await import('../src/inference/index.js');
  const { HTTP_WIRE } = await import('../src/server/http-wire.js');
  const { slowBatchModel } = await import('../src/onnx/models.js');
  const root = join(mkdtempSync(join(tmpdir(), 'tg-refusal-')), 'models');
  putModel(root, 'slow', 1, slowBatchModel({ ms: 50, size: 256 }));
  const { putConfig } = await import('../test/helpers/fixtures.js');
  putConfig(root, 'slow', { max_batch_size: 1, parameters: { intra_op_thread_count: { string_value: '1' } } });
  const running = await startInProcess(serveOptionsSchema.parse({ modelRepository: root, httpPort: 0, grpcPort: 0, logLevel: 'silent', httpEngine: 'node' }));
  try {
    const payload = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 256], data: new Array(256).fill(1) }] }));
    const run = () => running.service.infer(new RequestContext('http', HTTP_WIRE, 'slow', undefined, payload));
    await run(); // the engine's cost per row is measured
    const busy = Array.from({ length: 4 }, run); // 200 ms of work ahead: everything after is refused
    const n = 20_000;
    let refusals = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await run().then(
        () => undefined,
        () => refusals++,
      );
    }
    const perRefusalUs = ((performance.now() - t0) * 1000) / n;
    await Promise.allSettled(busy);
    return { perRefusalUs, refusals };
  } finally {
    await running.stop();
  }
}

async function main(): Promise<void> {
  checkWrk();
  buildDist(ROOT);
  const work = mkdtempSync(join(tmpdir(), 'tg-overload-'));
  const root = join(work, 'models');
  putModel(root, 'mlp', 1, mlpModel());
  const recorder = machineRecorder(ROOT);
  const port = await freePort();
  // The defaults, as shipped: no flag but the repository and the port.
  const server = await startServer(['--model-repository', root], port, 0);
  try {
    const url = `http://127.0.0.1:${port}/v2/models/mlp/infer`;
    const scripts = new Map(CELLS.map((c) => [c.deadlineMs, wrkScript(work, `d${c.deadlineMs}`, body(c.deadlineMs))]));
    spawnSync('wrk', ['-t1', '-c8', '-d2s', '-s', scripts.get(0)!, url]); // warm up
    const results = await interleave(
      ROUNDS,
      ['tensorgate-uws-defaults'] as const,
      CELLS,
      async (_system, cell) => {
        const p = probe(port, body(cell.deadlineMs), 20);
        // wrk runs asynchronously: the probe needs this process's event loop meanwhile.
        const out = await new Promise<string>((resolve, reject) => {
          const child = spawn('wrk', [`-t${WRK_THREADS}`, `-c${cell.connections}`, `-d${SECONDS}s`, '--latency', '-s', scripts.get(cell.deadlineMs)!, url]);
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.once('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`wrk failed: ${stderr}`))));
        });
        const probed = await p.stop();
        const w = parseWrk(out);
        const m = /STATUS ok=(\d+) refused=(\d+) other=(\d+)/.exec(out);
        const [ok, refused, other] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
        const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
        return {
          answers_per_s: w.rps,
          goodput_per_s: ok / SECONDS,
          refused_share: refused / (ok + refused + other),
          other_statuses: other,
          socket_errors: sock ? sock.slice(1).reduce((n, v) => n + Number(v), 0) : 0,
          p50_all_ms: w.p50_us / 1000,
          p99_all_ms: w.p99_us / 1000,
          probe_admitted_p99_ms: quantile(probed.admittedMs, 0.99),
          probe_refused_p50_ms: quantile(probed.refusedMs, 0.5),
        };
      },
      (text) => process.stderr.write(`${text}\n`),
    );
    const f1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : '-');
    process.stdout.write(
      `${table(
        results.map((r) => ({
          connections: r.cell.connections,
          deadline: r.cell.deadlineMs ? `${r.cell.deadlineMs} ms (request)` : 'default',
          'answers/s': spreadText(r.metrics.answers_per_s, kilo),
          'goodput/s': spreadText(r.metrics.goodput_per_s, kilo),
          refused: spreadText(r.metrics.refused_share, (v) => `${(v * 100).toFixed(0)}%`),
          'p50 all ms': spreadText(r.metrics.p50_all_ms, f1),
          'p99 all ms': spreadText(r.metrics.p99_all_ms, f1),
          'admitted p99 ms': spreadText(r.metrics.probe_admitted_p99_ms, f1),
          'refusal RTT p50 ms': spreadText(r.metrics.probe_refused_p50_ms, f1),
          'errors/other': `${r.metrics.socket_errors.runs.reduce((a, b) => a + b, 0)}/${r.metrics.other_statuses.runs.reduce((a, b) => a + b, 0)}`,
        })),
      )}\n`,
    );
    const find = (c: number, d: number) => results.find((r) => r.cell.connections === c && r.cell.deadlineMs === d)!.metrics;
    const ref = find(64, 0);
    const over = find(1024, 0);
    const refusal = await refusalCostUs();
    process.stdout.write(`\nrefusal cost in the inference service: ${refusal.perRefusalUs.toFixed(1)} µs each (${refusal.refusals} refusals)\n`);
    const targets = [
      { target: 'p99 of all answers at 1,024 connections (defaults) <= 100 ms', value: over.p99_all_ms.median, met: over.p99_all_ms.median <= 100 },
      { target: 'goodput at 1,024 >= 80 % of the 64-connection throughput', value: over.goodput_per_s.median / ref.goodput_per_s.median, met: over.goodput_per_s.median >= 0.8 * ref.goodput_per_s.median },
      { target: 'only 200 and 503/429 answers, no connection errors', value: over.other_statuses.median + over.socket_errors.median, met: over.other_statuses.max === 0 && over.socket_errors.max === 0 },
      ...DEADLINES_MS.map((d) => {
        const m = find(1024, d);
        return { target: `admitted p99 with a ${d} ms deadline <= 2 x deadline`, value: m.probe_admitted_p99_ms.median, met: m.probe_admitted_p99_ms.median <= 2 * d };
      }),
      { target: 'a refusal costs the server < 1 ms (in-process, µs)', value: refusal.perRefusalUs, met: refusal.perRefusalUs < 1000 },
    ];
    process.stdout.write(`\n${table(targets.map((t) => ({ ...t, value: Number(t.value.toFixed(3)), met: t.met ? 'yes' : 'NO' })))}\n`);
    const file = writeResults('overload', {
      machine: recorder.record(),
      seconds: SECONDS,
      rounds: ROUNDS,
      deadlines_ms: DEADLINES_MS,
      refusal_cost_us: refusal.perRefusalUs,
      load_generator: `wrk -t${WRK_THREADS}`,
      server: 'tensorgate serve --model-repository <mlp> (defaults: uWS, admission on, 50 ms default deadline)',
      results: results.map((r) => ({ ...r.cell, ...r.metrics })),
      targets,
    });
    process.stdout.write(`\nwrote ${file}\n`);
  } finally {
    await server.stop();
  }
}

await main();
