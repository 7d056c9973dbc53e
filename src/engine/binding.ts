// The native addon's surface, typed. Which binary loads (a source build, the CUDA flavour, the CPU
// prebuild) is src/platform/flavour.ts's decision.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../platform/addon.js';
import type { AddonChoice } from '../platform/flavour.js';
import type { DataType } from './datatype.js';
import { layoutDrift, type CompletionLayout } from './completion-layout.js';
import { deliver } from './completions.js';
import { TensorgateError, type ErrorCode } from './errors.js';

export interface NativeTensorInfo {
  name: string;
  datatype: DataType;
  shape: number[];
  dimNames: Array<string | null>;
}

export interface NativeProviderStatus {
  name: string;
  active: boolean;
  reason?: string;
}

export interface NativeModelInfo {
  id: number;
  inputs: NativeTensorInfo[];
  outputs: NativeTensorInfo[];
  providers: NativeProviderStatus[];
  producer: string;
  graphName: string;
  domain: string;
  description: string;
  modelVersion: number;
  customMetadata: Record<string, string>;
  maxBatchSize: number;
  dynamicBatching: boolean;
}

export interface DurationStat {
  count: number;
  ns: number;
}

export interface NativeBatchStat {
  batchSize: number;
  executions: number;
  computeInput: DurationStat;
  computeInfer: DurationStat;
  computeOutput: DurationStat;
}

export interface NativeModelStats {
  /** Accepted and not yet completed (executing ones included). */
  pending: number;
  /**
   * Accepted and waiting for their batch to start: Triton's pending request count. Absent from
   * addons built before it (the metric is then left out rather than reported with another meaning).
   */
  queued?: number;
  inferenceCount: number;
  executionCount: number;
  lastInferenceMs: number;
  success: DurationStat;
  fail: DurationStat;
  failures: {
    queueFull: number;
    timeout: number;
    cancelled: number;
    unavailable: number;
    invalid: number;
    backend: number;
  };
  queue: DurationStat;
  computeInput: DurationStat;
  computeInfer: DurationStat;
  computeOutput: DurationStat;
  batches: NativeBatchStat[];
  /** Counts per bucket; bucket bounds from histogramBounds(). */
  histograms: { request: number[]; queue: number[]; compute: number[] };
}

export type NativeInputData = ArrayBufferView | ReadonlyArray<string | Uint8Array>;

export interface NativeModel {
  readonly id: number;
  readonly accepting: boolean;
  /** The shape mailbox: the dims of every input, input after input, written before submit(). */
  readonly shapes: Float64Array;
  info(): NativeModelInfo;
  /** Answers through the completion handler under `slot`; throws for invalid input, QUEUE_FULL, UNAVAILABLE. */
  submit(
    slot: number,
    priority: number,
    timeoutUs: number,
    outputs: Int32Array | null,
    cancellable: boolean,
    ...datas: NativeInputData[]
  ): void;
  /** Drops a queued request unrun; false when it is already running or done. */
  cancel(slot: number): boolean;
  stats(): NativeModelStats;
  unload(): Promise<void>;
}

export interface NativeSessionOptions {
  graphOptimizationLevel: number;
  intraOpThreads: number;
  interOpThreads: number;
  memoryArena: boolean;
  optimizedModelPath?: string;
  providers: Array<{ name: string; options: Record<string, string> }>;
  configEntries: Record<string, string>;
}

export interface NativeQueuePolicy {
  maxQueueSize: number;
  defaultTimeoutMicroseconds: number;
  timeoutAction: 'REJECT' | 'DELAY';
  allowTimeoutOverride: boolean;
}

export interface NativeBatchingOptions {
  maxBatchSize: number;
  autoMaxBatchSize: number;
  dynamicBatching: boolean;
  preferredBatchSize: number[];
  maxQueueDelayMicroseconds: number;
  priorityLevels: number;
  defaultPriorityLevel: number;
  defaultQueuePolicy: NativeQueuePolicy;
  priorityQueuePolicy: Record<number, NativeQueuePolicy>;
  instanceCount: number;
  spinMicroseconds: number;
}

export interface NativeInitOptions {
  library: string;
  eventLoopSpinMicroseconds: number;
  /** The datatype table (src/engine/datatype.ts): the addon keeps no copy of its own. */
  datatypes: Array<{ onnx: number; name: string; size: number; supported: boolean }>;
  intraOpThreads: number;
  interOpThreads: number;
  allowSpinning: boolean;
  logLevel: number;
  threadsExplicit: boolean;
  isMainThread: boolean;
}

export interface NativeRuntimeInfo {
  ortVersion: string;
  apiVersion: number;
  library: string;
  intraOpThreads: number;
  interOpThreads: number;
}

export type CompletionHandler = (
  descriptor: Float64Array,
  count: number,
  buffers: ArrayBuffer[],
  errors: Error[] | undefined,
  bytes: Buffer[][] | undefined,
) => void;

export interface NativeGpuDevice {
  index: number;
  uuid: string;
  name: string;
  /** 0..1; -1 where the device does not report it (likewise below). */
  utilization: number;
  memoryUsedBytes: number;
  memoryTotalBytes: number;
  powerWatts: number;
  powerLimitWatts: number;
}

export interface NativeGpuReadings {
  available: boolean;
  /** Why not, when unavailable (no driver, not Linux). */
  reason?: string;
  devices: NativeGpuDevice[];
}

/** What the loaded binary and this machine give CUDA (native/cuda/pinned_memory.h). */
export interface NativeCudaStatus {
  compiled: boolean;
  runtimeLoaded: boolean;
  deviceCount: number;
  runtimeVersion: number;
  driverVersion: number;
  library: string;
  reason: string;
}

export interface NativeBinding {
  init(options: NativeInitOptions): NativeRuntimeInfo;
  cudaStatus(): NativeCudaStatus;
  setCompletionHandler(handler: CompletionHandler): void;
  setErrorFactory(factory: (code: ErrorCode, message: string, ortCode?: string) => Error): void;
  loadModel(source: string | Uint8Array, session: NativeSessionOptions, batching: NativeBatchingOptions): Promise<NativeModel>;
  attachModel(id: number): NativeModel;
  histogramBounds(): number[];
  /** GPU readings through NVML (absent from addons built before it). */
  gpuDevices?(): NativeGpuReadings;
  /**
   * The connected stream sockets another addon (uWS) polls on this thread's event loop; with
   * `shutdown`, each is shut down first (uWS then closes them itself). Absent from older addons.
   */
  loopSockets?(shutdown: boolean): number;
  readonly ortApiVersion: number;
  /** The completion descriptor layout the addon writes (native/js/completion_layout.h). */
  readonly completionLayout: CompletionLayout;
}

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
let binding: NativeBinding | undefined;
let choice: AddonChoice | undefined;

/** Which binary this thread loaded and why; undefined before the first nativeBinding(). */
export function addonChoice(): AddonChoice | undefined {
  return choice;
}

export function nativeBinding(): NativeBinding {
  if (binding) return binding;
  let loaded: NativeBinding;
  try {
    const addon = loadAddon<NativeBinding>(packageRoot);
    loaded = addon.binding;
    choice = addon.choice;
  } catch (err) {
    throw new TensorgateError('INTERNAL', (err as Error).message);
  }
  const drift = layoutDrift(loaded.completionLayout ?? {});
  if (drift.length > 0) {
    throw new TensorgateError('INTERNAL', `the native addon's completion layout differs from src/engine/completion-layout.ts (rebuild it): ${drift.join('; ')}`);
  }
  loaded.setErrorFactory((code, message, ortCode) => new TensorgateError(code, message, ortCode));
  loaded.setCompletionHandler(deliver);
  binding = loaded;
  return loaded;
}
