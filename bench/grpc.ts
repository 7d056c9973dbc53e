// npm run bench:grpc — the gRPC front against the HTTP front, one tensorgate serve, load from other
// processes, systems interleaved over rounds (median and min–max):
//   http-json    wrk, v2 JSON body
//   http-binary  wrk, v2 binary tensor extension (Inference-Header-Content-Length)
//   grpc-unary   h2load sending a pre-encoded ModelInfer frame (raw_input_contents), one connection
//                with `c` concurrent streams; latencies from its per-request log
//   grpc-stream  one ModelStreamInfer stream with `c` requests in flight (bench/grpc-stream-client.mjs,
//                a grpc-js client in its own process)
// Models tiny and mlp, concurrency 1 and 64. Env: BENCH_SECONDS (5), BENCH_ROUNDS (5), BENCH_MODELS,
// BENCH_CONCURRENCY, BENCH_SYSTEMS, BENCH_INTRA_THREADS (1). Writes bench/results/grpc.json.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { makeExampleModels } from '../src/tools/make-example-models.js';
import { BENCH_DIR, ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave } from './lib/rounds.js';
import { checkWrk, runWrk, stop, waitReady } from './wrk.js';
import { buildDist, loadRows } from './lib/report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MODELS = (process.env.BENCH_MODELS ?? 'tiny,mlp').split(',');
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,64').split(',').map(Number);
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? 'http-json,http-binary,grpc-unary,grpc-stream').split(',');
const THREADS = process.env.BENCH_INTRA_THREADS ?? '1';
const ROW: Record<string, number> = { tiny: 16, mlp: 256 };

type Measure = {
  rps: number;
  p50_us: number;
  p99_us: number;
  errors: number;
};

const row = (model: string): Float32Array => Float32Array.from({ length: ROW[model]! }, (_, i) => Math.round(Math.sin(i) * 1000) / 1000);

function luaString(bytes: Buffer): string {
  let s = '"';
  for (const b of bytes) s += `\\${b}`;
  return `${s}"`;
}

/** wrk scripts for the JSON and binary forms of one row of `model`. */
function wrkScripts(dir: string, model: string): { json: string; binary: string } {
  const data = row(model);
  const json = JSON.stringify({ inputs: [{ name: 'x', shape: [1, data.length], datatype: 'FP32', data: [...data] }] });
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, data.length], datatype: 'FP32', parameters: { binary_data_size: data.byteLength } }], parameters: { binary_data_output: true } }));
  const binary = Buffer.concat([header, Buffer.from(data.buffer)]);
  const jsonPath = join(dir, `${model}-json.lua`);
  const binaryPath = join(dir, `${model}-binary.lua`);
  writeFileSync(jsonPath, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = ${JSON.stringify(json)}\n`);
  writeFileSync(
    binaryPath,
    `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/octet-stream"\nwrk.headers["Inference-Header-Content-Length"] = "${header.length}"\nwrk.body = ${luaString(binary)}\n`,
  );
  return { json: jsonPath, binary: binaryPath };
}

/** A ModelInferRequest with raw_input_contents, encoded by protobufjs from our proto (independent of the server's codec). */
function inferRequest(model: string): Buffer {
  const root = new protobuf.Root().loadSync(join(ROOT, 'proto/grpc_service.proto'), { keepCase: true });
  const type = root.lookupType('inference.ModelInferRequest');
  const data = row(model);
  return Buffer.from(
    type.encode(type.fromObject({ model_name: model, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, data.length] }], raw_input_contents: [Buffer.from(data.buffer)] })).finish(),
  );
}

/** The gRPC frame h2load sends: 1 byte not-compressed, 4 bytes big-endian length, the message. */
function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

function h2load(port: number, model: string, concurrency: number, frameFile: string, logFile: string): Measure {
  const args = ['-t', '1', '-c', '1', '-m', String(concurrency), '-D', String(SECONDS), '--warm-up-time', '1', '-d', frameFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers', '--log-file', logFile, `http://127.0.0.1:${port}/inference.GRPCInferenceService/ModelInfer`];
  // h2load appends to its log: a previous run's lines would be read as this one's.
  rmSync(logFile, { force: true });
  const r = spawnSync('h2load', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`h2load failed: ${r.stderr || r.stdout}`);
  if (process.env.BENCH_DEBUG) console.error(r.stdout);
  // The log: one line per request, "start_us\tstatus\telapsed_us" (requests of the warm-up included;
  // status 0: still in flight when the duration ended, not an error).
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => l.split('\t').map(Number)).filter((l) => l[1] !== 0);
  // A loop, not Math.min(...): a run at 64 in flight logs more requests than a call has arguments.
  let t0 = Infinity;
  for (const l of lines) if (l[0]! < t0) t0 = l[0]!;
  const measured = lines.filter((l) => l[0]! - t0 >= 1e6);
  const lat = measured.map((l) => l[2]!).sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(r.stdout)?.[1] ?? NaN);
  return { rps, p50_us: q(0.5), p99_us: q(0.99), errors: measured.filter((l) => l[1] !== 200).length };
}

function streamClient(port: number, requestFile: string, concurrency: number): Measure {
  const r = spawnSync(process.execPath, [join(BENCH_DIR, 'grpc-stream-client.mjs'), String(port), requestFile, String(concurrency), String(SECONDS)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`stream client failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Measure;
}

async function main(): Promise<void> {
  checkWrk();
  if (spawnSync('h2load', ['--version']).error) throw new Error('h2load is not installed (Debian: apt-get install nghttp2-client)');
  buildDist(ROOT);
  const examples = join(ROOT, 'examples', 'models');
  await makeExampleModels(examples);
  const work = mkdtempSync(join(tmpdir(), 'tensorgate-bench-grpc-'));
  const repo = join(work, 'models');
  for (const m of new Set([...MODELS, 'tiny'])) {
    mkdirSync(join(repo, m, '1'), { recursive: true });
    cpSync(join(examples, m, '1', 'model.onnx'), join(repo, m, '1', 'model.onnx'));
  }
  const files = Object.fromEntries(
    MODELS.map((m) => {
      const message = inferRequest(m);
      const request = join(work, `${m}.bin`);
      const frame = join(work, `${m}.frame`);
      writeFileSync(request, message);
      writeFileSync(frame, grpcFrame(message));
      return [m, { ...wrkScripts(work, m), request, frame }];
    }),
  );
  const recorder = machineRecorder(ROOT);
  const httpPort = 18_500;
  const grpcPort = 18_501;
  const server = spawn(
    process.execPath,
    [join(ROOT, 'dist/cli/main.js'), 'serve', '--model-repository', repo, '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--http-threads', '1', '--intra-op-threads', THREADS, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  try {
    await waitReady(server, `http://127.0.0.1:${httpPort}/v2/models/tiny/infer`, JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: [...row('tiny')] }] }));
    const cells = MODELS.flatMap((model) => CONCURRENCY.map((concurrency) => ({ model, concurrency })));
    const results = await interleave(
      ROUNDS,
      SYSTEMS,
      cells,
      (system, { model, concurrency }): Measure => {
        const f = files[model]!;
        const url = `http://127.0.0.1:${httpPort}/v2/models/${model}/infer`;
        if (system === 'http-json' || system === 'http-binary') {
          const script = system === 'http-json' ? f.json : f.binary;
          runWrk(url, Math.min(concurrency, 8), 1, script);
          const r = runWrk(url, concurrency, SECONDS, script);
          return { rps: r.rps, p50_us: r.p50_us, p99_us: r.p99_us, errors: r.errors };
        }
        if (system === 'grpc-unary') return h2load(grpcPort, model, concurrency, f.frame, join(work, 'h2load.log'));
        return streamClient(grpcPort, f.request, concurrency);
      },
      (text) => console.error(text),
    );
    console.log(
      table(loadRows(results, (c) => ({ model: c.model, c: c.concurrency }))),
    );
    const median = (s: string, m: string, c: number) => results.find((r) => r.system === s && r.cell.model === m && r.cell.concurrency === c)?.metrics.rps.median ?? NaN;
    const ratios = cells.map(({ model, concurrency: c }) => ({
      model,
      concurrency: c,
      unary_over_http_binary: median('grpc-unary', model, c) / median('http-binary', model, c),
      stream_over_http_binary: median('grpc-stream', model, c) / median('http-binary', model, c),
      http_binary_over_json: median('http-binary', model, c) / median('http-json', model, c),
    }));
    console.log();
    console.log(table(ratios.map((r) => Object.fromEntries(Object.entries(r).map(([key, v]) => [key, typeof v === 'number' && !Number.isInteger(v) ? (Number.isNaN(v) ? '-' : v.toFixed(3)) : v])))));
    const file = writeResults('grpc', {
      machine: recorder.record(),
      seconds: SECONDS,
      rounds: ROUNDS,
      intra_op_threads: Number(THREADS),
      load_generators: { http: 'wrk -t1', 'grpc-unary': 'h2load -t1 -c1 -m<c>', 'grpc-stream': 'grpc-js client, one stream, own process' },
      results: results.map((r) => ({ system: r.system, ...r.cell, ...r.metrics })),
      ratios,
    });
    console.log(`\nwrote ${file}`);
  } finally {
    await stop(server);
  }
}

await main();
