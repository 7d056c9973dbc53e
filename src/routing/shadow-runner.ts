// Shadow traffic: a share of a route's successful requests mirrored to shadow targets, AFTER the
// reply has gone out. The route stage offers a job when the request finishes; jobs wait in a bounded
// queue (full: the job is dropped and counted) and run from setImmediate, a few at a time, each under
// its own timeout (a shadow still queued is dropped from its model's queue by abort). A shadow's
// result never reaches the client: it is compared with the primary's outputs (compare.ts), counted,
// and optionally written to a sampled JSONL log of mismatches. Its failures are counted, not logged
// per request.
import { createWriteStream, type WriteStream } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { InferInputs, InferOutputs, OutputTensor } from '../engine/index.js';
import type { ServedVersion } from '../repository/index.js';
import type { ShadowConfig } from '../repository/routing-schema.js';
import { targetIdOf } from '../repository/routing-schema.js';
import type { RoutingLogger } from './canary-driver.js';
import { compareTensors } from './compare.js';
import type { Rng } from './rng.js';

/** What routing needs of the repository: leases on served versions. */
export interface Leases {
  acquire(name: string, version?: string): ServedVersion | Promise<ServedVersion>;
  release(served: ServedVersion): void;
}

export type ShadowOutcome = 'compared' | 'error' | 'timeout' | 'dropped' | 'unavailable';
export const SHADOW_OUTCOMES: readonly ShadowOutcome[] = ['compared', 'error', 'timeout', 'dropped', 'unavailable'];

/** Per shadow target and output: the comparison counts. */
export class OutputComparisons {
  compared = 0;
  exact = 0;
  argmaxRows = 0;
  argmaxAgree = 0;
  /** The largest differences seen, and their sums (for means). */
  maxAbsDiff = 0;
  maxRelDiff = 0;
  sumMaxAbsDiff = 0;
}

export class ShadowTargetStats {
  readonly outcomes = new Map<ShadowOutcome, number>(SHADOW_OUTCOMES.map((o) => [o, 0]));
  readonly outputs = new Map<string, OutputComparisons>();
  /** Latencies of compared pairs (ms), summed: mean difference = (shadow − primary) / compared. */
  primaryMsSum = 0;
  shadowMsSum = 0;
  pairs = 0;

  count(o: ShadowOutcome): void {
    this.outcomes.set(o, this.outcomes.get(o)! + 1);
  }
}

interface Job {
  target: number;
  id: string | undefined;
  inputs: InferInputs;
  outputs: string[] | undefined;
  primary: InferOutputs;
  primaryTarget: string;
  primaryMs: number;
}

interface ShadowTarget {
  id: string;
  model: string;
  version: string | undefined;
}

export class ShadowRunner {
  readonly config: ShadowConfig;
  readonly targets: ShadowTarget[];
  readonly stats: ShadowTargetStats[];
  readonly #route: string;
  readonly #leases: () => Leases;
  readonly #rng: Rng;
  readonly #log: RoutingLogger;
  readonly #queue: Job[] = [];
  #running = 0;
  #scheduled = false;
  #closed = false;
  #logStream: WriteStream | undefined;
  #idle: Array<() => void> = [];

  constructor(route: string, config: ShadowConfig, dir: string, leases: () => Leases, rng: Rng, log: RoutingLogger) {
    this.#route = route;
    this.config = config;
    this.targets = config.targets.map((t) => ({ id: targetIdOf(t), model: t.model, version: t.version === undefined ? undefined : String(t.version) }));
    this.stats = this.targets.map(() => new ShadowTargetStats());
    this.#leases = leases;
    this.#rng = rng;
    this.#log = log;
    const ml = config.mismatch_log;
    if (ml) {
      const path = isAbsolute(ml.path) ? ml.path : join(dir, ml.path);
      this.#logStream = createWriteStream(path, { flags: 'a' });
      this.#logStream.on('error', (err) => {
        this.#log.error({ route, path, err: err.message }, 'shadow mismatch log cannot be written; it is turned off');
        this.#logStream = undefined;
      });
    }
  }

  /** Mirrors a finished request (sampled by percent); returns at once. */
  offer(id: string | undefined, inputs: InferInputs, outputs: string[] | undefined, primary: InferOutputs, primaryTarget: string, primaryMs: number): void {
    if (this.#closed) return;
    const percent = this.config.percent;
    if (percent < 100 && this.#rng.next() * 100 >= percent) return;
    for (let t = 0; t < this.targets.length; t++) {
      if (this.#queue.length >= this.config.queue_size) {
        this.stats[t]!.count('dropped');
        continue;
      }
      this.#queue.push({ target: t, id, inputs, outputs, primary, primaryTarget, primaryMs });
    }
    if (!this.#scheduled && this.#queue.length > 0) {
      this.#scheduled = true;
      setImmediate(() => this.#pump()); // after the reply's write: never on the client's time
    }
  }

  #pump(): void {
    this.#scheduled = false;
    while (this.#running < this.config.concurrency && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#running++;
      void this.#run(job).finally(() => {
        this.#running--;
        if (this.#queue.length > 0) this.#pump();
        else if (this.#running === 0) for (const w of this.#idle.splice(0)) w();
      });
    }
  }

  async #run(job: Job): Promise<void> {
    const target = this.targets[job.target]!;
    const stats = this.stats[job.target]!;
    let served: ServedVersion;
    try {
      served = await this.#leases().acquire(target.model, target.version);
    } catch {
      stats.count('unavailable');
      return;
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('shadow timeout')), this.config.timeout_ms);
    const t0 = performance.now();
    let outputs: InferOutputs;
    try {
      outputs = await served.model.infer(job.inputs, { outputs: job.outputs, signal: abort.signal });
    } catch {
      stats.count(abort.signal.aborted ? 'timeout' : 'error');
      return;
    } finally {
      clearTimeout(timer);
      this.#leases().release(served);
    }
    const shadowMs = performance.now() - t0;
    if (abort.signal.aborted) {
      stats.count('timeout');
      return;
    }
    stats.count('compared');
    stats.pairs++;
    stats.primaryMsSum += job.primaryMs;
    stats.shadowMsSum += shadowMs;
    this.#compare(job, target, stats, outputs, shadowMs);
  }

  #compare(job: Job, target: ShadowTarget, stats: ShadowTargetStats, shadow: InferOutputs, shadowMs: number): void {
    const tolerance = this.config.mismatch_log?.tolerance ?? 0;
    let mismatch: Array<{ output: string; max_abs_diff: number; primary: unknown; shadow: unknown }> | undefined;
    for (const [name, p] of Object.entries(job.primary)) {
      const s = shadow[name];
      let c = stats.outputs.get(name);
      if (!c) stats.outputs.set(name, (c = new OutputComparisons()));
      c.compared++;
      const r = s ? compareTensors(p, s) : undefined;
      if (r?.exact) c.exact++;
      if (r && r.comparable) {
        c.argmaxRows += r.argmaxRows;
        c.argmaxAgree += r.argmaxAgree;
        c.sumMaxAbsDiff += r.maxAbsDiff;
        if (r.maxAbsDiff > c.maxAbsDiff) c.maxAbsDiff = r.maxAbsDiff;
        if (r.maxRelDiff > c.maxRelDiff) c.maxRelDiff = r.maxRelDiff;
      }
      if (this.#logStream && (!r || !r.comparable || (!r.exact && r.maxAbsDiff > tolerance))) {
        (mismatch ??= []).push({ output: name, max_abs_diff: r?.comparable ? r.maxAbsDiff : Infinity, primary: head(p, this.config.mismatch_log!.max_elements), shadow: s ? head(s, this.config.mismatch_log!.max_elements) : null });
      }
    }
    const log = this.#logStream;
    if (mismatch && log && this.#rng.next() < this.config.mismatch_log!.sample) {
      if (log.writableLength > 1 << 20) return; // a slow disk never piles up memory
      const entry = { time: new Date().toISOString(), route: this.#route, id: job.id ?? null, primary_target: job.primaryTarget, shadow_target: target.id, primary_ms: round(job.primaryMs), shadow_ms: round(shadowMs), mismatches: mismatch };
      log.write(`${JSON.stringify(entry, (_k, v: unknown) => (v === Infinity ? 'Infinity' : typeof v === 'bigint' ? String(v) : v))}\n`);
    }
  }

  /** Resolves once no shadow work is queued or running (tests, shutdown). */
  idle(): Promise<void> {
    if (this.#running === 0 && this.#queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  get queued(): number {
    return this.#queue.length;
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) this.stats[job.target]!.count('dropped');
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, this.config.timeout_ms + 100))]);
    const log = this.#logStream;
    this.#logStream = undefined;
    if (log) await new Promise<void>((r) => log.end(() => r()));
  }
}

function head(t: OutputTensor, n: number): unknown[] {
  const data = t.data as ArrayLike<unknown>;
  const out: unknown[] = [];
  for (let i = 0; i < Math.min(n, data.length); i++) {
    const v = data[i];
    out.push(Buffer.isBuffer(v) ? v.toString('utf8') : v);
  }
  return out;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;
