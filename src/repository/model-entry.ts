// What the repository knows of one model: its served versions (each with the leases requests hold on
// it), the state of every version for the index, and the bookkeeping of loads, failures and on-demand
// use. Shared by the repository's facade, its lifecycle and its memory budget.
import type { Servable } from './backend.js';
import type { MonitoringPlan } from '../monitoring/plan.js';
import type { ModelConfig } from './config-schema.js';

export type VersionState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

/** A loaded model version that serves requests. */
export interface ServedVersion {
  readonly name: string;
  readonly version: number;
  readonly versionLabel: string;
  /** What answers its requests (an engine Model for ONNX versions). */
  readonly model: Servable;
  /** The platform its v2 metadata reports. */
  readonly platform: string;
  /** The parsed config (response_cache, ...). */
  readonly config: ModelConfig;
  /** The complete config in Triton's JSON form, auto-completed from the model (GET .../config). */
  readonly effectiveConfig: Record<string, unknown>;
  /** `name\0version`: the key of this version's statistics (cache counters, metrics). */
  readonly key: string;
  /** The model's output names, in order. */
  readonly outputOrder: string[];
  /** Unique per load: a swapped-in copy of the same version gets a new one. */
  readonly generation: number;
  /**
   * SHA-256 of the version's files and the config: the same on every replica serving the same model
   * bytes, and different after any change (the shared cache tier keys on it).
   */
  readonly contentHash: string;
  readonly sizeBytes: number;
  /** What drift and data-quality monitoring watches (the config's monitoring section), when enabled. */
  readonly monitoring: MonitoringPlan | undefined;
}

/** A served version with the repository's own bookkeeping. */
export interface Instance extends ServedVersion {
  leases: number;
  retired: boolean;
  unloading: boolean;
  /** The files and config it was loaded from: a changed fingerprint means a swap. */
  fingerprint: string;
}

export interface VersionStatus {
  state: VersionState;
  reason?: string;
}

export class ModelEntry {
  readonly instances = new Map<number, Instance>();
  latest: Instance | undefined;
  readonly status = new Map<number, VersionStatus>();
  /** Must be loaded for the server to be ready. */
  required = false;
  /** Loaded because a request asked for it; evictable. */
  onDemand = false;
  lastUsed = 0;
  override: ModelConfig | undefined;
  /** Serialises loads/unloads of this model. */
  chain: Promise<void> = Promise.resolve();
  busy: Promise<void> | undefined;
  loadError: string | undefined;
  /** Bytes an on-demand load in progress has reserved in the memory budget. */
  reserving = 0;
  /** Version -> fingerprint of files that failed to load: not retried until they change. */
  readonly failed = new Map<number, string>();
  constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  /** Points `latest` at the highest served version. */
  publish(): void {
    let best: Instance | undefined;
    for (const i of this.instances.values()) if (!best || i.version > best.version) best = i;
    this.latest = best;
  }
}
