// Bodies of the v2 protocol's non-inference endpoints, and of Triton's extensions that tensorgate
// serves (statistics, model_repository index, model_configuration). Builders return plain objects;
// the transport serializes them (JSON.stringify for REST).
import type { DurationStat, NativeModelStats } from '../engine/binding.js';
import type { DataType } from '../engine/datatype.js';
import type { TensorMetadata } from '../engine/tensor.js';

/** What every metadata builder needs of a tensor. */
export type TensorInfo = Pick<TensorMetadata, 'name' | 'datatype' | 'shape'>;

// ---------------------------------------------------------------------------------------------
// Server and health

export interface ServerMetadataResponse {
  name: string;
  version: string;
  extensions: string[];
}

/** `GET /v2`. */
export function serverMetadata(version: string, extensions: string[]): ServerMetadataResponse {
  return { name: 'tensorgate', version, extensions: [...extensions] };
}

/** `GET /v2/health/live`. */
export function serverLive(live: boolean): { live: boolean } {
  return { live };
}

/** `GET /v2/health/ready`. */
export function serverReady(ready: boolean): { ready: boolean } {
  return { ready };
}

/** `GET /v2/models/{m}[/versions/{v}]/ready`. */
export function modelReady(name: string, ready: boolean): { name: string; ready: boolean } {
  return { name, ready };
}

// ---------------------------------------------------------------------------------------------
// Model metadata

export interface MetadataTensor {
  name: string;
  datatype: DataType;
  /** -1 for every dynamic dimension (the batch dimension included). */
  shape: number[];
}

export interface ModelMetadataResponse {
  name: string;
  versions: string[];
  platform: string;
  inputs: MetadataTensor[];
  outputs: MetadataTensor[];
}

/** The platform name tensorgate reports in model metadata (the v2 spec's name for ONNX models). */
export const ONNX_PLATFORM = 'onnx_onnxv1';

/** `GET /v2/models/{m}[/versions/{v}]`. */
export function modelMetadata(
  name: string,
  versions: string[],
  inputs: readonly TensorInfo[],
  outputs: readonly TensorInfo[],
): ModelMetadataResponse {
  return {
    name,
    versions: [...versions],
    platform: ONNX_PLATFORM,
    inputs: inputs.map(metadataTensor),
    outputs: outputs.map(metadataTensor),
  };
}

function metadataTensor(t: TensorInfo): MetadataTensor {
  return { name: t.name, datatype: t.datatype, shape: t.shape.map((d) => (d < 0 ? -1 : d)) };
}

// ---------------------------------------------------------------------------------------------
// Statistics extension

export interface DurationStatJson {
  count: number;
  ns: number;
}

export interface InferenceStatsJson {
  success: DurationStatJson;
  fail: DurationStatJson;
  queue: DurationStatJson;
  compute_input: DurationStatJson;
  compute_infer: DurationStatJson;
  compute_output: DurationStatJson;
  cache_hit: DurationStatJson;
  cache_miss: DurationStatJson;
}

export interface BatchStatJson {
  batch_size: number;
  compute_input: DurationStatJson;
  compute_infer: DurationStatJson;
  compute_output: DurationStatJson;
}

export interface ModelStatJson {
  name: string;
  version: string;
  last_inference: number;
  inference_count: number;
  execution_count: number;
  inference_stats: InferenceStatsJson;
  /** Per-response statistics of decoupled models: always empty here (no decoupled models). */
  response_stats: Record<string, never>;
  batch_stats: BatchStatJson[];
  /** Triton's per-memory-kind usage: not tracked, always empty. */
  memory_usage: never[];
}

export interface ModelStatisticsResponse {
  model_stats: ModelStatJson[];
}

export interface StatisticsEntry {
  name: string;
  version: string;
  /** The engine's counters, as Model.stats() returns them. */
  stats: NativeModelStats;
  /** Response cache lookups, when the model has a response cache. */
  cache?: { hits: DurationStat; misses: DurationStat };
}

/**
 * `GET /v2/models[/{m}[/versions/{v}]]/stats`, in the shape Triton serves (core
 * TRITONSERVER_ServerModelStatistics): field names and nesting as Triton's, `response_stats` and
 * `memory_usage` present and empty.
 *
 * Cache hits are folded in as Triton counts them: `success` includes them (count and duration) and
 * `queue` counts them; inference_count, execution_count and compute_* do not. Pass the engine's
 * counters untouched.
 */
export function modelStatistics(entries: readonly StatisticsEntry[]): ModelStatisticsResponse {
  return { model_stats: entries.map(modelStat) };
}

function modelStat(entry: StatisticsEntry): ModelStatJson {
  const s = entry.stats;
  const hits = entry.cache?.hits ?? ZERO;
  const misses = entry.cache?.misses ?? ZERO;
  return {
    name: entry.name,
    version: entry.version,
    last_inference: s.lastInferenceMs,
    inference_count: s.inferenceCount,
    execution_count: s.executionCount,
    inference_stats: {
      success: { count: s.success.count + hits.count, ns: s.success.ns + hits.ns },
      fail: duration(s.fail),
      queue: { count: s.queue.count + hits.count, ns: s.queue.ns },
      compute_input: duration(s.computeInput),
      compute_infer: duration(s.computeInfer),
      compute_output: duration(s.computeOutput),
      cache_hit: duration(hits),
      cache_miss: duration(misses),
    },
    response_stats: {},
    batch_stats: s.batches
      .filter((b) => b.executions > 0)
      .sort((a, b) => a.batchSize - b.batchSize)
      .map((b) => ({
        batch_size: b.batchSize,
        compute_input: duration(b.computeInput),
        compute_infer: duration(b.computeInfer),
        compute_output: duration(b.computeOutput),
      })),
    memory_usage: [],
  };
}

const ZERO: DurationStat = { count: 0, ns: 0 };

function duration(d: DurationStat): DurationStatJson {
  return { count: d.count, ns: d.ns };
}

// ---------------------------------------------------------------------------------------------
// Model repository extension

export interface RepositoryIndexEntry {
  name: string;
  version?: string;
  /** READY, UNAVAILABLE, LOADING, UNLOADING (Triton's states). */
  state: string;
  reason?: string;
}

/** `POST /v2/repository/index`: an array; `version` and `reason` only where known (as Triton). */
export function repositoryIndex(entries: readonly RepositoryIndexEntry[]): RepositoryIndexEntry[] {
  return entries.map((e) => ({
    name: e.name,
    ...(e.version ? { version: e.version } : {}),
    state: e.state,
    ...(e.reason ? { reason: e.reason } : {}),
  }));
}

// ---------------------------------------------------------------------------------------------
// Model configuration extension

export interface QueuePolicyArgs {
  maxQueueSize: number;
  defaultTimeoutMicroseconds: number;
  timeoutAction: 'REJECT' | 'DELAY';
  allowTimeoutOverride: boolean;
}

export interface ModelConfigArgs {
  name: string;
  /** Triton's max_batch_size: 0 when the model does not batch. */
  maxBatchSize: number;
  /** Full tensor shapes (batch dimension included when maxBatchSize > 0), -1 = dynamic. */
  inputs: readonly TensorInfo[];
  outputs: readonly TensorInfo[];
  /** Present when dynamic batching is on. */
  dynamicBatching?: {
    preferredBatchSize: readonly number[];
    maxQueueDelayMicroseconds: number;
    priorityLevels: number;
    defaultPriorityLevel: number;
    defaultQueuePolicy?: QueuePolicyArgs;
    priorityQueuePolicy?: Readonly<Record<string, QueuePolicyArgs>>;
  };
  /** Runner threads (Triton's instance_group count). */
  instanceCount?: number;
  /** KIND_CPU unless the model runs on a GPU provider. */
  instanceKind?: 'KIND_CPU' | 'KIND_GPU';
  defaultModelFilename?: string;
}

/** Triton's TYPE_* name of each v2 datatype (BYTES is TYPE_STRING in model configuration). */
export const CONFIG_DATA_TYPE: Record<DataType, string> = {
  BOOL: 'TYPE_BOOL',
  UINT8: 'TYPE_UINT8',
  UINT16: 'TYPE_UINT16',
  UINT32: 'TYPE_UINT32',
  UINT64: 'TYPE_UINT64',
  INT8: 'TYPE_INT8',
  INT16: 'TYPE_INT16',
  INT32: 'TYPE_INT32',
  INT64: 'TYPE_INT64',
  FP16: 'TYPE_FP16',
  FP32: 'TYPE_FP32',
  FP64: 'TYPE_FP64',
  BYTES: 'TYPE_STRING',
};

/**
 * `GET /v2/models/{m}[/versions/{v}]/config`: the model's configuration as Triton's ModelConfig JSON
 * (model_config.proto field names, integers as JSON numbers as Triton writes them). As in Triton,
 * `dims` leave out the batch dimension when max_batch_size > 0. The fields perf_analyzer and
 * tritonclient read are all present: max_batch_size, input/output (name, data_type, dims, format),
 * dynamic_batching, sequence_batching (absent: not supported), model_transaction_policy, platform
 * and backend.
 */
export function modelConfig(args: ModelConfigArgs): Record<string, unknown> {
  const batching = args.maxBatchSize > 0;
  const dims = (t: TensorInfo): number[] => (batching ? t.shape.slice(1) : t.shape).map((d) => (d < 0 ? -1 : d));
  const config: Record<string, unknown> = {
    name: args.name,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: { latest: { num_versions: 1 } },
    max_batch_size: args.maxBatchSize,
    input: args.inputs.map((t) => ({
      name: t.name,
      data_type: CONFIG_DATA_TYPE[t.datatype],
      format: 'FORMAT_NONE',
      dims: dims(t),
      is_shape_tensor: false,
      allow_ragged_batch: false,
      optional: false,
    })),
    output: args.outputs.map((t) => ({
      name: t.name,
      data_type: CONFIG_DATA_TYPE[t.datatype],
      dims: dims(t),
      label_filename: '',
      is_shape_tensor: false,
    })),
    batch_input: [],
    batch_output: [],
    instance_group: [
      {
        name: args.name,
        kind: args.instanceKind ?? 'KIND_CPU',
        count: args.instanceCount ?? 1,
        gpus: args.instanceKind === 'KIND_GPU' ? [0] : [],
        secondary_devices: [],
        profile: [],
        passive: false,
        host_policy: '',
      },
    ],
    default_model_filename: args.defaultModelFilename ?? 'model.onnx',
    cc_model_filenames: {},
    metric_tags: {},
    parameters: {},
    model_warmup: [],
    model_transaction_policy: { decoupled: false },
  };
  const db = args.dynamicBatching;
  if (db !== undefined) {
    const policies: Record<string, unknown> = {};
    for (const [level, policy] of Object.entries(db.priorityQueuePolicy ?? {})) policies[level] = queuePolicy(policy);
    config.dynamic_batching = {
      preferred_batch_size: [...db.preferredBatchSize],
      max_queue_delay_microseconds: db.maxQueueDelayMicroseconds,
      preserve_ordering: false,
      priority_levels: db.priorityLevels,
      default_priority_level: db.defaultPriorityLevel,
      ...(db.defaultQueuePolicy ? { default_queue_policy: queuePolicy(db.defaultQueuePolicy) } : {}),
      priority_queue_policy: policies,
    };
  }
  return config;
}

function queuePolicy(p: QueuePolicyArgs): Record<string, unknown> {
  return {
    timeout_action: p.timeoutAction,
    default_timeout_microseconds: p.defaultTimeoutMicroseconds,
    allow_timeout_override: p.allowTimeoutOverride,
    max_queue_size: p.maxQueueSize,
  };
}
