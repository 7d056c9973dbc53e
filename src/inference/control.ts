// The control plane every front serves: health, metadata, configuration, statistics and the
// repository API, as plain objects (src/protocol/metadata.ts) that each front writes in its own wire
// format. Also the admin token check that guards the repository API on every front.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ResponseCache } from '../cache/index.js';
import type { ModelMonitors } from '../monitoring/monitors.js';
import type { MonitoringReport } from '../monitoring/report.js';
import type { TraceControl } from '../tracing/control.js';
import type { TraceSettingsWire } from '../tracing/settings.js';
import {
  modelMetadata,
  modelStatistics,
  repositoryIndex,
  serverMetadata,
  type ModelMetadataResponse,
  type ModelStatisticsResponse,
  type RepositoryIndexEntry,
  type ServerMetadataResponse,
} from '../protocol/metadata.js';
import { ProtocolError } from '../protocol/errors.js';
import { checkJsonBounds } from '../protocol/json-scan.js';
import { DEFAULT_DECODE_LIMITS } from '../protocol/limits.js';
import { parseModelConfig, RepositoryError, type ModelRepository, type ServedVersion } from '../repository/index.js';

/**
 * The Triton extensions served. Not `model_repository(unload_dependents)`: there are no ensembles whose
 * composing models an unload could take along, so it is not advertised.
 */
export const EXTENSIONS = ['binary_tensor_data', 'schedule_policy', 'model_configuration', 'model_repository', 'statistics', 'trace'];

export interface ServerControlOptions {
  repository: ModelRepository;
  cache?: ResponseCache | undefined;
  /** The package version, reported by server metadata. */
  version: string;
  /** When set, the repository and traffic-management APIs need it as a bearer token. */
  adminToken?: string | undefined;
  tracing?: TraceControl | undefined;
  monitors?: ModelMonitors | undefined;
}

export class ServerControl {
  readonly #repository: ModelRepository;
  readonly #cache: ResponseCache | undefined;
  readonly #version: string;
  readonly #adminDigest: Buffer | undefined;
  readonly #tracing: TraceControl | undefined;
  readonly #monitors: ModelMonitors | undefined;
  #draining = false;

  constructor(options: ServerControlOptions) {
    this.#repository = options.repository;
    this.#cache = options.cache;
    this.#version = options.version;
    this.#adminDigest = options.adminToken ? digest(`Bearer ${options.adminToken}`) : undefined;
    this.#tracing = options.tracing;
    this.#monitors = options.monitors;
  }

  /** True once shutdown began: readiness is off and new requests are refused. */
  get draining(): boolean {
    return this.#draining;
  }

  startDraining(): void {
    this.#draining = true;
  }

  live(): boolean {
    return true;
  }

  ready(): boolean {
    return !this.#draining && this.#repository.ready();
  }

  /** Throws NOT_FOUND for a model the repository does not have. */
  modelReady(name: string, version: string | undefined): boolean {
    if (!this.#repository.exists(name)) throw new RepositoryError('NOT_FOUND', `unknown model '${name}'`);
    return !this.#draining && this.#repository.modelReady(name, version);
  }

  serverMetadata(): ServerMetadataResponse {
    return serverMetadata(this.#version, EXTENSIONS);
  }

  modelMetadata(name: string, version: string | undefined): ModelMetadataResponse {
    const served = this.#servedOrThrow(name, version);
    const head = served[0]!;
    return modelMetadata(name, served.map((s) => s.versionLabel), head.model.metadata.inputs, head.model.metadata.outputs, head.platform);
  }

  /** The complete configuration in Triton's JSON form. */
  modelConfig(name: string, version: string | undefined): Record<string, unknown> {
    return this.#servedOrThrow(name, version)[0]!.effectiveConfig;
  }

  /** Triton's statistics for one model (all served versions, or one), or every served version. */
  statistics(name: string | undefined, version: string | undefined): ModelStatisticsResponse {
    const served = name === undefined ? this.#repository.allServed() : this.#servedOrThrow(name, version);
    return modelStatistics(
      served.map((s) => {
        const cache = this.#cache && s.config.response_cache?.enable === true ? this.#cache.modelStats(s.key) : undefined;
        const composing = s.model.composing?.();
        return { name: s.name, version: s.versionLabel, stats: s.model.stats(), ...(cache ? { cache } : {}), ...(composing ? { composing } : {}) };
      }),
    );
  }

  /** Trace settings (Triton's trace extension): the server's, or a model's (NOT_FOUND for an unknown model). */
  traceSettings(model: string | undefined): TraceSettingsWire {
    return this.#tracingOf(model).settings(model);
  }

  /** Updates trace settings from a POST body (INVALID_ARGUMENT for a bad one); returns the new settings. */
  updateTraceSettings(model: string | undefined, body: Record<string, unknown>): Promise<TraceSettingsWire> {
    return this.#tracingOf(model).update(model, body);
  }

  /** The drift and data-quality report of a model's served versions (all, or one). */
  monitoring(name: string, version: string | undefined): MonitoringReport {
    this.#servedOrThrow(name, version);
    return this.#monitors?.report(name, version) ?? { model: name, enabled: false, versions: [] };
  }

  #tracingOf(model: string | undefined): TraceControl {
    if (model !== undefined && !this.#repository.exists(model)) throw new RepositoryError('NOT_FOUND', `unknown model '${model}'`);
    if (!this.#tracing) throw new ProtocolError('NOT_FOUND', 'tracing is not available on this server');
    return this.#tracing;
  }

  repositoryIndex(readyOnly: boolean): RepositoryIndexEntry[] {
    return repositoryIndex(this.#repository.index({ ready: readyOnly }));
  }

  /** Loads (or reloads) a model; `configJson` replaces its config file, as Triton's load parameter `config`. */
  async load(name: string, configJson: string | undefined): Promise<void> {
    let override;
    if (configJson !== undefined) {
      // Bounded like a request body: a config is walked recursively (validation, GET .../config).
      const bytes = Buffer.from(configJson, 'utf8');
      checkJsonBounds(bytes, 0, bytes.length, DEFAULT_DECODE_LIMITS);
      let raw: unknown;
      try {
        raw = JSON.parse(configJson);
      } catch (err) {
        throw new ProtocolError('INVALID_ARGUMENT', `parameter 'config' is not valid JSON: ${(err as Error).message}`);
      }
      override = parseModelConfig(raw, 'load request config', name);
    }
    await this.#repository.load(name, override);
  }

  unload(name: string): Promise<void> {
    return this.#repository.unload(name);
  }

  /**
   * Checks an Authorization value against the admin token (when one is set). Compared as fixed-length
   * digests: no length leaks, and any header (non-ASCII included) is simply refused.
   */
  authorize(authorization: string | undefined, api = 'the repository API'): void {
    const expected = this.#adminDigest;
    if (expected === undefined) return;
    if (authorization === undefined || !timingSafeEqual(digest(authorization), expected)) {
      throw new ProtocolError('UNAUTHENTICATED', `${api} needs an admin token: Authorization: Bearer <token>`);
    }
  }

  /** The versions a metadata/config/stats request is about (404 / 503 when none). */
  #servedOrThrow(name: string, version: string | undefined): ServedVersion[] {
    const served = this.#repository.served(name, version);
    if (served.length === 0) {
      if (!this.#repository.exists(name)) throw new RepositoryError('NOT_FOUND', `unknown model '${name}'`);
      if (version !== undefined) throw new RepositoryError('NOT_FOUND', `model '${name}' has no served version ${version}`);
      throw new RepositoryError('UNAVAILABLE', `model '${name}' is not loaded`);
    }
    return served;
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
