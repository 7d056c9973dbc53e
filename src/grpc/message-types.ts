// TypeScript shapes of the control-plane messages in proto/grpc_service.proto and proto/health.proto,
// as messages.ts decodes them: proto field names (snake_case), every scalar, repeated and map field
// present (proto3 defaults filled in), absent sub-messages null, oneof members only when set, enums
// as their names, 64-bit integers as decimal strings. Encoders take Init<T>: any subset, with
// 64-bit integers as numbers or decimal strings.
import type { TritonDataType } from '../repository/config-schema.js';

/** A 64-bit integer: decoded as its exact decimal string, encoded from a number or a decimal string. */
export type Int64 = number | string;

/** What an encoder accepts for a message of type T: any subset of its fields; null = absent. */
export type Init<T> = T extends Buffer | string | number | boolean
  ? T
  : T extends ReadonlyArray<infer E>
    ? ReadonlyArray<Init<E>>
    : T extends object
      ? { [K in keyof T]?: Init<T[K]> | null }
      : T;

/** A message without fields. */
export type Empty = Record<string, never>;

// ---------------------------------------------------------------------------------------------
// Health and metadata

export interface ServerLiveResponse {
  live: boolean;
}

export interface ServerReadyResponse {
  ready: boolean;
}

/** ModelReadyRequest, ModelMetadataRequest, ModelConfigRequest, ModelStatisticsRequest. */
export interface ModelRequest {
  name: string;
  /** Empty: the version the model's policy picks (statistics: every version). */
  version: string;
}

export interface ModelReadyResponse {
  ready: boolean;
}

export interface ServerMetadataResponse {
  name: string;
  version: string;
  extensions: string[];
}

export interface TensorMetadataMessage {
  name: string;
  datatype: string;
  shape: Int64[];
}

export interface ModelMetadataResponse {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadataMessage[];
  outputs: TensorMetadataMessage[];
}

export interface HealthCheckRequest {
  service: string;
}

export interface HealthCheckResponse {
  status: 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';
}

// ---------------------------------------------------------------------------------------------
// Statistics

export interface StatisticDuration {
  count: Int64;
  ns: Int64;
}

export interface InferStatistics {
  success: StatisticDuration | null;
  fail: StatisticDuration | null;
  queue: StatisticDuration | null;
  compute_input: StatisticDuration | null;
  compute_infer: StatisticDuration | null;
  compute_output: StatisticDuration | null;
  cache_hit: StatisticDuration | null;
  cache_miss: StatisticDuration | null;
}

export interface InferResponseStatistics {
  compute_infer: StatisticDuration | null;
  compute_output: StatisticDuration | null;
  success: StatisticDuration | null;
  fail: StatisticDuration | null;
  empty_response: StatisticDuration | null;
  cancel: StatisticDuration | null;
}

export interface InferBatchStatistics {
  batch_size: Int64;
  compute_input: StatisticDuration | null;
  compute_infer: StatisticDuration | null;
  compute_output: StatisticDuration | null;
}

export interface MemoryUsage {
  type: string;
  id: Int64;
  byte_size: Int64;
}

export interface ModelStatistics {
  name: string;
  version: string;
  last_inference: Int64;
  inference_count: Int64;
  execution_count: Int64;
  inference_stats: InferStatistics | null;
  batch_stats: InferBatchStatistics[];
  memory_usage: MemoryUsage[];
  response_stats: Record<string, InferResponseStatistics>;
}

export interface ModelStatisticsResponse {
  model_stats: ModelStatistics[];
}

// ---------------------------------------------------------------------------------------------
// Model repository

/** A oneof: exactly one member is present. */
export interface ModelRepositoryParameter {
  bool_param?: boolean;
  int64_param?: Int64;
  string_param?: string;
  bytes_param?: Buffer;
}

export interface RepositoryIndexRequest {
  repository_name: string;
  ready: boolean;
}

export interface ModelIndex {
  name: string;
  version: string;
  state: string;
  reason: string;
}

export interface RepositoryIndexResponse {
  models: ModelIndex[];
}

/** RepositoryModelLoadRequest and RepositoryModelUnloadRequest (same fields). */
export interface RepositoryModelRequest {
  repository_name: string;
  model_name: string;
  parameters: Record<string, ModelRepositoryParameter>;
}

// ---------------------------------------------------------------------------------------------
// ModelConfig (the subset in grpc_service.proto)

export type DataTypeName = 'TYPE_INVALID' | TritonDataType;

export interface ModelTensorReshape {
  shape: Int64[];
}

export interface ModelInputMessage {
  name: string;
  data_type: DataTypeName;
  format: 'FORMAT_NONE' | 'FORMAT_NHWC' | 'FORMAT_NCHW';
  dims: Int64[];
  reshape: ModelTensorReshape | null;
  is_shape_tensor: boolean;
  allow_ragged_batch: boolean;
  optional: boolean;
  is_non_linear_format_io: boolean;
}

export interface ModelOutputMessage {
  name: string;
  data_type: DataTypeName;
  dims: Int64[];
  reshape: ModelTensorReshape | null;
  label_filename: string;
  is_shape_tensor: boolean;
  is_non_linear_format_io: boolean;
}

export interface ModelVersionPolicy {
  latest?: { num_versions: number };
  all?: Empty;
  specific?: { versions: Int64[] };
}

export interface Accelerator {
  name: string;
  parameters: Record<string, string>;
}

export interface ModelOptimizationPolicy {
  graph: { level: number } | null;
  execution_accelerators: { gpu_execution_accelerator: Accelerator[]; cpu_execution_accelerator: Accelerator[] } | null;
}

export interface ModelQueuePolicy {
  timeout_action: 'REJECT' | 'DELAY';
  default_timeout_microseconds: Int64;
  allow_timeout_override: boolean;
  max_queue_size: number;
}

export interface ModelDynamicBatching {
  preferred_batch_size: number[];
  max_queue_delay_microseconds: Int64;
  preserve_ordering: boolean;
  priority_levels: Int64;
  default_priority_level: Int64;
  default_queue_policy: ModelQueuePolicy | null;
  /** Keyed by priority level, in decimal. */
  priority_queue_policy: Record<string, ModelQueuePolicy>;
}

export interface EnsembleStep {
  model_name: string;
  model_version: Int64;
  input_map: Record<string, string>;
  output_map: Record<string, string>;
}

export interface ModelEnsembling {
  step: EnsembleStep[];
  max_inflight_requests: number;
}

export interface ModelInstanceGroup {
  name: string;
  kind: 'KIND_AUTO' | 'KIND_GPU' | 'KIND_CPU' | 'KIND_MODEL';
  count: number;
  gpus: number[];
  passive: boolean;
  host_policy: string;
}

export interface WarmupInput {
  data_type: DataTypeName;
  dims: Int64[];
  zero_data?: boolean;
  random_data?: boolean;
  input_data_file?: string;
}

export interface ModelWarmup {
  name: string;
  batch_size: number;
  inputs: Record<string, WarmupInput>;
  count: number;
}

export interface ModelConfigMessage {
  name: string;
  platform: string;
  backend: string;
  version_policy: ModelVersionPolicy | null;
  max_batch_size: number;
  input: ModelInputMessage[];
  output: ModelOutputMessage[];
  optimization: ModelOptimizationPolicy | null;
  /** One of dynamic_batching and ensemble_scheduling, or neither. */
  dynamic_batching?: ModelDynamicBatching;
  ensemble_scheduling?: ModelEnsembling;
  instance_group: ModelInstanceGroup[];
  default_model_filename: string;
  parameters: Record<string, { string_value: string }>;
  model_warmup: ModelWarmup[];
  response_cache: { enable: boolean } | null;
}

export interface ModelConfigResponse {
  config: ModelConfigMessage | null;
}
