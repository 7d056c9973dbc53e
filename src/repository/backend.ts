// What a model version is to the rest of the server, whatever runs it: a Servable (an ONNX model in
// the engine, JavaScript code on worker threads, an ensemble of other models; routes plug in as
// further backends). A Backend knows which version directories hold its versions and how to load
// one. The repository picks the backend from the config (Triton's `platform` / `backend` fields) and
// treats every kind alike: versions, policies, swaps, leases, readiness.
import type { Engine, InferOptions, InferOutputs, InferInputs, ModelStats, TensorMetadata } from '../engine/index.js';
import type { DurationStat } from '../engine/binding.js';
import type { RoutingRuntime } from '../routing/runtime.js';
import type { ModelConfig } from './config-schema.js';
import type { ServedVersion } from './model-entry.js';

export interface ServableMetadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** The effective max_batch_size (0: the model does not batch). */
  maxBatchSize: number;
  dynamicBatching: boolean;
}

/** W3C trace context of the request a call belongs to (the inference layer's TraceContext fits). */
export interface CallTrace {
  traceparent: string;
  tracestate: string | undefined;
}

/**
 * Opaque: the worker task that waits on a call a JavaScript model made (see src/pipelines/wait-graph.ts),
 * so that a call which could only wait on itself is refused instead of deadlocking.
 */
export interface CallWaiter {
  readonly waiterLabel: string;
}

/**
 * Options of a call to any Servable: the engine's (deadline, priority, cancellation, outputs, timings)
 * and what calls between models carry (ensembles, calls from JavaScript models). The engine reads only
 * its own fields.
 */
export interface ServableInferOptions extends InferOptions {
  /**
   * The caller hands the inputs' buffers over and will not read them again: a backend that moves
   * tensors to another thread may transfer them instead of copying.
   */
  donateInputs?: boolean | undefined;
  trace?: CallTrace | undefined;
  /** The models this call is nested in, outermost first (for cycle messages and the depth limit). */
  chain?: readonly string[] | undefined;
  /** The worker task waiting on this call, when a JavaScript model made it. */
  waiter?: CallWaiter | undefined;
  /** The request's own parameters, as given (JavaScript models may read them). */
  parameters?: Readonly<Record<string, unknown>> | undefined;
  /** The request's id, when it has one. */
  id?: string | undefined;
}

/** One composing model of an ensemble, as seen by that ensemble (Triton's composing-model statistics). */
export interface ComposingStats {
  /** The step's index in ensemble_scheduling.step. */
  step: number;
  model: string;
  /** The version that answered ('' before the first call). */
  version: string;
  success: DurationStat;
  fail: DurationStat;
  queue: DurationStat;
  compute: DurationStat;
  /** Durations of successful step calls: counts per native latency bucket (metrics). */
  histogram: number[];
}

/** The worker threads of a JavaScript model version. */
export interface WorkerStats {
  configured: number;
  ready: number;
  starting: number;
  /** Workers that died while running requests (uncaught error, process.exit, out of memory). */
  crashes: number;
  /** Workers stopped because their execute outlived every request in it (deadlines, cancellations) by a grace. */
  timeouts: number;
  /** Workers that failed while starting (their initialize threw, their code did not load). */
  startFailures: number;
}

export interface Servable {
  readonly metadata: ServableMetadata;
  /** False once unload() has begun. */
  readonly accepting: boolean;
  infer(inputs: InferInputs, options?: ServableInferOptions): Promise<InferOutputs>;
  /** Cumulative statistics in the engine's form (Triton's: counts, durations, batches). */
  stats(): ModelStats;
  /** Completes every accepted request, then frees what the version holds. */
  unload(): Promise<void>;
  /** Why the version cannot answer right now (its workers cannot start, a step is gone); undefined when it can. */
  unhealthy?(): string | undefined;
  /** Per-step statistics of an ensemble. */
  composing?(): ComposingStats[];
  /** Worker threads of a JavaScript model. */
  workers?(): WorkerStats;
  /**
   * What the response cache keys on instead of the version's content hash, when the answers also
   * depend on other models (an ensemble's steps): changes whenever one of them is swapped.
   */
  cacheIdentity?(): string;
  /**
   * Another model this one is ready only when it is (a route: its primary target); followed by the
   * repository's readiness and ServerControl.modelReady. Version undefined: its latest.
   */
  readonly readyWith?: { readonly model: string; readonly version: number | undefined } | undefined;
  /** Models it sends requests to: an explicit load of this one loads them too (as Triton's ensembles). */
  readonly dependencies?: readonly string[] | undefined;
  /** It answers only through the inference stages (a route): callers inside the server use ModelAccess.call. */
  readonly throughService?: boolean;
}

/** Runs a model through the inference stages for a caller inside the server (routes need them). */
export type InProcessInvoker = (model: string, version: string | undefined, inputs: InferInputs, options: ServableInferOptions) => Promise<InferOutputs>;

/** A version starting to serve, or retired (no new requests; it unloads once drained). */
export interface ModelChange {
  kind: 'served' | 'retired';
  version: ServedVersion;
}

/**
 * What backends see of the repository: the request path's leases, what is served, the configs on
 * disk, and changes as they happen. Ensembles resolve their steps through it per request; JavaScript
 * models call other models through it.
 */
export interface ModelAccess {
  /** As ModelRepository.acquire: a lease on the version that answers; call release() when done. */
  acquire(name: string, version?: string): ServedVersion | Promise<ServedVersion>;
  release(served: ServedVersion): void;
  /** Served versions of a model (all, or one), highest first, without leases. */
  served(name: string, version?: string): ServedVersion[];
  allServed(): ServedVersion[];
  /** The model's config as on disk; undefined when it has none, does not exist or does not parse. */
  configOf(name: string): ModelConfig | undefined;
  /** Calls `listener` on every change from now on; returns the function that stops it. */
  watch(listener: (change: ModelChange) => void): () => void;
  /** Models not loaded are loaded on a request's demand (--model-memory-budget). */
  readonly onDemand: boolean;
  /**
   * Runs a model through the inference stages, as a request from a front would (a route's choice,
   * fallback, the response cache): for targets marked throughService.
   */
  call(model: string, version: string | undefined, inputs: InferInputs, options: ServableInferOptions): Promise<InferOutputs>;
}

/** What a backend may look up of the other models in the repository while it loads or serves. */
export interface RepositoryPeers {
  /** The repository's root directory. */
  readonly root: string;
  /** The served instance of `name` (its latest, or `version`), without a lease. */
  served(name: string, version?: number): ServedVersion | undefined;
}

export interface BackendLoad {
  name: string;
  version: number;
  /** The version directory. */
  dir: string;
  /** The version's model file (dir/<model file>), when the backend has one. */
  file: string | undefined;
  config: ModelConfig;
  /** Where the config came from, for messages ("<model>/config.json"). */
  where: string;
  engine: Engine;
  /** max_batch_size for configs that leave it out (auto-complete). */
  defaultMaxBatchSize: number;
  /** The repository, for backends built from other models. */
  models: ModelAccess;
  /** Where a backend reports what happens after the load (workers failing, restarting). */
  logger: BackendLogger;
  /** The other models (routes resolve their targets' metadata through it). */
  peers: RepositoryPeers;
  /** Traffic management state shared by routes (their backend needs it). */
  routing: RoutingRuntime;
}

export interface BackendLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface Backend {
  /** The name the config selects it by (Triton's `backend`), also reported in the effective config. */
  readonly name: string;
  /** The platform of the effective config (Triton's `platform`). */
  readonly platform: string;
  /** The platform reported in v2 model metadata. */
  readonly metadataPlatform: string;
  /**
   * The file a version directory must hold to be a version (the first of several that is present);
   * undefined: every integer directory is one.
   */
  modelFile(config: ModelConfig): string | readonly string[] | undefined;
  /** True: a model without version directories serves as version 1 from its own directory (routes). */
  readonly versionless?: boolean;
  /** The effective config (GET .../config) when the backend reports it itself. */
  effectiveConfig?(name: string, config: ModelConfig): Record<string, unknown>;
  /** Loads (and warms up) one version; throws with a message naming the problem. */
  load(load: BackendLoad): Promise<Servable>;
  /** Adjusts the effective config (GET .../config) to what the backend supports. */
  completeConfig?(config: Record<string, unknown>): Record<string, unknown>;
  /** Models a version is built from, read from its config (an ensemble's steps): they load first on an explicit load, and one that failed to load is tried again when one of them starts serving. */
  dependsOn?(config: ModelConfig): string[];
}

const backends = new Map<string, Backend>();

/** Makes a backend selectable by configs (`backend: <name>`, or a platform it claims). */
export function registerBackend(backend: Backend, platforms: readonly string[] = []): void {
  backends.set(backend.name, backend);
  for (const p of platforms) backends.set(`platform:${p}`, backend);
}

/** The backend a config asks for: its `backend`, else its `platform`, else ONNX Runtime. */
export function backendFor(config: ModelConfig): Backend {
  const chosen = config.backend !== undefined ? backends.get(config.backend) : config.platform !== undefined ? backends.get(`platform:${config.platform}`) : backends.get('onnxruntime');
  if (!chosen) throw new Error(`no backend for ${config.backend !== undefined ? `backend '${config.backend}'` : `platform '${config.platform}'`}`);
  return chosen;
}

/** The model file names a backend accepts, as a list. */
export function modelFileNames(backend: Backend, config: ModelConfig): readonly string[] | undefined {
  const f = backend.modelFile(config);
  return f === undefined ? undefined : typeof f === 'string' ? [f] : f;
}
