// Which served versions the HTTP worker threads may answer themselves, and the leases that keep them
// loaded meanwhile. Every table has an epoch; a version a table no longer lists (swapped out, unloaded,
// now cached, monitored or traced) waits, under its repository lease, until every worker that held it
// has said `released` for that epoch (served-table.ts), then its lease goes back and the repository
// may unload it. A worker that exits releases everything it held.
import { Model } from '../../engine/index.js';
import type { ModelRepository, ServedVersion } from '../../repository/index.js';
import type { TraceControl } from '../../tracing/control.js';
import type { PublishedVersion, ToWorker } from './protocol.js';

interface Publication {
  readonly served: ServedVersion;
  /** Workers that may still hold it. */
  readonly holders: Set<number>;
}

/** Whether a worker thread can answer this version's requests itself (everything else goes to the main thread). */
export function servesOnWorkers(served: ServedVersion, tracing: TraceControl | undefined): boolean {
  return served.model instanceof Model && served.config.response_cache?.enable !== true && served.monitoring === undefined && !(tracing?.tracing(served.name) ?? false);
}

export class Publisher {
  readonly #repository: ModelRepository;
  readonly #tracing: TraceControl | undefined;
  readonly #admission: (served: ServedVersion) => SharedArrayBuffer;
  readonly #published = new Map<number, Publication>();
  /** Dropped from the table at an epoch, awaiting the workers' releases: key `generation:epoch`. */
  readonly #dropped = new Map<string, Publication>();
  #epoch = 0;

  /** `admission`: the shared memory of a version's admission counts (the main thread's AdmissionStage). */
  constructor(repository: ModelRepository, tracing: TraceControl | undefined, admission: (served: ServedVersion) => SharedArrayBuffer) {
    this.#repository = repository;
    this.#tracing = tracing;
    this.#admission = admission;
  }

  /**
   * The next table: what the workers serve now (nothing once `draining`), with a lease taken on each
   * newly published version and the dropped ones set aside until released. `workers`: the live ones.
   */
  next(workers: readonly number[], draining: boolean): Extract<ToWorker, { type: 'table' }> {
    const epoch = ++this.#epoch;
    const wanted = new Map<number, ServedVersion>();
    for (const s of this.#repository.allServed()) if (!draining && servesOnWorkers(s, this.#tracing)) wanted.set(s.generation, s);
    for (const [generation, p] of this.#published) {
      if (wanted.has(generation)) continue;
      this.#published.delete(generation);
      const key = `${generation}:${epoch}`;
      this.#dropped.set(key, p);
      if (p.holders.size === 0) this.#release(key, p, -1);
    }
    for (const [generation, s] of wanted) {
      if (this.#published.has(generation)) continue;
      this.#repository.retain(s);
      this.#published.set(generation, { served: s, holders: new Set(workers) });
    }
    return this.table();
  }

  /** The current table (for a worker that just started). */
  table(): Extract<ToWorker, { type: 'table' }> {
    const versions: PublishedVersion[] = [];
    for (const { served: s } of this.#published.values()) {
      versions.push({
        generation: s.generation,
        name: s.name,
        version: s.version,
        versionLabel: s.versionLabel,
        handle: (s.model as Model).handle,
        key: s.key,
        outputOrder: s.outputOrder,
        platform: s.platform,
        config: s.config,
        effectiveConfig: s.effectiveConfig,
        contentHash: s.contentHash,
        sizeBytes: s.sizeBytes,
        admission: this.#admission(s),
      });
    }
    // The latest served version of each model, when the workers serve it (else requests naming no
    // version go to the main thread).
    const latest = new Map<string, ServedVersion>();
    for (const s of this.#repository.allServed()) {
      const top = latest.get(s.name);
      if (!top || s.version > top.version) latest.set(s.name, s);
    }
    const heads: Array<[string, number]> = [];
    for (const [name, s] of latest) if (this.#published.has(s.generation)) heads.push([name, s.generation]);
    return { type: 'table', epoch: this.#epoch, versions, latest: heads };
  }

  /** A worker started: it holds whatever is published from its first table on. */
  joined(thread: number): void {
    for (const p of this.#published.values()) p.holders.add(thread);
  }

  /** A worker says the requests holding `generation` since the table of `epoch` dropped it are over. */
  released(thread: number, generation: number, epoch: number): void {
    const key = `${generation}:${epoch}`;
    const dropped = this.#dropped.get(key);
    if (dropped) this.#release(key, dropped, thread);
    else this.#published.get(generation)?.holders.delete(thread); // it could not attach it (unloading already)
  }

  /** A worker exited: whatever it held is released with it. */
  gone(thread: number): void {
    for (const p of this.#published.values()) p.holders.delete(thread);
    for (const [key, p] of this.#dropped) this.#release(key, p, thread);
  }

  /** Every worker is gone: every lease goes back. */
  releaseAll(): void {
    for (const p of [...this.#published.values(), ...this.#dropped.values()]) this.#repository.release(p.served);
    this.#published.clear();
    this.#dropped.clear();
  }

  #release(key: string, p: Publication, thread: number): void {
    p.holders.delete(thread);
    if (p.holders.size > 0 || !this.#dropped.has(key)) return;
    this.#dropped.delete(key);
    this.#repository.release(p.served);
  }
}
