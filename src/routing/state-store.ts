// Where a route's state survives a restart: the canary's rollout (status, step, last checks), weights
// set by hand, and the bandit's and A/B outcomes' counters. Three stores:
//   memory  nothing survives a restart (no --state-dir, no --state-redis); the default
//   file    --state-dir DIR: DIR/routes/<route>.json, written atomically (temp file + rename)
//   redis   --state-redis URL (redis-state.ts): shared by every replica; counters add up across them
// A state has parts, each saved whole; the canary's part is saved only if nobody changed it since it
// was read (compare-and-set on its revision), so replicas sharing a store apply a transition once.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClaimResult } from './feedback-ledger.js';

export type StatePart = 'canary' | 'weights' | 'counters';

export interface StateStore {
  readonly kind: 'memory' | 'file' | 'redis';
  /** True when replicas share it: counters are added with addCounters(), not saved whole. */
  readonly shared: boolean;
  get(route: string, part: StatePart): Promise<unknown>;
  /**
   * Saves a part. With `expectRevision`, only if the stored part's `revision` is that (absent counts
   * as -1); resolves false when it is not (another replica or call changed it first).
   */
  put(route: string, part: StatePart, value: { revision?: number } | object, expectRevision?: number): Promise<boolean>;
  /** Shared stores: adds the deltas to the shared totals and returns every total. */
  addCounters(route: string, deltas: Record<string, number>): Promise<Record<string, number>>;
  /** Shared stores: records which target served each request id, for `ttlMs`. */
  rememberIds?(route: string, entries: ReadonlyArray<[id: string, target: number]>, ttlMs: number): Promise<void>;
  /** Shared stores: claims feedback of a kind for each id, once across every replica (feedback-ledger.ts's semantics). */
  claimIds?(route: string, claims: ReadonlyArray<[id: string, kind: number]>, ttlMs: number): Promise<ClaimResult[]>;
  close(): Promise<void>;
}

type RouteFile = Partial<Record<StatePart, unknown>>;

function revisionOf(value: unknown): number {
  const r = (value as { revision?: unknown } | undefined)?.revision;
  return typeof r === 'number' ? r : -1;
}

export class MemoryStateStore implements StateStore {
  readonly kind: 'memory' | 'file' = 'memory';
  readonly shared = false;
  protected readonly routes = new Map<string, RouteFile>();

  get(route: string, part: StatePart): Promise<unknown> {
    return Promise.resolve(structuredClone(this.file(route)[part]));
  }

  put(route: string, part: StatePart, value: object, expectRevision?: number): Promise<boolean> {
    const file = this.file(route);
    if (expectRevision !== undefined && revisionOf(file[part]) !== expectRevision) return Promise.resolve(false);
    file[part] = structuredClone(value);
    this.written(route, file);
    return Promise.resolve(true);
  }

  addCounters(): Promise<Record<string, number>> {
    return Promise.reject(new Error('counters are saved whole in an unshared store'));
  }

  protected file(route: string): RouteFile {
    let f = this.routes.get(route);
    if (!f) this.routes.set(route, (f = this.read(route)));
    return f;
  }

  protected read(_route: string): RouteFile {
    return {};
  }

  protected written(_route: string, _file: RouteFile): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** --state-dir: one JSON file per route; one process owns the directory. */
export class FileStateStore extends MemoryStateStore {
  override readonly kind = 'file' as const;
  readonly dir: string;

  constructor(stateDir: string) {
    super();
    this.dir = join(stateDir, 'routes');
    mkdirSync(this.dir, { recursive: true });
  }

  #path(route: string): string {
    return join(this.dir, `${route}.json`);
  }

  protected override read(route: string): RouteFile {
    let text: string;
    try {
      text = readFileSync(this.#path(route), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw err;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      return parsed !== null && typeof parsed === 'object' ? (parsed as RouteFile) : {};
    } catch (err) {
      throw new Error(`route state ${this.#path(route)} is not valid JSON (${(err as Error).message}); move it away to start the route afresh`);
    }
  }

  protected override written(route: string, file: RouteFile): void {
    const path = this.#path(route);
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(file, null, 1)}\n`);
    renameSync(tmp, path);
  }
}
