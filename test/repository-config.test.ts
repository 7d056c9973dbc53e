// Issue 5, item 1: repository layout and model configuration. config.json and config.yaml with every
// Triton model-config key, uint64 fields as numbers and as strings, validation errors that name the
// file, the field and what was expected, and auto-complete when a model has no config.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { Engine } from '../src/engine/index.js';
import { ElemType, GraphBuilder, attr } from '../src/onnx/builder.js';
import { identityModel, tinyModel } from '../src/onnx/models.js';
import { RepositoryError } from '../src/repository/errors.js';
import { ModelRepository } from '../src/repository/repository.js';
import { HookRecorder, RecordingLogger, acquire, caught, closeRepo, putConfig, putModel, tempRepo } from './helpers/repo-fixtures.js';

const engine = Engine.create({ logger: { warn: () => {} } });

/** Every key of Triton's model config that tensorgate takes, 64-bit fields mixing numbers and strings. */
const FULL_CONFIG = {
  name: 'full',
  platform: 'onnxruntime_onnx',
  backend: 'onnxruntime',
  max_batch_size: 8,
  input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [16] }],
  output: [{ name: 'y', data_type: 'TYPE_FP32', dims: ['16'] }],
  dynamic_batching: {
    preferred_batch_size: [4, '8'],
    max_queue_delay_microseconds: '100',
    preserve_ordering: false,
    priority_levels: '2',
    default_priority_level: 2,
    default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: '0', allow_timeout_override: true, max_queue_size: '0' },
    priority_queue_policy: { '1': { timeout_action: 'DELAY', default_timeout_microseconds: 1_000_000, max_queue_size: 16 } },
  },
  instance_group: [{ count: 2, kind: 'KIND_CPU' }],
  version_policy: { latest: { num_versions: 1 } },
  model_warmup: [{ name: 'zeros', batch_size: 2, inputs: { x: { data_type: 'TYPE_FP32', dims: [16], zero_data: true } }, count: '2' }],
  response_cache: { enable: true },
  optimization: { graph: { level: 1 }, execution_accelerators: { cpu_execution_accelerator: [{ name: 'openvino', parameters: { device_type: 'CPU' } }] } },
  parameters: { enable_mem_arena: { string_value: '1' } },
  default_model_filename: 'model.onnx',
};

/** What FULL_CONFIG parses to: every string-encoded 64-bit field is a number, defaults filled in. */
const FULL_PARSED = {
  ...FULL_CONFIG,
  output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [16] }],
  dynamic_batching: {
    preferred_batch_size: [4, 8],
    max_queue_delay_microseconds: 100,
    preserve_ordering: false,
    priority_levels: 2,
    default_priority_level: 2,
    default_queue_policy: { timeout_action: 'REJECT', default_timeout_microseconds: 0, allow_timeout_override: true, max_queue_size: 0 },
    priority_queue_policy: { '1': { timeout_action: 'DELAY', default_timeout_microseconds: 1_000_000, allow_timeout_override: false, max_queue_size: 16 } },
  },
  model_warmup: [{ name: 'zeros', batch_size: 2, inputs: { x: { data_type: 'TYPE_FP32', dims: [16], zero_data: true } }, count: 2 }],
  optimization: {
    graph: { level: 1 },
    execution_accelerators: { gpu_execution_accelerator: [], cpu_execution_accelerator: [{ name: 'openvino', parameters: { device_type: 'CPU' } }] },
  },
};

/** x FP32 ['batch', 4] -> y FP32 [1, 4] (sum over the batch): the input batches, the output cannot. */
function batchSumModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', ElemType.FLOAT, ['batch', 4]);
  const axes = g.initializer('axes', ElemType.INT64, [1], [0]);
  g.node('ReduceSum', ['x', axes], ['y'], { keepdims: attr.int(1) });
  g.output('y', ElemType.FLOAT, [1, 4]);
  return g.build();
}

describe('model configuration files', () => {
  const dirs = tempRepo();
  const root = dirs.root;
  const log = new RecordingLogger();
  const hooks = new HookRecorder();
  let repo: ModelRepository;

  beforeAll(async () => {
    putModel(root, 'full', 1, tinyModel());
    putConfig(root, 'full', FULL_CONFIG);
    putModel(root, 'fullyaml', 1, tinyModel());
    putConfig(root, 'fullyaml', { ...FULL_CONFIG, name: 'fullyaml' }, 'config.yaml');
    putModel(root, 'yml', 1, tinyModel());
    putConfig(root, 'yml', 'max_batch_size: 4\ndynamic_batching:\n  max_queue_delay_microseconds: "250"\n', 'config.yml');
    for (const policy of ['all', 'specific', 'latest2'] as const) {
      for (const v of [1, 2, 3]) putModel(root, `policy_${policy}`, v, tinyModel());
    }
    putConfig(root, 'policy_all', { version_policy: { all: {} } });
    putConfig(root, 'policy_specific', { version_policy: { specific: { versions: ['1', 3] } } });
    putConfig(root, 'policy_latest2', { version_policy: { latest: { num_versions: '2' } } });
    repo = await ModelRepository.open({ root, engine, controlMode: 'explicit', startupModels: [], logger: log, hooks: hooks.hooks });
  });
  afterAll(async () => {
    await closeRepo(repo);
    dirs.cleanup();
  });

  it('accepts every Triton key in config.json, 64-bit fields as numbers or strings', async () => {
    await repo.load('full');
    const instance = await acquire(repo, 'full');
    try {
      expect(instance.config).toEqual(FULL_PARSED);
      expect(instance.model.metadata.maxBatchSize).toBe(8);
      expect(instance.model.metadata.dynamicBatching).toBe(true);
      // The warmup ran (2 runs of a batch of 2) before the model was served.
      expect(instance.model.stats().inferenceCount).toBe(4);
      expect(instance.effectiveConfig).toMatchObject({
        name: 'full',
        platform: 'onnxruntime_onnx',
        backend: 'onnxruntime',
        max_batch_size: 8,
        input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [16] }],
        output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [16] }],
        dynamic_batching: FULL_PARSED.dynamic_batching,
        instance_group: [{ count: 2, kind: 'KIND_CPU' }],
        version_policy: { latest: { num_versions: 1 } },
        response_cache: { enable: true },
        parameters: { enable_mem_arena: { string_value: '1' } },
        default_model_filename: 'model.onnx',
      });
      const out = await instance.model.infer({ x: { shape: [1, 16], data: new Float32Array(16).fill(2) } });
      expect(Array.from(out.y!.data as Float32Array)).toEqual(new Array(16).fill(3));
    } finally {
      repo.release(instance);
    }
  });

  it('reads the same config from config.yaml and config.yml', async () => {
    await repo.load('fullyaml');
    await repo.load('yml');
    const a = await acquire(repo, 'fullyaml');
    const b = await acquire(repo, 'yml');
    try {
      expect(a.config).toEqual({ ...FULL_PARSED, name: 'fullyaml' });
      expect(b.model.metadata.maxBatchSize).toBe(4);
      expect(b.config.dynamic_batching?.max_queue_delay_microseconds).toBe(250);
    } finally {
      repo.release(a);
      repo.release(b);
    }
  });

  it('serves the versions version_policy names: all, specific, latest N', async () => {
    await repo.load('policy_all');
    await repo.load('policy_specific');
    await repo.load('policy_latest2');
    expect(repo.served('policy_all').map((i) => i.version)).toEqual([3, 2, 1]);
    expect(repo.served('policy_specific').map((i) => i.version)).toEqual([3, 1]);
    expect(repo.served('policy_latest2').map((i) => i.version)).toEqual([3, 2]);
    expect(repo.index().filter((e) => e.name === 'policy_specific')).toEqual([
      { name: 'policy_specific', version: '1', state: 'READY' },
      { name: 'policy_specific', version: '3', state: 'READY' },
    ]);
    // Without a version a request gets the highest served version; a named one gets that one.
    const latest = await acquire(repo, 'policy_specific');
    const one = await acquire(repo, 'policy_specific', '1');
    expect([latest.version, one.version]).toEqual([3, 1]);
    repo.release(latest);
    repo.release(one);
    const err = await caught(() => repo.acquire('policy_specific', '2'));
    expect(err).toBeInstanceOf(RepositoryError);
    expect(err.code).toBe('NOT_FOUND');
    expect(err.message).toMatch(/^model 'policy_specific' has no served version 2 \(served: (1, 3|3, 1)\)$/);
  });
});

describe('validation errors name the file, the field and what was expected', () => {
  const dirs = tempRepo();
  const root = dirs.root;
  const log = new RecordingLogger();
  const hooks = new HookRecorder();
  let repo: ModelRepository;

  beforeAll(async () => {
    repo = await ModelRepository.open({ root, engine, controlMode: 'explicit', startupModels: [], logger: log, hooks: hooks.hooks });
  });
  afterAll(async () => {
    await closeRepo(repo);
    dirs.cleanup();
  });

  /** Writes a model with this config, loads it, and returns the error (checking hook, log and index agree). */
  async function loadError(name: string, config: object | string, file: 'config.json' | 'config.yaml' = 'config.json', model = tinyModel()) {
    putModel(root, name, 1, model);
    putConfig(root, name, config, file);
    const err = await caught(() => repo.load(name));
    expect(err).toBeInstanceOf(RepositoryError);
    const failure = hooks.failures.find((f) => f.name === name);
    expect(failure, 'hooks.loadFailed was called').toBeDefined();
    expect(log.of('error').some((e) => e.fields.model === name)).toBe(true);
    expect(repo.ready()).toBe(false); // a model the load API asked for is not serving
    expect(repo.served(name)).toEqual([]);
    return { err, reason: failure!.reason, index: repo.index().filter((e) => e.name === name) };
  }

  it('unknown key', async () => {
    const { err, reason, index } = await loadError('unknownkey', { max_batch_size: 4, max_batch_sise: 8 });
    expect(err.code).toBe('INVALID');
    expect(err.message).toBe('unknownkey/config.json: (root): Unrecognized key: "max_batch_sise"');
    expect(reason).toBe(err.message);
    expect(index).toEqual([{ name: 'unknownkey', state: 'UNAVAILABLE', reason: err.message }]);
  });

  it('unknown key nested in a section', async () => {
    const { err } = await loadError('nestedkey', { max_batch_size: 4, dynamic_batching: { max_queue_delay_ms: 5 } });
    expect(err.message).toBe('nestedkey/config.json: dynamic_batching: Unrecognized key: "max_queue_delay_ms"');
  });

  it('bad data_type', async () => {
    const { err } = await loadError('badtype', { input: [{ name: 'x', data_type: 'TYPE_FLOAT', dims: [16] }] });
    expect(err.code).toBe('INVALID');
    expect(err.message).toBe(
      'badtype/config.json: input[0].data_type: Invalid option: expected one of ' +
        '"TYPE_BOOL"|"TYPE_UINT8"|"TYPE_UINT16"|"TYPE_UINT32"|"TYPE_UINT64"|"TYPE_INT8"|"TYPE_INT16"|"TYPE_INT32"|' +
        '"TYPE_INT64"|"TYPE_FP16"|"TYPE_FP32"|"TYPE_FP64"|"TYPE_STRING"|"TYPE_BF16"',
    );
  });

  it('wrong type: a boolean given as a string, dims given as a number', async () => {
    const a = await loadError('wrongbool', { response_cache: { enable: 'yes' } });
    expect(a.err.message).toBe('wrongbool/config.json: response_cache.enable: Invalid input: expected boolean, received string');
    const b = await loadError('wrongdims', { input: [{ name: 'x', data_type: 'TYPE_FP32', dims: 16 }] });
    expect(b.err.message).toBe('wrongdims/config.json: input[0].dims: Invalid input: expected array, received number');
  });

  it('wrong type: a negative max_batch_size', async () => {
    const { err } = await loadError('negative', { max_batch_size: -1 });
    expect(err.message).toBe('negative/config.json: max_batch_size: Too small: expected number to be >=0');
  });

  it('wrong type: a 64-bit field that is neither a number nor a decimal string says what it expected', async () => {
    const a = await loadError('wrongint', { max_batch_size: 'eight' });
    expect(a.err.code).toBe('INVALID');
    expect(a.err.message).toMatch(/^wrongint\/config\.json: max_batch_size: .*expected .*integer/);
    const b = await loadError('wrongdelay', { max_batch_size: 4, dynamic_batching: { max_queue_delay_microseconds: 1.5 } });
    expect(b.err.message).toMatch(/^wrongdelay\/config\.json: dynamic_batching\.max_queue_delay_microseconds: .*expected .*integer/);
  });

  it('name mismatch', async () => {
    const { err, index } = await loadError('mismatch', { name: 'other' });
    expect(err.code).toBe('INVALID');
    expect(err.message).toBe("mismatch/config.json: name: 'other' differs from the model directory 'mismatch'");
    expect(index[0]!.reason).toBe(err.message);
  });

  it('invalid YAML and invalid JSON', async () => {
    const yamlText = 'max_batch_size: 4\ndynamic_batching: [\n  : oops\n';
    let yamlMessage = '';
    try {
      parseYaml(yamlText);
    } catch (e) {
      yamlMessage = (e as Error).message;
    }
    expect(yamlMessage).not.toBe('');
    const y = await loadError('badyaml', yamlText, 'config.yaml');
    expect(y.err.code).toBe('INVALID');
    expect(y.err.message).toBe(`badyaml/config.yaml: not valid YAML: ${yamlMessage}`);
    const j = await loadError('badjson', '{"max_batch_size": 4,}');
    expect(j.err.message).toMatch(/^badjson\/config\.json: not valid JSON: /);
  });

  it('declared data_type or input name that the model does not have', async () => {
    const a = await loadError('wrongdt', { input: [{ name: 'x', data_type: 'TYPE_INT32', dims: [16] }] });
    expect(a.err.code).toBe('LOAD_FAILED');
    expect(a.reason).toMatch(/input\[0\]\.data_type: expected TYPE_FP32 for 'x', got TYPE_INT32$/);
    const b = await loadError('wrongname', { output: [{ name: 'z', data_type: 'TYPE_FP32', dims: [16] }] });
    expect(b.reason).toMatch(/output\[0\]\.name: the model has no output 'z' \(it has y\)$/);
    expect(b.index).toEqual([{ name: 'wrongname', version: '1', state: 'UNAVAILABLE', reason: b.reason }]);
  });

  it('dims that do not match the model name the config file', async () => {
    const { err, reason, index } = await loadError('baddims', { max_batch_size: 4, input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [8] }] });
    expect(err.code).toBe('LOAD_FAILED');
    expect(index).toEqual([{ name: 'baddims', version: '1', state: 'UNAVAILABLE', reason }]);
    expect(reason).toBe("baddims/config.json: input[0].dims: expected [16] for 'x' (without the batch dimension), got [8]");
    expect(err.message).toBe(`failed to load 'baddims': version 1: ${reason}`);
  });

  it('dims with the batch dimension when the model does not batch', async () => {
    const { reason } = await loadError('nobatchdims', { max_batch_size: 0, input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [16] }] });
    expect(reason).toMatch(/input\[0\]\.dims: expected \[-1,16\] for 'x', got \[16\]$/);
  });
});

describe('auto-complete when a model has no config', () => {
  const dirs = tempRepo();
  const root = dirs.root;
  let repo: ModelRepository;
  let repo8: ModelRepository;

  beforeAll(async () => {
    putModel(root, 'batchable', 1, tinyModel());
    putModel(root, 'fixed', 1, identityModel(ElemType.FLOAT, [2, 3]));
    putModel(root, 'halfdynamic', 1, batchSumModel());
    putModel(root, 'partial', 1, tinyModel());
    putConfig(root, 'partial', { parameters: { enable_mem_arena: { string_value: 'false' } } });
    putModel(root, 'nobatch', 1, tinyModel());
    putConfig(root, 'nobatch', { max_batch_size: 0 });
    repo = await ModelRepository.open({ root, engine, controlMode: 'none', logger: new RecordingLogger() });
    repo8 = await ModelRepository.open({ root, engine, controlMode: 'explicit', startupModels: ['batchable'], defaultMaxBatchSize: 8, logger: new RecordingLogger() });
  });
  afterAll(async () => {
    await closeRepo(repo);
    await closeRepo(repo8);
    dirs.cleanup();
  });

  it('batches with max_batch_size 64 and dynamic batching when every input and output has a dynamic first dim', async () => {
    const i = await acquire(repo, 'batchable');
    repo.release(i);
    expect(i.model.metadata.maxBatchSize).toBe(64);
    expect(i.model.metadata.dynamicBatching).toBe(true);
    expect(i.effectiveConfig).toMatchObject({
      name: 'batchable',
      platform: 'onnxruntime_onnx',
      max_batch_size: 64,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [16] }],
      output: [{ name: 'y', data_type: 'TYPE_FP32', dims: [16] }],
      version_policy: { latest: { num_versions: 1 } },
    });
    expect(i.effectiveConfig.dynamic_batching).toBeDefined();
    // A config that leaves max_batch_size out is auto-completed the same way.
    const p = await acquire(repo, 'partial');
    repo.release(p);
    expect(p.model.metadata.maxBatchSize).toBe(64);
    expect(p.effectiveConfig.max_batch_size).toBe(64);
  });

  it('uses defaultMaxBatchSize', async () => {
    const i = await acquire(repo8, 'batchable');
    repo8.release(i);
    expect(i.model.metadata.maxBatchSize).toBe(8);
    expect(i.effectiveConfig.max_batch_size).toBe(8);
    expect(i.effectiveConfig.dynamic_batching).toBeDefined();
  });

  it('does not batch (max_batch_size 0) when a first dim is fixed, or when the config says 0', async () => {
    for (const name of ['fixed', 'halfdynamic', 'nobatch']) {
      const i = await acquire(repo, name);
      repo.release(i);
      expect(i.model.metadata.maxBatchSize, name).toBe(0);
      expect(i.model.metadata.dynamicBatching, name).toBe(false);
      expect(i.effectiveConfig.max_batch_size, name).toBe(0);
      expect(i.effectiveConfig.dynamic_batching, name).toBeUndefined();
    }
    const fixed = await acquire(repo, 'fixed');
    repo.release(fixed);
    expect(fixed.effectiveConfig.input).toEqual([{ name: 'x', data_type: 'TYPE_FP32', dims: [2, 3] }]);
    const nobatch = await acquire(repo, 'nobatch');
    repo.release(nobatch);
    expect(nobatch.effectiveConfig.input).toEqual([{ name: 'x', data_type: 'TYPE_FP32', dims: [-1, 16] }]);
  });
});
