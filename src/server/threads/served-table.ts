// An HTTP worker thread's view of what it serves: the plain versions the main thread published, each
// attached to the shared native model (loaded once per process), with the leases this thread's
// requests hold. The main thread holds one repository lease for the workers on every version it
// publishes; when a table no longer lists a version (swapped out, unloaded, now cached or traced), the
// worker stops giving it to new requests and says `released` once the ones that hold it are over, so
// a swap never unloads a version under a request, on any thread.
import type { Engine, Model } from '../../engine/index.js';
import type { Leases } from '../../inference/index.js';
import { RepositoryError, type ServedVersion } from '../../repository/index.js';
import type { PublishedVersion, ToWorker } from './protocol.js';

interface Held {
  readonly served: ServedVersion;
  /** Its admission counts, shared with the main thread. */
  readonly admission: SharedArrayBuffer;
  /** Requests of this thread holding it now. */
  leases: number;
  /** The epoch of the table that dropped it (0 while it is served). */
  droppedAt: number;
}

type TableMessage = Extract<ToWorker, { type: 'table' }>;

export class ServedTable implements Leases {
  readonly #engine: Engine;
  readonly #released: (generation: number, epoch: number) => void;
  /** Versions a request can still lease, by generation. */
  readonly #served = new Map<number, Held>();
  /** name -> version label -> held; '' is the latest. */
  readonly #byName = new Map<string, Map<string, Held>>();
  /** What a request leased, by the served object it was given (released by identity). */
  readonly #held = new Map<ServedVersion, Held>();

  constructor(engine: Engine, released: (generation: number, epoch: number) => void) {
    this.#engine = engine;
    this.#released = released;
  }

  /** Whether this thread answers `name` (and `version`, else the latest) itself. */
  serves(name: string, version: string | undefined): boolean {
    return this.#byName.get(name)?.has(version ?? '') === true;
  }

  acquire(name: string, version?: string): ServedVersion {
    const held = this.#byName.get(name)?.get(version ?? '');
    // serves() said yes in the same tick; only a bug gets here.
    if (held === undefined) throw new RepositoryError('UNAVAILABLE', `model '${name}' is not served on this HTTP thread`);
    held.leases++;
    return held.served;
  }

  /** The admission counts of a version this thread serves (shared with the main thread). */
  admissionMemory(served: ServedVersion): SharedArrayBuffer | undefined {
    return this.#held.get(served)?.admission;
  }

  release(served: ServedVersion): void {
    const held = this.#held.get(served);
    if (held === undefined) return;
    if (--held.leases === 0 && held.droppedAt !== 0) this.#forget(held);
  }

  /** Applies a table: new versions are attached, dropped ones released once their requests are over. */
  apply(table: TableMessage): void {
    const listed = new Set(table.versions.map((v) => v.generation));
    for (const [generation, held] of this.#served) {
      if (listed.has(generation)) continue;
      this.#served.delete(generation);
      held.droppedAt = table.epoch;
      if (held.leases === 0) this.#forget(held);
    }
    for (const v of table.versions) {
      if (this.#served.has(v.generation)) continue;
      let model: Model;
      try {
        model = this.#engine.attach(v.handle);
      } catch {
        // Unloading already (the main thread's next table drops it): nothing to hold.
        this.#released(v.generation, table.epoch);
        continue;
      }
      const held: Held = { served: served(v, model), admission: v.admission, leases: 0, droppedAt: 0 };
      this.#served.set(v.generation, held);
      this.#held.set(held.served, held);
    }
    this.#byName.clear();
    const latest = new Map(table.latest);
    for (const held of this.#served.values()) {
      const s = held.served;
      let versions = this.#byName.get(s.name);
      if (!versions) this.#byName.set(s.name, (versions = new Map()));
      versions.set(s.versionLabel, held);
      if (latest.get(s.name) === s.generation) versions.set('', held);
    }
  }

  /** Releases everything (the thread is closing). */
  releaseAll(epoch: number): void {
    for (const held of this.#held.values()) this.#released(held.served.generation, held.droppedAt || epoch);
    this.#held.clear();
    this.#served.clear();
    this.#byName.clear();
  }

  #forget(held: Held): void {
    this.#held.delete(held.served);
    this.#released(held.served.generation, held.droppedAt);
  }
}

function served(v: PublishedVersion, model: Model): ServedVersion {
  return {
    name: v.name,
    version: v.version,
    versionLabel: v.versionLabel,
    model,
    platform: v.platform,
    config: v.config,
    effectiveConfig: v.effectiveConfig,
    key: v.key,
    outputOrder: v.outputOrder,
    generation: v.generation,
    contentHash: v.contentHash,
    sizeBytes: v.sizeBytes,
    monitoring: undefined,
  };
}
