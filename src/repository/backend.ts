// What a model version is to the rest of the server, whatever runs it: a Servable (an ONNX model in
// the engine today; JavaScript code, ensembles and routes plug in as further backends). A Backend
// knows which version directories hold its versions and how to load one. The repository picks the
// backend from the config (Triton's `platform` / `backend` fields) and treats every kind alike:
// versions, policies, swaps, leases, readiness.
import type { Engine, InferOptions, InferOutputs, InferInputs, ModelStats, TensorMetadata } from '../engine/index.js';
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

export interface Servable {
  readonly metadata: ServableMetadata;
  /** False once unload() has begun. */
  readonly accepting: boolean;
  infer(inputs: InferInputs, options?: InferOptions): Promise<InferOutputs>;
  /** Cumulative statistics in the engine's form (Triton's: counts, durations, batches). */
  stats(): ModelStats;
  /** Completes every accepted request, then frees what the version holds. */
  unload(): Promise<void>;
  /**
   * Another model this one is ready only when it is (a route: its primary target); followed by the
   * repository's readiness and ServerControl.modelReady. Version undefined: its latest.
   */
  readonly readyWith?: { readonly model: string; readonly version: number | undefined } | undefined;
  /** Models it sends requests to: an explicit load of this one loads them too (as Triton's ensembles). */
  readonly dependencies?: readonly string[] | undefined;
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
  /** The other models (routes resolve their targets' metadata through it). */
  peers: RepositoryPeers;
  /** Traffic management state shared by routes (their backend needs it). */
  routing: RoutingRuntime;
}

export interface Backend {
  /** The name the config selects it by (Triton's `backend`), also reported in the effective config. */
  readonly name: string;
  /** The platform of the effective config (Triton's `platform`). */
  readonly platform: string;
  /** The platform reported in v2 model metadata. */
  readonly metadataPlatform: string;
  /** The file a version directory must hold to be a version; undefined: every integer directory is one. */
  modelFile(config: ModelConfig): string | undefined;
  /** True: a model without version directories serves as version 1 from its own directory (routes). */
  readonly versionless?: boolean;
  /** The effective config (GET .../config) when the backend reports it itself. */
  effectiveConfig?(name: string, config: ModelConfig): Record<string, unknown>;
  /** Loads (and warms up) one version; throws with a message naming the problem. */
  load(load: BackendLoad): Promise<Servable>;
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
