// npm run bench:pipelines — what JavaScript models and ensembles cost, in-process through the model
// repository (servable.infer with a lease, as the inference service calls it; no HTTP, which adds the
// same to every system). Systems interleaved over rounds, median and min–max reported:
//   onnx        an ONNX identity model, x FP32 [batch, 16] -> y (dynamic batching, one runner)
//   js          a JavaScript model of the same shape whose execute hands x back (one worker)
//   js-2        the same with two workers
//   steps-3     three calls of the ONNX identity in a row (the sum of an ensemble's steps)
//   ensemble-3  an ensemble chaining the same three steps
// at concurrency 1 and 64 (closed loop: each client keeps one request outstanding). Targets (issue):
// js adds <= 30 us p50 over onnx at c=1 and keeps >= 50 % of its req/s at c=64; ensemble-3 adds
// <= 50 us p50 over steps-3. Env: BENCH_SECONDS (3), BENCH_ROUNDS (5), BENCH_CONCURRENCY (1,64).
// Prints a table and writes bench/results/pipelines.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine, type InferInputs } from '../src/engine/index.js';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel } from '../src/onnx/models.js';
import { ModelRepository } from '../src/repository/repository.js';
import { tempRepo } from '../test/helpers/fixtures.js';
import { ROOT, table, writeResults } from './common.js';
import { machineRecorder } from './lib/machine.js';
import { interleave, spreadText } from './lib/rounds.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,64').split(',').map(Number);
const SYSTEMS = ['onnx', 'js', 'js-2', 'steps-3', 'ensemble-3'] as const;
type System = (typeof SYSTEMS)[number];
const WIDTH = 16;

const ECHO = 'export function execute(requests) { return requests.map((r) => ({ outputs: { y: r.inputs.x } })); }';
const io = { max_batch_size: 64, input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [WIDTH] }], output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [WIDTH] }] };

function repository(): string {
  const { root } = tempRepo();
  const put = (name: string, config: Record<string, unknown>, file?: [string, string | Uint8Array]) => {
    mkdirSync(join(root, name, '1'), { recursive: true });
    writeFileSync(join(root, name, 'config.json'), JSON.stringify(config));
    if (file) writeFileSync(join(root, name, '1', file[0]), file[1]);
  };
  put('onnx', { ...io, dynamic_batching: {}, parameters: { intra_op_thread_count: { string_value: '1' } } }, ['model.onnx', identityModel(ElemType.FLOAT, ['batch', WIDTH])]);
  put('js', { ...io, backend: 'js', dynamic_batching: {} }, ['model.mjs', ECHO]);
  put('js-2', { ...io, backend: 'js', dynamic_batching: {}, instance_group: [{ count: 2 }] }, ['model.mjs', ECHO]);
  const step = (i: number, from: string, to: string) => ({ model_name: 'onnx', model_version: -1, input_map: { x: from }, output_map: { y: to }, i });
  put('ensemble-3', {
    ...io,
    platform: 'ensemble',
    ensemble_scheduling: { step: [step(0, 'x', 't1'), step(1, 't1', 't2'), step(2, 't2', 'y')].map(({ i: _i, ...s }) => s) },
  });
  return root;
}

type Measure = { req_per_s: number; p50_us: number; p99_us: number };

async function closedLoop(repo: ModelRepository, system: System, concurrency: number): Promise<Measure> {
  const inputs = (): InferInputs => ({ x: { shape: [1, WIDTH], data: Float32Array.from({ length: WIDTH }, (_, i) => i) } });
  const one = async (name: string, x: InferInputs): Promise<InferInputs> => {
    const leased = repo.acquire(name);
    const served = leased instanceof Promise ? await leased : leased;
    try {
      const out = await served.model.infer(x, { donateInputs: true });
      return { x: { shape: out.y!.shape, data: out.y!.data as Float32Array } };
    } finally {
      repo.release(served);
    }
  };
  const call = system === 'steps-3' ? async () => one('onnx', await one('onnx', await one('onnx', inputs()))) : () => one(system, inputs());
  const latencies: number[] = [];
  let measuring = false;
  let end = Infinity;
  const client = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      await call();
      if (measuring) latencies.push(performance.now() - t);
    }
  };
  const warm = 300;
  end = performance.now() + warm + SECONDS * 1000;
  const clients = Array.from({ length: concurrency }, client);
  await new Promise((r) => setTimeout(r, warm));
  measuring = true;
  const start = performance.now();
  await Promise.all(clients);
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! * 1000;
  return { req_per_s: latencies.length / elapsed, p50_us: q(0.5), p99_us: q(0.99) };
}

async function main(): Promise<void> {
  const recorder = machineRecorder(ROOT);
  const engine = Engine.create({ intraOpThreads: 1 });
  const log = { info: () => {}, warn: () => {}, error: (f: Record<string, unknown>, m: string) => console.error(m, f) };
  const repo = await ModelRepository.open({ root: repository(), engine, controlMode: 'none', logger: log });
  const rows = await interleave(ROUNDS, SYSTEMS, CONCURRENCY, (system, c) => closedLoop(repo, system, c), (text) => process.stderr.write(`${text}\n`));
  await repo.close();
  const median = (system: System, c: number, k: keyof Measure) => rows.find((r) => r.system === system && r.cell === c)?.metrics[k].median ?? NaN;
  const printable = rows.map((r) => ({
    system: r.system,
    concurrency: r.cell,
    'req/s': spreadText(r.metrics.req_per_s),
    'p50 us': spreadText(r.metrics.p50_us, (v) => v.toFixed(1)),
    'p99 us': spreadText(r.metrics.p99_us, (v) => v.toFixed(1)),
  }));
  console.log(table(printable));
  const c1 = CONCURRENCY.includes(1) ? 1 : CONCURRENCY[0]!;
  const c64 = CONCURRENCY.includes(64) ? 64 : CONCURRENCY[CONCURRENCY.length - 1]!;
  const targets = {
    js_added_p50_us_at_c1: median('js', c1, 'p50_us') - median('onnx', c1, 'p50_us'),
    js_share_of_onnx_req_per_s_at_c64: median('js', c64, 'req_per_s') / median('onnx', c64, 'req_per_s'),
    js2_share_of_onnx_req_per_s_at_c64: median('js-2', c64, 'req_per_s') / median('onnx', c64, 'req_per_s'),
    ensemble_added_p50_us_at_c1: median('ensemble-3', c1, 'p50_us') - median('steps-3', c1, 'p50_us'),
  };
  console.log(
    `\njs adds ${targets.js_added_p50_us_at_c1.toFixed(1)} us p50 over onnx at c=${c1} (target <= 30); ` +
      `js keeps ${(targets.js_share_of_onnx_req_per_s_at_c64 * 100).toFixed(0)} % of onnx req/s at c=${c64} (js-2: ${(targets.js2_share_of_onnx_req_per_s_at_c64 * 100).toFixed(0)} %; target >= 50 %); ` +
      `ensemble-3 adds ${targets.ensemble_added_p50_us_at_c1.toFixed(1)} us p50 over its steps called in a row (target <= 50)`,
  );
  const path = writeResults('pipelines', { machine: recorder.record(), seconds: SECONDS, rounds: ROUNDS, rows, targets });
  console.log(`wrote ${path}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
