// The model repository's facade: Triton's layout and control modes (none | explicit | poll), the
// request path's leases (acquire/release), the control API (load, unload, poll) and what the index,
// metadata and readiness report. A model's loads, swaps and unloads are lifecycle.ts; on-demand
// loading under a memory budget is memory-budget.ts; what is known of each model is model-entry.ts.
//
// Requests take a lease on the version that serves them: a swap publishes the new version at once,
// and the old one is unloaded only when its last lease is released, so nothing in flight is ever
// unloaded under a request.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../engine/index.js';
import { RoutingRuntime } from '../routing/runtime.js';
import { backendFor, type InProcessInvoker, type ModelAccess, type ModelChange } from './backend.js';
import type { ModelConfig } from './config-schema.js';
import { RepositoryError } from './errors.js';
import { ModelLifecycle, type RepositoryHooks, type RepositoryLogger } from './lifecycle.js';
import { MemoryBudget } from './memory-budget.js';
import { ModelEntry, type Instance, type ServedVersion, type VersionState, type VersionStatus } from './model-entry.js';
import { checkModelName, modelDir } from './paths.js';

export type ControlMode = 'none' | 'explicit' | 'poll';
export type { RepositoryHooks, RepositoryLogger, ServedVersion, VersionState };

export interface RepositoryOptions {
  root: string;
  engine: Engine;
  controlMode: ControlMode;
  /** explicit mode: models to load at start ('*' = all). */
  startupModels?: string[];
  pollSeconds?: number;
  /** max_batch_size for models whose config leaves it out and that can batch. */
  defaultMaxBatchSize?: number;
  /** Enables on-demand loading with LRU eviction of idle on-demand models over this many bytes. */
  memoryBudgetBytes?: number;
  logger: RepositoryLogger;
  hooks?: RepositoryHooks;
  /** Traffic management state for routes (platform tensorgate_route); a private one when absent. */
  routing?: RoutingRuntime;
}

export interface IndexEntry {
  name: string;
  version?: string;
  state: VersionState;
  reason?: string;
}

let useClock = 0;

export class ModelRepository {
  readonly root: string;
  readonly controlMode: ControlMode;
  /** The routes' live state (traffic management); the routes take their leases from this repository. */
  readonly routing: RoutingRuntime;
  readonly #options: RepositoryOptions;
  readonly #log: RepositoryLogger;
  readonly #entries = new Map<string, ModelEntry>();
  readonly #lifecycle: ModelLifecycle;
  readonly #budget: MemoryBudget | undefined;
  readonly #watchers = new Set<(change: ModelChange) => void>();
  #invoker: InProcessInvoker | undefined;
  /** The repository as backends see it: leases, what is served, configs on disk, changes. */
  readonly access: ModelAccess;
  #poller: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #closed = false;

  private constructor(options: RepositoryOptions) {
    this.root = options.root;
    this.controlMode = options.controlMode;
    this.#options = options;
    this.#log = options.logger;
    this.routing = options.routing ?? new RoutingRuntime({ logger: options.logger });
    this.routing.bind(this);
    const repository = this;
    this.access = {
      get onDemand() {
        return repository.onDemand;
      },
      acquire: (name, version) => this.acquire(name, version),
      release: (served) => this.release(served),
      served: (name, version) => this.served(name, version),
      allServed: () => this.allServed(),
      configOf: (name) => this.#configOf(name),
      call: (model, version, inputs, options) => {
        if (!this.#invoker) return Promise.reject(new RepositoryError('UNAVAILABLE', `'${model}' answers through the inference service, and this repository serves none`));
        return this.#invoker(model, version, inputs, options);
      },
      watch: (listener) => {
        this.#watchers.add(listener);
        return () => void this.#watchers.delete(listener);
      },
    };
    this.#lifecycle = new ModelLifecycle({
      root: options.root,
      engine: options.engine,
      defaultMaxBatchSize: options.defaultMaxBatchSize,
      entries: this.#entries,
      logger: options.logger,
      hooks: options.hooks ?? {},
      closed: () => this.#closed,
      models: this.access,
      changed: (change) => {
        for (const listener of this.#watchers) {
          try {
            listener(change);
          } catch (err) {
            this.#log.error({ model: change.version.name, err: (err as Error).message }, 'a model-change listener failed');
          }
        }
        if (change.kind === 'served') this.#retryDependents(change.version.name);
      },
      routing: this.routing,
    });
    if (options.memoryBudgetBytes !== undefined) {
      this.#budget = new MemoryBudget(options.memoryBudgetBytes, this.#entries, this.#lifecycle, options.logger);
    }
  }

  /** Opens the repository and loads what the control mode says to load at start. */
  static async open(options: RepositoryOptions): Promise<ModelRepository> {
    try {
      if (!statSync(options.root).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw new RepositoryError('INVALID', `model repository '${options.root}' is not a readable directory: ${(err as Error).message}`);
    }
    const repo = new ModelRepository(options);
    await repo.#startup();
    return repo;
  }

  /** Who runs models through the inference stages for callers inside the server (the service, once made). */
  setInvoker(invoker: InProcessInvoker): void {
    this.#invoker = invoker;
  }

  get onDemand(): boolean {
    return this.#options.memoryBudgetBytes !== undefined;
  }

  async #startup(): Promise<void> {
    let names: string[];
    if (this.controlMode === 'explicit') {
      const wanted = this.#options.startupModels ?? [];
      names = wanted.includes('*') ? this.#modelNamesOnDisk() : wanted;
    } else {
      names = this.#modelNamesOnDisk();
    }
    await Promise.all(
      names.map(async (name) => {
        let entry: ModelEntry;
        try {
          entry = this.#entry(name);
        } catch (err) {
          this.#log.warn({ model: name, err: (err as Error).message }, 'skipping model');
          return;
        }
        entry.required = true;
        if (this.controlMode === 'explicit' && this.#declared(entry).length > 0) await this.#loadDeclared(entry, new Set([name]));
        await this.#lifecycle.sync(entry).catch(() => undefined); // failures are recorded in the index
        if (this.controlMode === 'explicit') await this.#loadDependencies(entry, new Set([name])).catch(() => undefined);
      }),
    );
    if (this.controlMode === 'poll') {
      const ms = Math.max(0.05, this.#options.pollSeconds ?? 15) * 1000;
      // A scan that fails (the repository directory gone or unreadable) is logged and retried on the next
      // tick; as an unhandled rejection it would end the process.
      this.#poller = setInterval(() => {
        this.poll().catch((err: unknown) => this.#log.error({ root: this.root, err: (err as Error).message }, 'repository poll failed'));
      }, ms);
      this.#poller.unref();
    }
  }

  #modelNamesOnDisk(): string[] {
    const names: string[] = [];
    for (const name of readdirSync(this.root).sort()) {
      try {
        checkModelName(name);
        if (statSync(join(this.root, name)).isDirectory()) names.push(name);
      } catch {
        this.#log.warn({ model: name }, 'skipping a repository entry that is not a valid model directory');
      }
    }
    return names;
  }

  #entry(name: string): ModelEntry {
    let entry = this.#entries.get(name);
    if (!entry) {
      const dir = modelDir(this.root, name);
      if (!dir) throw new RepositoryError('NOT_FOUND', `unknown model '${name}': no such directory in the model repository`);
      entry = new ModelEntry(name, dir);
      this.#entries.set(name, entry);
    }
    return entry;
  }

  // --- the request path ---------------------------------------------------------------------

  /**
   * The instance serving `name` (and `version`, else the highest served one), with a lease taken:
   * call release() when the request is done. Sync when served; a promise when it must load first.
   */
  acquire(name: string, version?: string): ServedVersion | Promise<ServedVersion> {
    const entry = this.#entries.get(name);
    const instance = entry && (version === undefined ? entry.latest : entry.instances.get(Number(version)));
    if (instance && (version === undefined || /^\d+$/.test(version))) {
      instance.leases++;
      entry!.lastUsed = ++useClock;
      return instance;
    }
    return this.#acquireSlow(name, version);
  }

  /** One more lease on an instance already leased or being published (released with release()). */
  retain(served: ServedVersion): void {
    (served as Instance).leases++;
  }

  release(served: ServedVersion): void {
    const instance = served as Instance;
    if (--instance.leases === 0 && instance.retired) void this.#lifecycle.unloadInstance(instance);
  }

  async #acquireSlow(name: string, version?: string): Promise<ServedVersion> {
    checkModelName(name);
    if (version !== undefined && !/^\d+$/.test(version)) {
      throw new RepositoryError('NOT_FOUND', `model '${name}' has no version '${version}': versions are non-negative integers`);
    }
    if (this.#closed) throw new RepositoryError('UNAVAILABLE', 'the server is shutting down');
    let entry = this.#entries.get(name);
    if (entry?.busy) await entry.busy.catch(() => undefined);
    if (!entry || (!entry.latest && !entry.busy)) {
      if (!this.onDemand) {
        if (entry) throw new RepositoryError('UNAVAILABLE', `model '${name}' is not ready${entry.loadError ? `: ${entry.loadError}` : ''}`);
        this.#entry(name); // 404 when it does not exist
        throw new RepositoryError('UNAVAILABLE', `model '${name}' is not loaded`);
      }
      entry = this.#entry(name);
      if (!entry.latest) {
        entry.onDemand = !entry.required;
        await this.#budget!.loadOnDemand(entry);
      }
    }
    const instance = version === undefined ? entry.latest : entry.instances.get(Number(version));
    if (!instance) {
      if (version !== undefined && entry.latest) {
        throw new RepositoryError('NOT_FOUND', `model '${name}' has no served version ${version} (served: ${[...entry.instances.keys()].join(', ')})`);
      }
      throw new RepositoryError('UNAVAILABLE', `model '${name}' is not ready${entry.loadError ? `: ${entry.loadError}` : ''}`);
    }
    instance.leases++;
    entry.lastUsed = ++useClock;
    return instance;
  }

  /**
   * Models that must be served, serve nothing because their load failed, and are built from `name`
   * (an ensemble whose step was missing): tried again now that `name` serves.
   */
  #retryDependents(name: string): void {
    for (const entry of this.#entries.values()) {
      if (!entry.required || entry.latest || entry.busy || entry.failed.size === 0 || entry.name === name) continue;
      let config: ModelConfig;
      try {
        config = this.#lifecycle.readConfig(entry).config;
      } catch {
        continue;
      }
      if (!(backendFor(config).dependsOn?.(config) ?? []).includes(name)) continue;
      this.#log.info({ model: entry.name, dependency: name }, 'a model it is built from is served: loading it again');
      entry.failed.clear();
      void this.#lifecycle.sync(entry).catch(() => undefined);
    }
  }

  #configOf(name: string): ModelConfig | undefined {
    try {
      let entry = this.#entries.get(name);
      if (!entry) {
        const dir = modelDir(this.root, name);
        if (!dir) return undefined;
        entry = new ModelEntry(name, dir); // a look at the disk only: not registered
      }
      return this.#lifecycle.readConfig(entry).config;
    } catch {
      return undefined;
    }
  }

  // --- control -------------------------------------------------------------------------------

  /** Rescans the repository (poll mode calls it periodically). */
  poll(): Promise<void> {
    this.#polling ??= this.#pollNow().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  async #pollNow(): Promise<void> {
    const onDisk = new Set(this.#modelNamesOnDisk());
    const work: Array<Promise<void>> = [];
    for (const name of onDisk) {
      let entry: ModelEntry;
      try {
        entry = this.#entry(name);
      } catch (err) {
        this.#log.warn({ model: name, err: (err as Error).message }, 'skipping model');
        continue;
      }
      entry.required = true;
      work.push(this.#lifecycle.sync(entry).catch(() => undefined));
    }
    for (const [name, entry] of this.#entries) {
      if (!onDisk.has(name)) {
        this.#log.info({ model: name }, 'model removed from the repository; unloading');
        this.#lifecycle.retireAll(entry);
        this.#entries.delete(name);
      }
    }
    await Promise.all(work);
  }

  /** POST v2/repository/models/{m}/load: (re)load, optionally with a config given in the request. */
  async load(name: string, configOverride?: ModelConfig): Promise<void> {
    if (this.controlMode !== 'explicit') {
      throw new RepositoryError('INVALID', `explicit model load / unload is not allowed in '${this.controlMode}' model control mode`);
    }
    checkModelName(name);
    const entry = this.#entry(name);
    entry.required = true;
    entry.onDemand = false;
    entry.failed.clear(); // an explicit load retries what failed
    if (configOverride) entry.override = configOverride;
    // Only a model built from others waits here: any other starts loading at once (so a request that
    // comes meanwhile waits for that load instead of finding nothing to wait for).
    if (this.#declared(entry).length > 0) await this.#loadDeclared(entry, new Set([name]));
    await this.#lifecycle.sync(entry);
    await this.#loadDependencies(entry, new Set([name]));
  }

  /** The models a model's config says it is built from (an ensemble's steps). */
  #declared(entry: ModelEntry): string[] {
    try {
      const config = this.#lifecycle.readConfig(entry).config;
      return backendFor(config).dependsOn?.(config) ?? [];
    } catch {
      return [];
    }
  }

  /**
   * Explicit mode: the models a config says a model is built from (an ensemble's steps) load before it,
   * as Triton loads an ensemble's composing models. Failures are left to the model's own load to name.
   */
  async #loadDeclared(entry: ModelEntry, seen: Set<string>): Promise<void> {
    for (const name of this.#declared(entry)) {
      if (seen.has(name)) continue;
      seen.add(name);
      let dep: ModelEntry;
      try {
        dep = this.#entry(name);
      } catch {
        continue; // unknown: the ensemble's load names the step
      }
      await this.#loadDeclared(dep, seen);
      if (dep.latest) continue;
      dep.required = true;
      dep.onDemand = false;
      await this.#lifecycle.sync(dep).catch(() => undefined);
    }
  }

  /** Explicit mode: what a loaded model sends requests to (a route's targets) loads with it. */
  async #loadDependencies(entry: ModelEntry, seen: Set<string>): Promise<void> {
    const wanted = new Set<string>();
    for (const instance of entry.instances.values()) for (const d of instance.model.dependencies ?? []) wanted.add(d);
    const failures: string[] = [];
    for (const name of wanted) {
      if (seen.has(name)) continue;
      seen.add(name);
      const dep = this.#entry(name);
      if (!dep.latest) {
        dep.required = true;
        dep.onDemand = false;
        await this.#lifecycle.sync(dep).catch((err: Error) => failures.push(err.message));
      }
      await this.#loadDependencies(dep, seen);
    }
    if (failures.length) throw new RepositoryError('LOAD_FAILED', `'${entry.name}' loaded, but what it depends on did not: ${failures.join('; ')}`);
  }

  /** POST v2/repository/models/{m}/unload: stop serving; accepted requests complete first. */
  async unload(name: string): Promise<void> {
    if (this.controlMode !== 'explicit') {
      throw new RepositoryError('INVALID', `explicit model load / unload is not allowed in '${this.controlMode}' model control mode`);
    }
    checkModelName(name);
    const entry = this.#entries.get(name);
    if (!entry) {
      this.#entry(name); // 404 for an unknown model
      return;
    }
    entry.required = false;
    entry.override = undefined;
    const run = entry.chain.then(async () => {
      this.#lifecycle.retireAll(entry);
      await this.#lifecycle.drained(entry);
    });
    entry.chain = run.catch(() => undefined);
    await run;
  }

  // --- introspection -------------------------------------------------------------------------

  /** Triton's repository index: every model directory with the state of each version. */
  index(options: { ready?: boolean } = {}): IndexEntry[] {
    const out: IndexEntry[] = [];
    for (const name of this.#modelNamesOnDisk()) {
      const entry = this.#entries.get(name);
      if (!entry || entry.status.size === 0) {
        if (!options.ready) out.push({ name, state: 'UNAVAILABLE', reason: entry?.loadError ?? 'unloaded' });
        continue;
      }
      for (const [version, status] of [...entry.status].sort((a, b) => a[0] - b[0])) {
        // A served version that cannot answer right now (a JavaScript model whose workers cannot
        // start, an ensemble missing a step) is not READY, whatever its load said.
        const unhealthy = status.state === 'READY' ? entry.instances.get(version)?.model.unhealthy?.() : undefined;
        const s: VersionStatus = unhealthy !== undefined ? { state: 'UNAVAILABLE', reason: unhealthy } : status;
        if (options.ready && s.state !== 'READY') continue;
        out.push({ name, version: String(version), state: s.state, ...(s.reason ? { reason: s.reason } : {}) });
      }
    }
    return out;
  }

  /** Served instances of a model (all, or one version), without taking leases. */
  served(name: string, version?: string): ServedVersion[] {
    const entry = this.#entries.get(name);
    if (!entry) return [];
    if (version === undefined) return [...entry.instances.values()].sort((a, b) => b.version - a.version);
    const i = entry.instances.get(Number(version));
    return i && /^\d+$/.test(version) ? [i] : [];
  }

  allServed(): ServedVersion[] {
    return [...this.#entries.values()].flatMap((e) => [...e.instances.values()]);
  }

  /** Whether the model exists in the repository at all (loaded or not). */
  exists(name: string): boolean {
    try {
      return this.#entries.has(name) || modelDir(this.root, name) !== null;
    } catch {
      return false;
    }
  }

  /** True when every model that must be loaded serves at least one READY version that can answer (routes: and their primary). */
  ready(): boolean {
    if (this.#closed) return false;
    for (const entry of this.#entries.values()) {
      if (entry.required && !(entry.latest && this.#readyWith(entry.latest, 0))) return false;
    }
    return true;
  }

  /** Whether the model (or one version) serves and what it is ready with (a route's primary target) does too. */
  modelReady(name: string, version?: string): boolean {
    return this.served(name, version).some((s) => this.#readyWith(s, 0));
  }

  #readyWith(served: ServedVersion, depth: number): boolean {
    if (served.model.unhealthy?.() !== undefined) return false; // loaded, but cannot answer now
    const other = served.model.readyWith;
    if (other === undefined) return true;
    if (depth > 8) return false; // a cycle slipped past the load checks (config overrides): never ready
    const entry = this.#entries.get(other.model);
    const next = entry && (other.version === undefined ? entry.latest : entry.instances.get(other.version));
    return next !== undefined && this.#readyWith(next, depth + 1);
  }

  /** Stops polling and unloads everything; accepted requests complete first (bounded by the caller). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poller) clearInterval(this.#poller);
    await this.#polling;
    await Promise.all([...this.#entries.values()].map((e) => e.chain));
    for (const entry of this.#entries.values()) this.#lifecycle.retireAll(entry);
    await Promise.all([...this.#entries.values()].map((e) => this.#lifecycle.drained(e)));
  }
}
