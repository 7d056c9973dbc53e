// On-demand loading under a memory budget (--model-memory-budget): a model a request asks for is loaded
// then, after evicting least-recently-used idle on-demand models until it fits (by the size of its
// files on disk). A model under a request is never evicted; when nothing more can go, the request
// is refused (UNAVAILABLE) rather than the budget exceeded.
import { RepositoryError } from './errors.js';
import type { ModelLifecycle, RepositoryLogger } from './lifecycle.js';
import type { ModelEntry } from './model-entry.js';
import { servedVersions } from './versions.js';

export class MemoryBudget {
  readonly #budget: number;
  readonly #entries: ReadonlyMap<string, ModelEntry>;
  readonly #lifecycle: ModelLifecycle;
  readonly #log: RepositoryLogger;

  constructor(budgetBytes: number, entries: ReadonlyMap<string, ModelEntry>, lifecycle: ModelLifecycle, logger: RepositoryLogger) {
    this.#budget = budgetBytes;
    this.#entries = entries;
    this.#lifecycle = lifecycle;
    this.#log = logger;
  }

  async loadOnDemand(entry: ModelEntry): Promise<void> {
    const needed = this.#diskSize(entry);
    this.#evictFor(needed, this.#budget, entry);
    entry.reserving = needed;
    try {
      await this.#lifecycle.sync(entry);
    } finally {
      entry.reserving = 0;
    }
  }

  #diskSize(entry: ModelEntry): number {
    const { config } = this.#lifecycle.readConfig(entry);
    const wanted = new Set(servedVersions(this.#lifecycle.versions(entry, config).map((v) => v.version), config.version_policy));
    return this.#lifecycle.versions(entry, config)
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
      this.#lifecycle.retireAll(e);
    }
    if (loaded + needed > budget) {
      throw new RepositoryError(
        'UNAVAILABLE',
        `model '${keep.name}' (${needed} bytes) does not fit the model memory budget of ${budget} bytes: ${loaded} bytes are loaded and in use`,
      );
    }
  }
}
