// The live model repository: Triton's layout and control modes (none | explicit | poll), version
// policies, warmup before READY, zero-downtime swaps, and on-demand loading with LRU eviction under
// a memory budget.
//
// Requests take a lease on the instance that serves them (acquire/release): a swap publishes the new
// instance at once, and the old one is unloaded only when its last lease is released, so nothing in
// flight is ever unloaded under a request.
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import type { Engine, Model } from '../engine/index.js';
import { readModelConfig, type LoadedConfig } from './config-file.js';
import type { ModelConfig } from './config-schema.js';
import { RepositoryError } from './errors.js';
import { checkAgainstModel, effectiveConfig, toLoadOptions } from './load-options.js';
import { checkModelName, modelDir } from './paths.js';
import { servedVersions, versionsOnDisk, type VersionOnDisk } from './versions.js';
import { runWarmup } from './warmup.js';

export type ControlMode = 'none' | 'explicit' | 'poll';
export type VersionState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE';

export interface RepositoryLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** A loaded model version that serves requests. */
export interface ServedVersion {
  readonly name: string;
  readonly version: number;
  readonly versionLabel: string;
  readonly model: Model;
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
}

export interface RepositoryHooks {
  /** An instance starts serving (a swap calls it for the new one before retiring the old). */
  served?(instance: ServedVersion): void;
  /** An instance stopped serving and is unloaded. */
  retired?(instance: ServedVersion): void;
  state?(name: string, version: string, state: VersionState): void;
  loadFailed?(name: string, version: string, reason: string): void;
}

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
}

export interface IndexEntry {
  name: string;
  version?: string;
  state: VersionState;
  reason?: string;
}

interface Instance extends ServedVersion {
  leases: number;
  retired: boolean;
  fingerprint: string;
}

interface VersionStatus {
  state: VersionState;
  reason?: string;
}

class ModelEntry {
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
  reserving = 0;
  /** Version -> fingerprint of files that failed to load: not retried until they change. */
  readonly failed = new Map<number, string>();
  constructor(
    readonly name: string,
    readonly dir: string,
  ) {}

  publish(): void {
    let best: Instance | undefined;
    for (const i of this.instances.values()) if (!best || i.version > best.version) best = i;
    this.latest = best;
  }
}

let generations = 0;

/** SHA-256 over the files of a version directory (sorted) and the config fingerprint, streamed. */
async function hashVersion(dir: string, configPrint: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(configPrint);
  for (const file of readdirSync(dir).sort()) {
    const path = join(dir, file);
    if (!statSync(path).isFile()) continue;
    hash.update(`\0${file}\0`);
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
let useClock = 0;

export class ModelRepository {
  readonly root: string;
  readonly controlMode: ControlMode;
  readonly #engine: Engine;
  readonly #options: RepositoryOptions;
  readonly #log: RepositoryLogger;
  readonly #hooks: RepositoryHooks;
  readonly #entries = new Map<string, ModelEntry>();
  #poller: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #closed = false;

  private constructor(options: RepositoryOptions) {
    this.root = options.root;
    this.controlMode = options.controlMode;
    this.#engine = options.engine;
    this.#options = options;
    this.#log = options.logger;
    this.#hooks = options.hooks ?? {};
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
        await this.#sync(entry).catch(() => undefined); // failures are recorded in the index
      }),
    );
    if (this.controlMode === 'poll') {
      const ms = Math.max(0.05, this.#options.pollSeconds ?? 15) * 1000;
      this.#poller = setInterval(() => void this.poll(), ms);
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

  release(served: ServedVersion): void {
    const instance = served as Instance;
    if (--instance.leases === 0 && instance.retired) void this.#unloadInstance(instance);
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
        await this.#loadOnDemand(entry);
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

  async #loadOnDemand(entry: ModelEntry): Promise<void> {
    const budget = this.#options.memoryBudgetBytes;
    if (budget !== undefined) {
      const needed = this.#diskSize(entry);
      this.#evictFor(needed, budget, entry);
      entry.reserving = needed;
    }
    try {
      await this.#sync(entry);
    } finally {
      entry.reserving = 0;
    }
  }

  #diskSize(entry: ModelEntry): number {
    const { config } = this.#readConfig(entry);
    const wanted = new Set(servedVersions(this.#versions(entry, config).map((v) => v.version), config.version_policy));
    return this.#versions(entry, config)
      .filter((v) => wanted.has(v.version))
      .reduce((n, v) => n + v.sizeBytes, 0);
  }

  #loadedBytes(): number {
    let total = 0;
    for (const e of this.#entries.values()) for (const i of e.instances.values()) total += i.sizeBytes;
    return total;
  }

  /** Unloads least-recently-used idle on-demand models until `needed` more bytes fit in `budget`. */
  #evictFor(needed: number, budget: number, keep: ModelEntry): void {
    let loaded = this.#loadedBytes();
    for (const e of this.#entries.values()) if (e !== keep) loaded += e.reserving;
    if (loaded + needed <= budget) return;
    const candidates = [...this.#entries.values()]
      .filter((e) => e !== keep && e.onDemand && !e.required && e.instances.size > 0 && !e.busy)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const e of candidates) {
      if (loaded + needed <= budget) break;
      if ([...e.instances.values()].some((i) => i.leases > 0)) continue; // never under a request
      for (const i of e.instances.values()) loaded -= i.sizeBytes;
      this.#log.info({ model: e.name, budget }, 'evicting the least recently used model to fit the memory budget');
      this.#retireAll(e);
    }
    if (loaded + needed > budget) {
      throw new RepositoryError(
        'UNAVAILABLE',
        `model '${keep.name}' (${needed} bytes) does not fit the model memory budget of ${budget} bytes: ${loaded} bytes are loaded and in use`,
      );
    }
  }

  // --- loading, swapping, unloading ----------------------------------------------------------

  #readConfig(entry: ModelEntry): LoadedConfig {
    const loaded = readModelConfig(this.root, entry.dir, entry.name);
    if (entry.override) return { config: entry.override, file: loaded.file, fingerprint: `override:${JSON.stringify(entry.override)}` };
    return loaded;
  }

  #versions(entry: ModelEntry, config: ModelConfig): VersionOnDisk[] {
    const base = realpathSync(this.root);
    const out = versionsOnDisk(entry.dir, config.default_model_filename ?? 'model.onnx');
    for (const v of out) {
      if (!realpathSync(v.path).startsWith(base + sep)) throw new RepositoryError('INVALID', `model '${entry.name}' version ${v.version} resolves outside the model repository`);
    }
    return out;
  }

  /** Brings an entry in line with the disk (and its policy). Serialised per model. */
  #sync(entry: ModelEntry): Promise<void> {
    const run = entry.chain.then(() => this.#syncNow(entry));
    entry.chain = run.catch(() => undefined);
    const tracked: Promise<void> = run.finally(() => {
      if (entry.busy === tracked) entry.busy = undefined;
    });
    tracked.catch(() => undefined);
    entry.busy = tracked;
    return run;
  }

  async #syncNow(entry: ModelEntry): Promise<void> {
    if (this.#closed) return;
    let loaded: LoadedConfig;
    try {
      loaded = this.#readConfig(entry);
    } catch (err) {
      // A broken config: whatever serves keeps serving, and the failure shows in the index.
      entry.loadError = (err as Error).message;
      for (const [v, st] of entry.status) entry.status.set(v, { ...st, reason: `the configuration is invalid; the loaded copy keeps serving: ${entry.loadError}` });
      this.#log.error({ model: entry.name, err: entry.loadError }, 'invalid model configuration');
      this.#hooks.loadFailed?.(entry.name, '', entry.loadError);
      throw err;
    }
    const { config, fingerprint: configPrint } = loaded;
    const onDisk = this.#versions(entry, config);
    if (onDisk.length === 0) {
      entry.loadError = `no version directory with ${config.default_model_filename ?? 'model.onnx'} in ${entry.dir}`;
      this.#log.error({ model: entry.name }, entry.loadError);
      this.#hooks.loadFailed?.(entry.name, '', entry.loadError);
      throw new RepositoryError('LOAD_FAILED', `failed to load '${entry.name}': ${entry.loadError}`);
    }
    const wanted = servedVersions(
      onDisk.map((v) => v.version),
      config.version_policy,
    );
    const failures: string[] = [];
    for (const version of wanted) {
      const disk = onDisk.find((v) => v.version === version)!;
      const fingerprint = `${disk.fingerprint}#${configPrint}`;
      const current = entry.instances.get(version);
      if (current && current.fingerprint === fingerprint) continue;
      if (entry.failed.get(version) === fingerprint) {
        failures.push(`version ${version}: ${entry.status.get(version)?.reason ?? 'failed to load'} (unchanged since)`);
        continue;
      }
      try {
        await this.#loadVersion(entry, disk, config, configPrint, current !== undefined, loaded.file ?? `${entry.name}/config`);
      } catch (err) {
        failures.push(`version ${version}: ${(err as Error).message}`);
      }
    }
    entry.loadError = failures.length ? failures.join('; ') : undefined;
    // Retire versions the policy no longer serves, but only once what replaces them is serving.
    if (failures.length === 0) {
      for (const [version, instance] of entry.instances) {
        if (!wanted.includes(version)) {
          entry.instances.delete(version);
          entry.status.delete(version);
          this.#retire(instance);
        }
      }
      for (const version of [...entry.status.keys()]) {
        if (!wanted.includes(version) && !entry.instances.has(version)) entry.status.delete(version);
      }
      entry.publish();
    }
    if (failures.length) throw new RepositoryError('LOAD_FAILED', `failed to load '${entry.name}': ${failures.join('; ')}`);
  }

  async #loadVersion(entry: ModelEntry, disk: VersionOnDisk, config: ModelConfig, configPrint: string, replacing: boolean, where: string): Promise<void> {
    const label = String(disk.version);
    const fingerprint = `${disk.fingerprint}#${configPrint}`;
    if (!replacing) this.#setStatus(entry, disk.version, { state: 'LOADING' });
    const started = performance.now();
    let model: Model | undefined;
    let contentHash: string;
    try {
      const hashing = hashVersion(dirname(disk.path), configPrint);
      model = await this.#engine.load(disk.path, toLoadOptions(config, this.#options.defaultMaxBatchSize ?? 64));
      contentHash = await hashing;
      checkAgainstModel(config, where, model.metadata);
      await runWarmup(model, config.model_warmup, dirname(disk.path));
    } catch (err) {
      if (model) void model.unload();
      entry.failed.set(disk.version, fingerprint);
      const reason = (err as Error).message;
      this.#log.error({ model: entry.name, version: label, err: reason }, replacing ? 'reload failed; the loaded copy keeps serving' : 'model load failed');
      this.#hooks.loadFailed?.(entry.name, label, reason);
      if (replacing) {
        this.#setStatus(entry, disk.version, { state: 'READY', reason: `a changed copy failed to load and was not swapped in: ${reason}` });
      } else {
        this.#setStatus(entry, disk.version, { state: 'UNAVAILABLE', reason });
      }
      throw err;
    }
    const instance: Instance = {
      name: entry.name,
      version: disk.version,
      versionLabel: label,
      model,
      config,
      effectiveConfig: effectiveConfig(entry.name, config, model.metadata),
      key: `${entry.name}\0${label}`,
      outputOrder: model.metadata.outputs.map((o) => o.name),
      generation: ++generations,
      contentHash,
      sizeBytes: disk.sizeBytes,
      leases: 0,
      retired: false,
      fingerprint,
    };
    if (this.#closed) {
      await model.unload();
      return;
    }
    entry.failed.delete(disk.version);
    // The swap: new requests see the new instance from here on; the old one drains, then unloads.
    const previous = entry.instances.get(disk.version);
    entry.instances.set(disk.version, instance);
    entry.publish();
    this.#hooks.served?.(instance);
    this.#setStatus(entry, disk.version, { state: 'READY' });
    if (previous) this.#retire(previous);
    this.#log.info(
      { model: entry.name, version: label, ms: Math.round(performance.now() - started), swap: previous !== undefined },
      previous ? 'model version swapped' : 'model version ready',
    );
  }

  #setStatus(entry: ModelEntry, version: number, status: VersionStatus): void {
    entry.status.set(version, status);
    this.#hooks.state?.(entry.name, String(version), status.state);
  }

  #retire(instance: Instance): void {
    instance.retired = true;
    if (instance.leases === 0) void this.#unloadInstance(instance);
  }

  #retireAll(entry: ModelEntry): void {
    const instances = [...entry.instances.values()];
    entry.instances.clear();
    entry.publish();
    for (const i of instances) {
      entry.status.set(i.version, { state: 'UNLOADING' });
      this.#retire(i);
    }
  }

  async #unloadInstance(instance: Instance): Promise<void> {
    if ((instance as { unloading?: boolean }).unloading) return;
    (instance as { unloading?: boolean }).unloading = true;
    try {
      await instance.model.unload();
    } finally {
      const entry = this.#entries.get(instance.name);
      if (entry && entry.status.get(instance.version)?.state === 'UNLOADING' && !entry.instances.has(instance.version)) {
        entry.status.delete(instance.version);
      }
      this.#hooks.retired?.(instance);
      this.#hooks.state?.(instance.name, instance.versionLabel, 'UNAVAILABLE');
    }
  }

  /** Waits until every retired instance of this entry has unloaded. */
  async #drained(entry: ModelEntry): Promise<void> {
    while ([...entry.status.values()].some((s) => s.state === 'UNLOADING')) await new Promise((r) => setTimeout(r, 5));
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
      work.push(this.#sync(entry).catch(() => undefined));
    }
    for (const [name, entry] of this.#entries) {
      if (!onDisk.has(name)) {
        this.#log.info({ model: name }, 'model removed from the repository; unloading');
        this.#retireAll(entry);
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
    await this.#sync(entry);
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
      this.#retireAll(entry);
      await this.#drained(entry);
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
      for (const [version, s] of [...entry.status].sort((a, b) => a[0] - b[0])) {
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

  /** True when every model that must be loaded serves at least one READY version. */
  ready(): boolean {
    if (this.#closed) return false;
    for (const entry of this.#entries.values()) {
      if (entry.required && !entry.latest) return false;
    }
    return true;
  }

  /** Stops polling and unloads everything; accepted requests complete first (bounded by the caller). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poller) clearInterval(this.#poller);
    await this.#polling;
    await Promise.all([...this.#entries.values()].map((e) => e.chain));
    for (const entry of this.#entries.values()) this.#retireAll(entry);
    await Promise.all([...this.#entries.values()].map((e) => this.#drained(e)));
  }
}
