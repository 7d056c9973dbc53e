// Bodies of the v2 protocol's non-inference endpoints, and of Triton's extensions that tensorgate
// serves (statistics, model_repository index, model_configuration). Builders return plain objects;
// the transport serializes them (JSON.stringify for REST).
import type { DurationStat, NativeModelStats } from '../engine/binding.js';
import type { ComposingStats } from '../repository/backend.js';
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
  platform: string = ONNX_PLATFORM,
): ModelMetadataResponse {
  return {
    name,
    versions: [...versions],
    platform,
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
  /** Ensembles only: each step's calls as this ensemble made them (Triton reports composing models' own stats). */
  composing_models?: ComposingModelStatJson[];
}

export interface ComposingModelStatJson {
  step: number;
  name: string;
  version: string;
  inference_stats: Pick<InferenceStatsJson, 'success' | 'fail' | 'queue' | 'compute_infer'>;
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
  /** Per-step statistics, for ensembles. */
  composing?: ComposingStats[];
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
    ...(entry.composing
      ? {
          composing_models: entry.composing.map((c) => ({
            step: c.step,
            name: c.model,
            version: c.version,
            inference_stats: { success: duration(c.success), fail: duration(c.fail), queue: duration(c.queue), compute_infer: duration(c.compute) },
          })),
        }
      : {}),
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
