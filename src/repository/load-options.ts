// From a model config (Triton's names) to engine load options, and back to the effective config that
// GET /v2/models/{m}/config reports once the model is loaded (auto-completed from the ONNX file).
import { TRITON_TYPE as V2_TO_TRITON } from '../engine/datatype.js';
import type { LoadOptions, ModelMetadata, TensorMetadata } from '../engine/index.js';
import type { Backend, ServableMetadata } from './backend.js';
import type { ModelConfig, TensorConfig } from './config-schema.js';
import { RepositoryError } from './errors.js';

export function toLoadOptions(config: ModelConfig, defaultMaxBatchSize: number): LoadOptions {
  const options: LoadOptions = {};
  if (config.max_batch_size === undefined) {
    options.autoMaxBatchSize = defaultMaxBatchSize;
  } else {
    options.maxBatchSize = config.max_batch_size;
  }
  const db = config.dynamic_batching;
  if (db) {
    const policy = (p: NonNullable<typeof db.default_queue_policy>) => ({
      maxQueueSize: p.max_queue_size,
      defaultTimeoutMicroseconds: p.default_timeout_microseconds,
      timeoutAction: p.timeout_action,
      allowTimeoutOverride: p.allow_timeout_override,
    });
    options.dynamicBatching = {
      preferredBatchSize: db.preferred_batch_size,
      maxQueueDelayMicroseconds: db.max_queue_delay_microseconds,
      priorityLevels: db.priority_levels,
      defaultPriorityLevel: db.default_priority_level,
      ...(db.default_queue_policy ? { defaultQueuePolicy: policy(db.default_queue_policy) } : {}),
      ...(db.priority_queue_policy
        ? { priorityQueuePolicy: Object.fromEntries(Object.entries(db.priority_queue_policy).map(([k, p]) => [k, policy(p)])) }
        : {}),
    };
  }
  const groups = config.instance_group ?? [];
  if (groups.length > 0) options.instanceCount = Math.max(1, groups.reduce((n, g) => n + g.count, 0));
  const providers: NonNullable<LoadOptions['executionProviders']> = [];
  const accel = config.optimization?.execution_accelerators;
  for (const a of accel?.gpu_execution_accelerator ?? []) providers.push({ name: a.name === 'cuda' ? 'cuda' : a.name, options: a.parameters });
  if (groups.some((g) => g.kind === 'KIND_GPU') && !providers.some((p) => typeof p !== 'string' && p.name === 'cuda')) {
    providers.push('cuda');
  }
  for (const a of accel?.cpu_execution_accelerator ?? []) providers.push({ name: a.name, options: a.parameters });
  if (providers.length > 0) options.executionProviders = [...providers, 'cpu'];
  const level = config.optimization?.graph?.level;
  if (level !== undefined) options.graphOptimizationLevel = level < 0 ? 'disabled' : level === 0 ? 'basic' : level === 1 ? 'extended' : 'all';
  // The ORT backend's own parameters (Triton onnxruntime_backend names).
  const param = (k: string) => config.parameters[k]?.string_value;
  const intra = param('intra_op_thread_count');
  const inter = param('inter_op_thread_count');
  if (intra) options.intraOpThreads = Number(intra);
  if (inter) options.interOpThreads = Number(inter);
  const arena = param('enable_mem_arena');
  if (arena) options.memoryArena = arena !== '0' && arena !== 'false';
  return options;
}

function dimsWithoutBatch(t: TensorMetadata, batched: boolean): number[] {
  return batched ? t.shape.slice(1) : [...t.shape];
}

/** Checks the config's declared inputs/outputs against the loaded model; the message names the field. */
export function checkAgainstModel(config: ModelConfig, where: string, metadata: ModelMetadata): void {
  const batched = metadata.maxBatchSize > 0;
  const check = (kind: 'input' | 'output', declared: TensorConfig[] | undefined, actual: TensorMetadata[]) => {
    (declared ?? []).forEach((t, i) => {
      const found = actual.find((a) => a.name === t.name);
      const field = `${where}: ${kind}[${i}]`;
      if (!found) {
        throw new RepositoryError('INVALID', `${field}.name: the model has no ${kind} '${t.name}' (it has ${actual.map((a) => a.name).join(', ')})`);
      }
      if (V2_TO_TRITON[found.datatype] !== t.data_type) {
        throw new RepositoryError('INVALID', `${field}.data_type: expected ${V2_TO_TRITON[found.datatype]} for '${t.name}', got ${t.data_type}`);
      }
      const dims = dimsWithoutBatch(found, batched);
      const ok = t.reshape !== undefined || (dims.length === t.dims.length && dims.every((d, k) => d === -1 || t.dims[k] === -1 || d === t.dims[k]));
      if (!ok) {
        throw new RepositoryError(
          'INVALID',
          `${field}.dims: expected [${dims.join(',')}] for '${t.name}'${batched ? ' (without the batch dimension)' : ''}, got [${t.dims.join(',')}]`,
        );
      }
    });
  };
  check('input', config.input, metadata.inputs);
  check('output', config.output, metadata.outputs);
}

/** The complete config of a loaded model, in Triton's JSON form. */
export function effectiveConfig(
  name: string,
  config: ModelConfig,
  metadata: ServableMetadata,
  backend: Pick<Backend, 'name' | 'platform' | 'completeConfig'>,
  modelFile: string | undefined = 'model.onnx',
): Record<string, unknown> {
  const batched = metadata.maxBatchSize > 0;
  const tensor = (t: TensorMetadata) => ({ name: t.name, data_type: V2_TO_TRITON[t.datatype], dims: dimsWithoutBatch(t, batched) });
  const { name: _name, platform: _platform, backend: _backend, max_batch_size: _mbs, input: _in, output: _out, ...rest } = config;
  const complete = {
    name,
    platform: backend.platform,
    backend: backend.name,
    max_batch_size: metadata.maxBatchSize,
    input: metadata.inputs.map(tensor),
    output: metadata.outputs.map(tensor),
    ...rest,
    ...(metadata.dynamicBatching ? { dynamic_batching: config.dynamic_batching ?? { preferred_batch_size: [], max_queue_delay_microseconds: 0 } } : {}),
    instance_group: config.instance_group ?? [{ name: name, count: 1, kind: 'KIND_CPU' }],
    version_policy: config.version_policy ?? { latest: { num_versions: 1 } },
    ...(config.default_model_filename !== undefined || modelFile !== undefined ? { default_model_filename: config.default_model_filename ?? modelFile } : {}),
  };
  return backend.completeConfig ? backend.completeConfig(complete) : complete;
}
