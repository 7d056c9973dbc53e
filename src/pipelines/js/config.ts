// A JavaScript model's config, checked once at load: the inputs and outputs it must declare (there is
// no model file to read them from), batching and queue policies through the engine's own option
// schema (one set of defaults for every backend), worker threads from instance_group, and the JS
// backend's parameters. Errors name the file and the field.
import { parseOptions, loadOptionsSchema, toNativeBatching } from '../../engine/options.js';
import type { NativeBatchingOptions } from '../../engine/binding.js';
import { FROM_TRITON_TYPE, type DataType } from '../../engine/datatype.js';
import type { TensorMetadata } from '../../engine/index.js';
import type { ModelConfig, TensorConfig } from '../../repository/config-schema.js';
import { RepositoryError } from '../../repository/errors.js';
import { toLoadOptions } from '../../repository/load-options.js';

/** The backend's own keys in `parameters` (every other key is the model's, passed to initialize). */
export const JS_PARAMETERS = {
  /** Bound on one execute; past it the requests fail with TIMEOUT and the worker is replaced (0: none). */
  execute_timeout_ms: { min: 0, default: 0 },
  /** Bound on a worker's start (loading model code, initialize). */
  initialize_timeout_ms: { min: 1, default: 60_000 },
  /** Worker heap limits (worker_threads resourceLimits); past them the worker dies and is replaced. */
  max_old_generation_size_mb: { min: 1, default: 0 },
  max_young_generation_size_mb: { min: 1, default: 0 },
  stack_size_mb: { min: 1, default: 0 },
} as const;

export interface JsModelSettings {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  maxBatchSize: number;
  batching: NativeBatchingOptions;
  /** Worker threads: the sum of instance_group counts (default 1). */
  threads: number;
  executeTimeoutMs: number;
  initializeTimeoutMs: number;
  resourceLimits: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number; stackSizeMb?: number };
}

function invalid(where: string, field: string, message: string): RepositoryError {
  return new RepositoryError('INVALID', `${where}: ${field}: ${message}`);
}

function tensors(kind: 'input' | 'output', declared: TensorConfig[] | undefined, batched: boolean, where: string): TensorMetadata[] {
  if (!declared || declared.length === 0) {
    throw invalid(where, kind, `a JavaScript model declares its ${kind}s (name, data_type, dims): there is no model file to read them from`);
  }
  const seen = new Set<string>();
  return declared.map((t, i) => {
    const field = `${kind}[${i}]`;
    if (seen.has(t.name)) throw invalid(where, `${field}.name`, `'${t.name}' is declared twice`);
    seen.add(t.name);
    const datatype = FROM_TRITON_TYPE[t.data_type];
    if (datatype === 'BF16') throw invalid(where, `${field}.data_type`, 'TYPE_BF16 is not supported');
    if (t.reshape !== undefined) throw invalid(where, `${field}.reshape`, 'not supported for JavaScript models');
    const shape = batched ? [-1, ...t.dims] : [...t.dims];
    return { name: t.name, datatype: datatype as DataType, shape, dimNames: shape.map(() => null) };
  });
}

function parameter(config: ModelConfig, where: string, key: keyof typeof JS_PARAMETERS): number {
  const spec = JS_PARAMETERS[key];
  const raw = config.parameters[key]?.string_value;
  if (raw === undefined) return spec.default;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < spec.min) {
    throw invalid(where, `parameters.${key}.string_value`, `expected an integer >= ${spec.min}, got '${raw}'`);
  }
  return value;
}

export function jsSettings(config: ModelConfig, where: string): JsModelSettings {
  if (config.optimization !== undefined) throw invalid(where, 'optimization', 'not used by JavaScript models');
  if (config.default_model_filename !== undefined && !/\.(m?js|cjs)$/.test(config.default_model_filename)) {
    throw invalid(where, 'default_model_filename', `a JavaScript file (.js, .mjs or .cjs), got '${config.default_model_filename}'`);
  }
  const groups = config.instance_group ?? [];
  groups.forEach((g, i) => {
    if (g.kind === 'KIND_GPU' || g.gpus !== undefined) {
      throw invalid(where, `instance_group[${i}]${g.gpus !== undefined ? '.gpus' : '.kind'}`, 'JavaScript models run on CPU worker threads (KIND_CPU or KIND_AUTO)');
    }
  });
  const maxBatchSize = config.max_batch_size ?? 0;
  let batching: NativeBatchingOptions;
  let threads: number;
  try {
    const parsed = parseOptions(loadOptionsSchema, toLoadOptions({ ...config, max_batch_size: maxBatchSize }, 0), 'batching options');
    batching = toNativeBatching(parsed);
    threads = parsed.instanceCount;
  } catch (err) {
    throw invalid(where, config.dynamic_batching ? 'dynamic_batching' : 'instance_group', (err as Error).message);
  }
  if (groups.length > 0 && groups.reduce((n, g) => n + g.count, 0) === 0) throw invalid(where, 'instance_group', 'at least one worker thread (count >= 1)');
  const limit = (key: 'max_old_generation_size_mb' | 'max_young_generation_size_mb' | 'stack_size_mb') => {
    const v = parameter(config, where, key);
    return v > 0 ? v : undefined;
  };
  const resourceLimits: JsModelSettings['resourceLimits'] = {};
  const old = limit('max_old_generation_size_mb');
  const young = limit('max_young_generation_size_mb');
  const stack = limit('stack_size_mb');
  if (old !== undefined) resourceLimits.maxOldGenerationSizeMb = old;
  if (young !== undefined) resourceLimits.maxYoungGenerationSizeMb = young;
  if (stack !== undefined) resourceLimits.stackSizeMb = stack;
  return {
    inputs: tensors('input', config.input, maxBatchSize > 0, where),
    outputs: tensors('output', config.output, maxBatchSize > 0, where),
    maxBatchSize,
    batching,
    threads,
    executeTimeoutMs: parameter(config, where, 'execute_timeout_ms'),
    initializeTimeoutMs: parameter(config, where, 'initialize_timeout_ms'),
    resourceLimits,
  };
}
