// From a model config (Triton's names) to engine load options, and back to the effective config that
// GET /v2/models/{m}/config reports once the model is loaded (auto-completed from the ONNX file).
import { TRITON_TYPE as V2_TO_TRITON } from '../engine/datatype.js';
import type { LoadOptions, ModelMetadata, TensorMetadata } from '../engine/index.js';
import type { Backend, ServableMetadata } from './backend.js';
import type { ModelConfig, TensorConfig } from './config-schema.js';
import { RepositoryError } from './errors.js';

/** optimization.graph.level as Triton's ONNX Runtime backend reads it (absent or 0: everything). */
const GRAPH_LEVEL: Readonly<Record<number, NonNullable<LoadOptions['graphOptimizationLevel']>>> = {
  [-1]: 'basic',
  0: 'all',
  1: 'extended',
  2: 'disabled',
};

/** The ONNX Runtime backend's `parameters` this server applies; any other key is refused at load. */
export const ORT_PARAMETERS = ['intra_op_thread_count', 'inter_op_thread_count', 'enable_mem_arena', 'allow_cpu_fallback'] as const;

/** The GPU providers: KIND_GPU needs one of them active. */
const GPU_PROVIDERS = new Set(['cuda', 'tensorrt', 'rocm', 'migraphx', 'dml']);

/** Whether the config asks for GPU instances. */
function wantsGpu(config: ModelConfig): boolean {
  return (config.instance_group ?? []).some((g) => g.kind === 'KIND_GPU');
}

/** Refuses `parameters` the ONNX Runtime backend would otherwise accept and ignore (INVALID, naming the key). */
export function checkOrtParameters(config: ModelConfig, where: string): void {
  for (const key of Object.keys(config.parameters)) {
    if (!(ORT_PARAMETERS as readonly string[]).includes(key)) {
      throw new RepositoryError('INVALID', `${where}: parameters.${key}: not a parameter of the ONNX Runtime backend here (known: ${ORT_PARAMETERS.join(', ')})`);
    }
  }
}

/**
 * From a model config to engine load options (batching, providers, session options; the JS backend
 * reads its batching from here too). Throws (INVALID, naming `where` and the field) for what the
 * engine cannot honour, such as more than one GPU for a version.
 */
export function toLoadOptions(config: ModelConfig, defaultMaxBatchSize: number, where = 'config'): LoadOptions {
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
  // instance_group[].gpus: the device of the version's one session (Triton would place `count`
  // instances on each listed GPU; one session cannot span devices, so more than one is refused).
  const devices = [...new Set(groups.flatMap((g) => g.gpus ?? []))];
  if (devices.length > 1) {
    const i = groups.findIndex((g) => (g.gpus?.length ?? 0) > 0);
    throw new RepositoryError(
      'INVALID',
      `${where}: instance_group[${i}].gpus: a model version runs one session on one device, got GPUs ${devices.join(', ')} (serve each GPU from its own model)`,
    );
  }
  const device: Record<string, string> = devices.length === 1 ? { device_id: String(devices[0]) } : {};
  const providers: NonNullable<LoadOptions['executionProviders']> = [];
  const accel = config.optimization?.execution_accelerators;
  for (const a of accel?.gpu_execution_accelerator ?? []) providers.push({ name: a.name, options: { ...device, ...a.parameters } });
  if (wantsGpu(config) && !providers.some((p) => typeof p !== 'string' && p.name === 'cuda')) {
    providers.push({ name: 'cuda', options: device });
  }
  for (const a of accel?.cpu_execution_accelerator ?? []) providers.push({ name: a.name, options: a.parameters });
  if (providers.length > 0) options.executionProviders = [...providers, 'cpu'];
  const level = config.optimization?.graph?.level;
  if (level !== undefined) options.graphOptimizationLevel = GRAPH_LEVEL[level]!;
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

/**
 * KIND_GPU fails the load when no GPU execution provider could be loaded, as Triton's does, instead
 * of serving from the CPU unnoticed; `parameters { allow_cpu_fallback: "true" }` opts into the CPU.
 */
export function checkProviders(config: ModelConfig, where: string, metadata: ModelMetadata): void {
  if (!wantsGpu(config) || config.parameters.allow_cpu_fallback?.string_value === 'true') return;
  const gpu = metadata.providers.filter((p) => GPU_PROVIDERS.has(p.name));
  if (gpu.some((p) => p.active)) return;
  const i = (config.instance_group ?? []).findIndex((g) => g.kind === 'KIND_GPU');
  const why = gpu.map((p) => `${p.name}: ${p.reason ?? 'not active'}`.trim()).join('; ');
  throw new RepositoryError(
    'LOAD_FAILED',
    `${where}: instance_group[${i}].kind KIND_GPU: no GPU execution provider could be loaded (${why}); ` +
      'use KIND_CPU, or set parameters { allow_cpu_fallback: { string_value: "true" } } to serve from the CPU',
  );
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
