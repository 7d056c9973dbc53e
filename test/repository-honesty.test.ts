// Config honesty: every model-config field is either honoured (with a test of its effect here or in
// the file named) or refused at load with an error naming the file and the field — never accepted and
// ignored. optimization.graph.level maps as Triton's ONNX Runtime backend; reshape, optional inputs,
// ragged batching, shape tensors, unknown keys and unknown ORT parameters are refused; gpus picks the
// CUDA device; KIND_GPU fails when no GPU provider loads unless allow_cpu_fallback; preserve_ordering
// releases responses in order; warmup reads only its version's warmup/ directory, within bounds; and a
// repository whose directory vanishes does not take the process down.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../src/engine/index.js';
import { RequestContext } from '../src/inference/index.js';
import { OrderingGate } from '../src/inference/ordering.js';
import { ElemType, GraphBuilder } from '../src/onnx/builder.js';
import { tinyModel } from '../src/onnx/models.js';
import { parseModelConfig } from '../src/repository/config-file.js';
import { toLoadOptions } from '../src/repository/load-options.js';
import { ModelRepository } from '../src/repository/repository.js';
import { HTTP_WIRE } from '../src/server/http-wire.js';
import { HookRecorder, RecordingLogger, closeRepo, putConfig, putModel, tempRepo } from './helpers/repo-fixtures.js';
import { makeRepository, ONE_THREAD, serve, type TestServer } from './helpers/http-server.js';

const engine = Engine.create({ logger: { warn: () => {} } });

/** The error parseModelConfig gives for `config` (as m/config.json). */
function refusal(config: object): string {
  try {
    parseModelConfig(config, 'm/config.json', 'm');
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the config was accepted');
}

/** A repository holding `tiny` with `config`; returns its index entry after the load. */
async function loadWith(config: object, setup?: (versionDir: string) => void): Promise<{ state: string; reason?: string; repo: ModelRepository }> {
  const dirs = tempRepo();
  putModel(dirs.root, 'tiny', 1, tinyModel());
  putConfig(dirs.root, 'tiny', config);
  setup?.(join(dirs.root, 'tiny', '1'));
  const repo = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'none', logger: new RecordingLogger(), hooks: new HookRecorder().hooks });
  const entry = repo.index()[0]!;
  return { state: entry.state, ...(entry.reason !== undefined ? { reason: entry.reason } : {}), repo };
}

describe('optimization.graph.level: as Triton\'s ONNX Runtime backend', () => {
  it('absent or 0 = all, -1 = basic, 1 = extended, 2 = disabled', () => {
    const level = (l?: number) => toLoadOptions(parseModelConfig(l === undefined ? {} : { optimization: { graph: { level: l } } }, 'c', 'm'), 0).graphOptimizationLevel;
    expect(level()).toBeUndefined(); // the engine's default: all
    expect(level(0)).toBe('all');
    expect(level(-1)).toBe('basic');
    expect(level(1)).toBe('extended');
    expect(level(2)).toBe('disabled');
    // That the engine option reaches ONNX Runtime: engine-reference.test.ts ("applies graphOptimizationLevel").
  });

  it('any other level is refused, naming the field and the values', () => {
    expect(refusal({ optimization: { graph: { level: 3 } } })).toMatch(/^m\/config\.json: optimization\.graph\.level: -1 \(basic\), 0 \(all: the default\), 1 \(extended\) or 2 \(disabled\)/);
    expect(refusal({ optimization: { graph: { level: -2 } } })).toMatch(/optimization\.graph\.level/);
  });
});

describe('fields tensorgate does not implement are refused at load, by name', () => {
  const tensor = { name: 'x', data_type: 'TYPE_FP32', dims: [16] };
  it.each([
    ['input[0].reshape', { input: [{ ...tensor, reshape: { shape: [1, 16] } }] }, /not supported: tensorgate feeds the model the shapes the client sends/],
    ['input[0].optional', { input: [{ ...tensor, optional: true }] }, /optional inputs are not supported/],
    ['input[0].allow_ragged_batch', { input: [{ ...tensor, allow_ragged_batch: true }] }, /ragged batching/],
    ['input[0].format', { input: [{ ...tensor, format: 'FORMAT_NCHW' }] }, /only FORMAT_NONE/],
    ['input[0].is_shape_tensor', { input: [{ ...tensor, is_shape_tensor: true }] }, /shape tensors are not supported/],
    ['output[0]', { output: [{ ...tensor, label_filename: 'labels.txt' }] }, /label_filename/],
    ['optimization', { optimization: { input_pinned_memory: { enable: true } } }, /input_pinned_memory/],
    ['instance_group[0].gpus', { instance_group: [{ kind: 'KIND_CPU', gpus: [0] }] }, /gpus needs kind KIND_GPU/],
  ])('%s', (field, config, message) => {
    const text = refusal(config);
    expect(text).toContain(`m/config.json: ${field}`);
    expect(text).toMatch(message);
  });

  it('their defaults, spelled out, still load', () => {
    expect(() =>
      parseModelConfig({ input: [{ ...tensor, optional: false, allow_ragged_batch: false, format: 'FORMAT_NONE', is_shape_tensor: false }] }, 'c', 'm'),
    ).not.toThrow();
  });

  it('an unknown ONNX Runtime parameter fails the load, naming it and the known ones', async () => {
    const { state, reason, repo } = await loadWith({ parameters: { execution_mode: { string_value: 'parallel' } } });
    await closeRepo(repo);
    expect(state).toBe('UNAVAILABLE');
    expect(reason).toBe(
      'tiny/config.json: parameters.execution_mode: not a parameter of the ONNX Runtime backend here (known: intra_op_thread_count, inter_op_thread_count, enable_mem_arena, allow_cpu_fallback)',
    );
  });
});

describe('GPUs', () => {
  it('instance_group[].gpus picks the CUDA device of the version (and of its GPU accelerators)', () => {
    const options = toLoadOptions(
      parseModelConfig(
        {
          instance_group: [{ kind: 'KIND_GPU', count: 2, gpus: [1] }],
          optimization: { execution_accelerators: { gpu_execution_accelerator: [{ name: 'tensorrt', parameters: { trt_fp16_enable: '1' } }] } },
        },
        'c',
        'm',
      ),
      0,
    );
    expect(options.executionProviders).toEqual([
      { name: 'tensorrt', options: { device_id: '1', trt_fp16_enable: '1' } },
      { name: 'cuda', options: { device_id: '1' } },
      'cpu',
    ]);
    expect(options.instanceCount).toBe(2);
  });

  it('more than one GPU for a version is refused (one session, one device)', () => {
    expect(() => toLoadOptions(parseModelConfig({ instance_group: [{ kind: 'KIND_GPU', gpus: [0, 1] }] }, 'c', 'm'), 0, 'm/config.json')).toThrow(
      /^m\/config\.json: instance_group\[0\]\.gpus: a model version runs one session on one device, got GPUs 0, 1/,
    );
  });

  it('KIND_GPU fails the load when no GPU provider loads (this machine has no CUDA), naming why', async () => {
    const { state, reason, repo } = await loadWith({ instance_group: [{ kind: 'KIND_GPU' }] });
    await closeRepo(repo);
    expect(state).toBe('UNAVAILABLE');
    expect(reason).toMatch(/^tiny\/config\.json: instance_group\[0\]\.kind KIND_GPU: no GPU execution provider could be loaded \(cuda: .+\); use KIND_CPU, or set parameters \{ allow_cpu_fallback/);
  });

  it('with parameters.allow_cpu_fallback "true" it serves from the CPU instead', async () => {
    const { state, repo } = await loadWith({ instance_group: [{ kind: 'KIND_GPU' }], parameters: { allow_cpu_fallback: { string_value: 'true' } } });
    try {
      expect(state).toBe('READY');
      const served = repo.served('tiny')[0]!;
      const providers = (served.model as unknown as { metadata: { providers: Array<{ name: string; active: boolean }> } }).metadata.providers;
      expect(providers.map((p) => [p.name, p.active])).toEqual([
        ['cuda', false],
        ['cpu', true],
      ]);
    } finally {
      await closeRepo(repo);
    }
  });
});

/**
 * x FP32 [batch, n, 64] -> y = x·W^layers (W the identity): a run costs in proportion to n, so a large
 * request and a small one sent after it finish in the opposite order on two instances.
 */
function costByLengthModel(layers = 40): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', ElemType.FLOAT, ['batch', 'n', 64]);
  const eye = new Float32Array(64 * 64);
  for (let i = 0; i < 64; i++) eye[i * 64 + i] = 1;
  const w = g.initializer('w', ElemType.FLOAT, [64, 64], eye);
  let h = 'x';
  for (let i = 0; i < layers; i++) h = g.op('MatMul', [h, w]);
  g.node('Identity', [h], ['y']);
  g.output('y', ElemType.FLOAT, ['batch', 'n', 64]);
  return g.build();
}

describe('dynamic_batching.preserve_ordering', () => {
  const base = { max_batch_size: 4, instance_group: [{ kind: 'KIND_CPU', count: 2 }], parameters: ONE_THREAD };
  const root = makeRepository({
    unordered: { bytes: costByLengthModel(), config: { ...base, dynamic_batching: {} } },
    ordered: { bytes: costByLengthModel(), config: { ...base, dynamic_batching: { preserve_ordering: true } } },
  });
  let server: TestServer;

  beforeAll(async () => {
    server = await serve('node', { modelRepository: root });
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** Sends a long request then a short one in the same tick; returns the order they settle in. */
  async function settleOrder(model: string): Promise<string[]> {
    const body = (n: number) => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, n, 64], data: new Array(n * 64).fill(1) }] }));
    const long = body(3000);
    const short = body(1);
    const order: string[] = [];
    const send = (payload: Buffer, tag: string) =>
      server.running.service.infer(new RequestContext('http', HTTP_WIRE, model, undefined, payload)).then(() => order.push(tag));
    await Promise.all([send(long, 'long'), send(short, 'short')]);
    return order;
  }

  it('without it, two instances finish a short request before the long one sent first', async () => {
    // The second runner must get a core while the first computes: on a starved machine it may not, so
    // up to three tries (with preserve_ordering the short one can never settle first: see below).
    const orders: string[][] = [];
    for (let i = 0; i < 3; i++) {
      orders.push(await settleOrder('unordered'));
      if (orders.at(-1)![0] === 'short') break;
    }
    expect(orders.at(-1)).toEqual(['short', 'long']);
  });

  it('with it, the short request is answered after the long one, in submission order', async () => {
    expect(await settleOrder('ordered')).toEqual(['long', 'short']);
  });

  it('the gate: failures release their turn, nothing waits on a request that will never answer', async () => {
    const gate = new OrderingGate();
    let rejectFirst!: (e: Error) => void;
    const first = gate.inOrder(new Promise<number>((_, reject) => (rejectFirst = reject)));
    const second = gate.inOrder(Promise.resolve(2));
    const order: string[] = [];
    first.catch(() => order.push('first'));
    void second.then(() => order.push('second'));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]); // the second waits for the first
    rejectFirst(new Error('cancelled'));
    await second;
    expect(order).toEqual(['first', 'second']);
  });
});

describe('model_warmup: confined and bounded', () => {
  const warm = (input: object, extra: object = {}) => ({
    max_batch_size: 4,
    model_warmup: [{ name: 'w', batch_size: 1, inputs: { x: { data_type: 'TYPE_FP32', dims: [16], ...input } }, ...extra }],
  });
  const inWarmup = (versionDir: string, name: string, bytes: Uint8Array) => {
    mkdirSync(join(versionDir, 'warmup'), { recursive: true });
    writeFileSync(join(versionDir, 'warmup', name), bytes);
  };
  const outside = join(tmpdir(), `tg-outside-${process.pid}.bin`);
  writeFileSync(outside, Buffer.alloc(64)); // exactly the size a [1, 16] FP32 warmup input needs

  it('a file in warmup/ is read', async () => {
    const { state, repo } = await loadWith(warm({ input_data_file: 'x.bin' }), (dir) => inWarmup(dir, 'x.bin', Buffer.alloc(64)));
    await closeRepo(repo);
    expect(state).toBe('READY');
  });

  it.each([
    ['a path out of warmup/', '../model.onnx', undefined, /resolves outside the version's warmup\/ directory|is not a file/],
    ['an absolute path', outside, undefined, /resolves outside the version's warmup\/ directory/],
    ['a symlink in warmup/ to a file outside', 'link.bin', 'symlink', /resolves outside the version's warmup\/ directory/],
    ['a file that does not exist', 'none.bin', undefined, /'none\.bin' is not a file in the version's warmup\/ directory/],
  ])('%s is refused', async (_what, file, kind, message) => {
    const { state, reason, repo } = await loadWith(warm({ input_data_file: file }), (dir) => {
      mkdirSync(join(dir, 'warmup'), { recursive: true });
      if (kind === 'symlink') symlinkSync(outside, join(dir, 'warmup', 'link.bin'));
    });
    await closeRepo(repo);
    expect(state).toBe('UNAVAILABLE');
    expect(reason).toMatch(/^tiny\/config\.json: model_warmup\[0\] \('w'\): inputs\.x\.input_data_file: /);
    expect(reason).toMatch(message);
  });

  it.each([
    ['batch_size past max_batch_size', { batch_size: 5 }, {}, /batch_size: 5 is outside 1\.\.4/],
    ['count past 1000', { count: 1001 }, {}, /count: 1001 exceeds 1000/],
    ['dims of 2^40 elements', {}, { dims: [1048576, 1048576] }, /has more than 16777216 elements/],
  ])('%s is refused before anything is allocated', async (_what, extra, input, message) => {
    const { state, reason, repo } = await loadWith(warm({ zero_data: true, ...input }, extra));
    await closeRepo(repo);
    expect(state).toBe('UNAVAILABLE');
    expect(reason).toMatch(message);
  });
});

describe('a repository whose directory vanishes', () => {
  it('poll mode logs the failed scan and carries on, with no unhandled rejection to end the process', async () => {
    const dirs = tempRepo();
    putModel(dirs.root, 'tiny', 1, tinyModel());
    const logger = new RecordingLogger();
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    const repo = await ModelRepository.open({ root: dirs.root, engine, controlMode: 'poll', pollSeconds: 0.05, logger, hooks: new HookRecorder().hooks });
    try {
      dirs.cleanup();
      const end = Date.now() + 5000;
      while (!logger.entries.some((e) => e.level === 'error' && e.message === 'repository poll failed') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(logger.entries.find((e) => e.message === 'repository poll failed')?.fields.err).toMatch(/ENOENT/);
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
      expect(repo.served('tiny')).toHaveLength(1); // what was loaded keeps serving
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await closeRepo(repo);
    }
  });
});
