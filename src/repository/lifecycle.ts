// A model's life in the repository: bringing its served versions in line with the disk and its
// version policy (load, warm up, swap, retire), serialised per model; unloading a retired version once
// its last lease is released; and the per-version states the index reports. A swap publishes the new
// version at once and retires the old one, which drains before it unloads: nothing in flight is ever
// unloaded under a request.
import { realpathSync } from 'node:fs';
import { basename, sep } from 'node:path';
import type { Engine } from '../engine/index.js';
import type { RoutingRuntime } from '../routing/runtime.js';
import { backendFor, modelFileNames, type ModelAccess, type ModelChange, type RepositoryPeers, type Servable } from './backend.js';
import './backends/index.js';
import { readModelConfig, type LoadedConfig } from './config-file.js';
import type { ModelConfig } from './config-schema.js';
import { hashConfig, hashVersion } from './content-hash.js';
import { RepositoryError } from './errors.js';
import { effectiveConfig } from './load-options.js';
import type { Instance, ModelEntry, ServedVersion, VersionState, VersionStatus } from './model-entry.js';
import { servedVersions, versionsOnDisk, type VersionOnDisk } from './versions.js';
import { planMonitoring, type MonitoringPlan } from '../monitoring/plan.js';

export interface RepositoryLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface RepositoryHooks {
  /** A version starts serving (a swap calls it for the new one before retiring the old). */
  served?(instance: ServedVersion): void;
  /** A version stops taking new requests (swapped out, unloaded, removed): it drains, then unloads. */
  retiring?(instance: ServedVersion): void;
  /** A version stopped serving and is unloaded. */
  retired?(instance: ServedVersion): void;
  state?(name: string, version: string, state: VersionState): void;
  loadFailed?(name: string, version: string, reason: string): void;
}

export interface LifecycleOptions {
  root: string;
  engine: Engine;
  /** max_batch_size for models whose config leaves it out and that can batch. */
  defaultMaxBatchSize: number | undefined;
  entries: ReadonlyMap<string, ModelEntry>;
  logger: RepositoryLogger;
  hooks: RepositoryHooks;
  /** True once the repository is closing: nothing new loads. */
  closed: () => boolean;
  /** The repository as backends see it (ensembles, calls from JavaScript models). */
  models: ModelAccess;
  /** Told of every version that starts serving or is retired, as it happens. */
  changed: (change: ModelChange) => void;
  /** Traffic management state for routes. */
  routing: RoutingRuntime;
}

let generations = 0;

export class ModelLifecycle {
  readonly #options: LifecycleOptions;
  readonly #log: RepositoryLogger;
  readonly #hooks: RepositoryHooks;

  readonly #peers: RepositoryPeers;

  constructor(options: LifecycleOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#hooks = options.hooks;
    this.#peers = {
      root: options.root,
      served: (name, version) => {
        const entry = options.entries.get(name);
        return version === undefined ? entry?.latest : entry?.instances.get(version);
      },
    };
  }

  readConfig(entry: ModelEntry): LoadedConfig {
    const loaded = readModelConfig(this.#options.root, entry.dir, entry.name);
    if (entry.override) return { config: entry.override, file: loaded.file, fingerprint: `override:${JSON.stringify(entry.override)}` };
    return loaded;
  }

  versions(entry: ModelEntry, config: ModelConfig): VersionOnDisk[] {
    const base = realpathSync(this.#options.root);
    const backend = backendFor(config);
    const out = versionsOnDisk(entry.dir, modelFileNames(backend, config));
    // A backend with nothing to keep per version (a route) serves version 1 from the model directory.
    if (out.length === 0 && backend.versionless) return [{ version: 1, dir: entry.dir, path: undefined, fingerprint: 'versionless', sizeBytes: 0, virtual: true }];
    for (const v of out) {
      if (!realpathSync(v.path ?? v.dir).startsWith(base + sep)) throw new RepositoryError('INVALID', `model '${entry.name}' version ${v.version} resolves outside the model repository`);
    }
    return out;
  }

  /** Brings an entry in line with the disk (and its policy). Serialised per model. */
  sync(entry: ModelEntry): Promise<void> {
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
    if (this.#options.closed()) return;
    let loaded: LoadedConfig;
    try {
      loaded = this.readConfig(entry);
    } catch (err) {
      // A broken config: whatever serves keeps serving, and the failure shows in the index.
      entry.loadError = (err as Error).message;
      for (const [v, st] of entry.status) entry.status.set(v, { ...st, reason: `the configuration is invalid; the loaded copy keeps serving: ${entry.loadError}` });
      this.#log.error({ model: entry.name, err: entry.loadError }, 'invalid model configuration');
      this.#hooks.loadFailed?.(entry.name, '', entry.loadError);
      throw err;
    }
    const { config, fingerprint: configPrint } = loaded;
    const onDisk = this.versions(entry, config);
    if (onDisk.length === 0) {
      const files = modelFileNames(backendFor(config), config);
      entry.loadError = files === undefined ? `no version directory in ${entry.dir}` : `no version directory with ${files.join(' or ')} in ${entry.dir}`;
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
          this.retire(instance);
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
    const warmup = config.model_warmup?.length ?? 0;
    this.#log.info({ model: entry.name, version: label, ...(warmup ? { warmup } : {}) }, 'loading model version');
    const started = performance.now();
    const backend = backendFor(config);
    let model: Servable | undefined;
    let contentHash: string;
    let monitoring: MonitoringPlan | undefined;
    try {
      // Hashed while the model loads; a load that fails first leaves the hash unread, not unhandled.
      const hashing = disk.virtual ? Promise.resolve(hashConfig(configPrint)) : hashVersion(disk.dir, configPrint);
      hashing.catch(() => undefined);
      model = await backend.load({
        name: entry.name,
        version: disk.version,
        dir: disk.dir,
        file: disk.path,
        config,
        where,
        engine: this.#options.engine,
        defaultMaxBatchSize: this.#options.defaultMaxBatchSize ?? 64,
        models: this.#options.models,
        logger: this.#log,
        peers: this.#peers,
        routing: this.#options.routing,
      });
      contentHash = await hashing;
      if (config.monitoring?.enable) monitoring = planMonitoring(config.monitoring, model.metadata, entry.dir, where);
    } catch (err) {
      if (model) void model.unload(); // loaded, but its files could not be hashed or its monitoring section was refused
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
      platform: backend.metadataPlatform,
      effectiveConfig: backend.effectiveConfig
        ? backend.effectiveConfig(entry.name, config)
        : effectiveConfig(entry.name, config, model.metadata, backend, disk.path === undefined ? undefined : basename(disk.path)),
      key: `${entry.name}\0${label}`,
      outputOrder: model.metadata.outputs.map((o) => o.name),
      generation: ++generations,
      contentHash,
      sizeBytes: disk.sizeBytes,
      monitoring,
      leases: 0,
      retired: false,
      unloading: false,
      fingerprint,
    };
    if (this.#options.closed()) {
      await model.unload();
      return;
    }
    entry.failed.delete(disk.version);
    // The swap: new requests see the new instance from here on; the old one drains, then unloads.
    const previous = entry.instances.get(disk.version);
    entry.instances.set(disk.version, instance);
    entry.publish();
    this.#hooks.served?.(instance);
    this.#options.changed({ kind: 'served', version: instance });
    this.#setStatus(entry, disk.version, { state: 'READY' });
    if (previous) this.retire(previous);
    this.#log.info(
      { model: entry.name, version: label, ms: Math.round(performance.now() - started), swap: previous !== undefined },
      previous ? 'model version swapped' : 'model version ready',
    );
  }

  #setStatus(entry: ModelEntry, version: number, status: VersionStatus): void {
    entry.status.set(version, status);
    this.#hooks.state?.(entry.name, String(version), status.state);
  }

  retire(instance: Instance): void {
    const first = !instance.retired;
    instance.retired = true;
    if (first) this.#hooks.retiring?.(instance);
    this.#options.changed({ kind: 'retired', version: instance });
    if (instance.leases === 0) void this.unloadInstance(instance);
  }

  retireAll(entry: ModelEntry): void {
    const instances = [...entry.instances.values()];
    entry.instances.clear();
    entry.publish();
    for (const i of instances) {
      entry.status.set(i.version, { state: 'UNLOADING' });
      this.retire(i);
    }
  }

  async unloadInstance(instance: Instance): Promise<void> {
    if (instance.unloading) return;
    instance.unloading = true;
    try {
      await instance.model.unload();
    } finally {
      const entry = this.#options.entries.get(instance.name);
      if (entry && entry.status.get(instance.version)?.state === 'UNLOADING' && !entry.instances.has(instance.version)) {
        entry.status.delete(instance.version);
      }
      this.#hooks.retired?.(instance);
      this.#hooks.state?.(instance.name, instance.versionLabel, 'UNAVAILABLE');
    }
  }

  /** Waits until every retired instance of this entry has unloaded. */
  async drained(entry: ModelEntry): Promise<void> {
    while ([...entry.status.values()].some((s) => s.state === 'UNLOADING')) await new Promise((r) => setTimeout(r, 5));
  }
}
