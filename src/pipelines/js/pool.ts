// The worker threads of one JavaScript model version, on piscina: `threads` workers, each running one
// execute at a time. Readiness is tracked per worker through its channel (hello -> ready after
// initialize; the channel closes when the thread dies), not through piscina's own bookkeeping, which
// counts the first workers ready before they ran initialize. A load balancer of ours places every task
// on a worker we know is ready and idle, and records which: when a task fails because its worker died
// (a crash, or stopped by us at a deadline) that worker stops counting at once, before its channel's
// close arrives, so no task is sent to a thread that is gone.
//
// piscina replaces a worker that dies while serving; but once a worker fails while starting (its
// initialize throws, say because something it needs is gone) piscina stops starting new ones. Then
// this pool builds a fresh set of workers in the background, retrying with backoff (250 ms doubling to
// 30 s), and switches to it once every worker in it is ready; until then the version reports itself
// unhealthy (not READY) when it has no worker left.
import { fileURLToPath } from 'node:url';
import type { MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { WorkerStats } from '../../repository/backend.js';
import type { ModelDirectory } from '../model-directory.js';
import type { CallRequest, FromWorker, HelloMessage, TaskMessage, TaskResult, ToWorker, WorkerSetup } from './protocol.js';
import { Generation, WorkerLink, type Placement } from './worker-link.js';

export { WorkerLink };

/** The worker entry: worker.js next to this file in a build; from source, a boot file that loads worker.ts. */
export const WORKER_FILE = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './worker-boot.mjs' : './worker.js', import.meta.url));

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 30_000;
const FINALIZE_TIMEOUT_MS = 5_000;

export interface PoolLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface PoolOptions {
  /** "model 'x' version 1", for messages. */
  label: string;
  setup: WorkerSetup;
  threads: number;
  resourceLimits: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number; stackSizeMb?: number };
  initializeTimeoutMs: number;
  directory: ModelDirectory;
  logger: PoolLogger;
  /** Workers became ready or went away: the owner may dispatch. */
  onCapacity(): void;
  /** A call the model code on a worker made to another model. */
  onCall(link: WorkerLink, call: CallRequest): void;
}

export class WorkerPool {
  readonly #o: PoolOptions;
  #current!: Generation;
  readonly #retiring = new Set<Generation>();
  #rebuild: NodeJS.Timeout | undefined;
  #rebuildAt = 0;
  #backoffMs = FIRST_RETRY_MS;
  #closing = false;
  crashes = 0;
  timeouts = 0;
  startFailures = 0;

  private constructor(options: PoolOptions) {
    this.#o = options;
  }

  /** Starts every worker; rejects with the first start failure (initialize's message) or on timeout. */
  static async start(options: PoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    const gen = pool.#generation();
    const failure = await pool.#started(gen);
    if (failure !== undefined) {
      await gen.piscina.destroy();
      throw new Error(failure);
    }
    pool.#current = gen;
    return pool;
  }

  #generation(): Generation {
    const o = this.#o;
    const gen = new Generation();
    const piscina = new Piscina({
      filename: WORKER_FILE,
      minThreads: o.threads,
      maxThreads: o.threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: 1,
      // The workers' event loops stay free between tasks: the channel delivers directory changes,
      // cancellations and finalize while a worker is idle.
      atomics: 'disabled',
      recordTiming: false,
      workerData: o.setup,
      ...(Object.keys(o.resourceLimits).length > 0 ? { resourceLimits: o.resourceLimits } : {}),
      loadBalancer: (task, workers) => {
        for (const w of workers) {
          if (w.currentUsage !== 0 || gen.byThread.get(w.id)?.state !== 'ready') continue;
          const placement = (task as unknown as Record<symbol, Placement | null>)[Piscina.queueOptionsSymbol];
          if (placement) placement.threadId = w.id;
          return w;
        }
        return null;
      },
    });
    gen.piscina = piscina;
    piscina.on('message', (m: HelloMessage) => {
      if (m?.kind === 'tensorgate:hello') this.#link(gen, m.port, m.threadId);
    });
    // piscina reports worker errors with no task in flight here (start failures); without a listener
    // an 'error' event would crash the process.
    piscina.on('error', (err: Error) => {
      gen.lastFailure ??= err.message;
    });
    return gen;
  }

  #link(gen: Generation, port: MessagePort, threadId: number): void {
    const link = new WorkerLink(port, threadId, gen);
    gen.links.add(link);
    gen.byThread.set(threadId, link);
    port.on('message', (m: FromWorker) => this.#message(link, m));
    port.on('close', () => this.#closed(link));
    port.unref();
    this.#o.directory.attach(link);
  }

  #message(link: WorkerLink, m: FromWorker): void {
    const gen = link.generation;
    switch (m.kind) {
      case 'ready':
        link.state = 'ready';
        gen.ready++;
        gen.changed?.();
        this.#o.onCapacity();
        return;
      case 'failed':
        link.failure = m.message;
        return;
      case 'call':
        this.#o.onCall(link, m);
        return;
      case 'cancel':
        link.calls.get(m.id)?.abort(new Error('cancelled by the caller'));
        return;
      case 'finalized':
        link.finalized?.(m.error);
    }
  }

  #closed(link: WorkerLink): void {
    const gen = link.generation;
    this.#o.directory.detach(link);
    gen.links.delete(link);
    if (gen.byThread.get(link.threadId) === link) gen.byThread.delete(link.threadId);
    const was = link.state;
    link.state = 'closed';
    link.finalized?.(undefined);
    if (was === 'ready') {
      gen.ready--;
    } else if (was === 'starting' && !this.#closing) {
      // Died before it was ready: its initialize threw, its code did not load, or it ran out of memory.
      gen.startFailures++;
      this.startFailures++;
      gen.lastFailure = link.failure ?? gen.lastFailure ?? 'the worker exited while starting';
      this.#o.logger.error({ model: this.#o.setup.name, version: this.#o.setup.version, err: gen.lastFailure }, 'a JavaScript model worker failed to start');
      if (gen === this.#current) this.#scheduleRebuild();
    }
    gen.changed?.();
    this.#o.onCapacity();
  }

  /** Waits until every worker of `gen` is ready: undefined, or why not. */
  #started(gen: Generation): Promise<string | undefined> {
    const { threads, initializeTimeoutMs, label } = this.#o;
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(`${label}: its workers did not start within ${initializeTimeoutMs} ms (initialize_timeout_ms)`), initializeTimeoutMs);
      const finish = (result: string | undefined): void => {
        clearTimeout(timer);
        gen.changed = undefined;
        resolve(result);
      };
      gen.changed = () => {
        if (gen.startFailures > 0) finish(`${label}: ${gen.lastFailure ?? 'a worker failed to start'}`);
        else if (gen.ready >= threads) finish(undefined);
      };
    });
  }

  #scheduleRebuild(): void {
    if (this.#rebuild !== undefined || this.#closing) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_RETRY_MS);
    this.#rebuildAt = Date.now() + delay;
    this.#rebuild = setTimeout(() => void this.#rebuildNow(), delay);
    this.#rebuild.unref();
  }

  async #rebuildNow(): Promise<void> {
    const gen = this.#generation();
    const failure = await this.#started(gen);
    this.#rebuild = undefined;
    if (this.#closing || failure !== undefined) {
      await gen.piscina.destroy();
      if (failure !== undefined && !this.#closing) {
        this.#current.lastFailure = failure;
        this.#scheduleRebuild();
      }
      return;
    }
    const old = this.#current;
    this.#current = gen;
    this.#backoffMs = FIRST_RETRY_MS;
    this.#o.logger.info({ model: this.#o.setup.name, version: this.#o.setup.version }, 'JavaScript model workers started again');
    this.#retire(old);
    this.#o.onCapacity();
  }

  /** Stops a generation once its running tasks finish. */
  #retire(gen: Generation): void {
    this.#retiring.add(gen);
    const check = (): void => {
      if (gen.running > 0) return;
      gen.changed = undefined;
      this.#retiring.delete(gen);
      void this.#stop(gen);
    };
    gen.changed = check;
    check();
  }

  async #stop(gen: Generation): Promise<void> {
    await Promise.all(
      [...gen.links].filter((l) => l.state === 'ready').map(
        (link) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, FINALIZE_TIMEOUT_MS);
            link.finalized = (error) => {
              clearTimeout(timer);
              if (error !== undefined) this.#o.logger.warn({ model: this.#o.setup.name, err: error }, 'finalize() failed');
              resolve();
            };
            link.post({ kind: 'finalize' });
          }),
      ),
    );
    await gen.piscina.destroy();
  }

  /** Workers that could take a task now. */
  freeSlots(): number {
    return Math.max(0, this.#current.ready - this.#current.running);
  }

  /**
   * Runs one task (an execute) on a worker of the current generation. `stop()` stops the worker
   * running it (the task then fails, and piscina starts a replacement).
   */
  run(task: TaskMessage, transfer: ArrayBuffer[]): { result: Promise<TaskResult>; stop(): void } {
    const gen = this.#current;
    gen.running++;
    const placement: Placement = { threadId: -1 };
    Object.defineProperty(task, Piscina.queueOptionsSymbol, { value: placement }); // read by our balancer, not posted
    const result = gen.piscina.run(task, { transferList: transfer }) as Promise<TaskResult>;
    result.then(
      () => {
        gen.running--;
        gen.changed?.();
      },
      (err: unknown) => {
        gen.running--;
        // The task failed with its worker (crashed, or stopped at a deadline): it counts no more.
        const link = gen.byThread.get(placement.threadId);
        if (link?.state === 'ready' && (err as Error)?.name !== 'DataCloneError') {
          link.state = 'dead';
          gen.ready--;
        }
        gen.changed?.();
      },
    );
    const stop = (): void => {
      for (const worker of gen.piscina.threads) if (worker.threadId === placement.threadId) void worker.terminate();
    };
    return { result, stop };
  }

  /** Sends `message` to every worker (one of them runs the task it is about). */
  broadcast(message: ToWorker): void {
    for (const gen of [this.#current, ...this.#retiring]) for (const link of gen.links) link.post(message);
  }

  /** Why no request can run now, when no worker is left and none is starting. */
  unhealthy(): string | undefined {
    const gen = this.#current;
    if (gen.ready > 0 || gen.startFailures === 0 || gen.piscina.threads.length > 0) return undefined;
    const retry = this.#rebuild !== undefined ? `; starting again in ${Math.max(0, Math.ceil((this.#rebuildAt - Date.now()) / 1000))} s` : '; starting again';
    return `no worker of ${this.#o.label} can start: ${gen.lastFailure ?? 'unknown failure'}${retry}`;
  }

  stats(): WorkerStats {
    const gen = this.#current;
    return {
      configured: this.#o.threads,
      ready: gen.ready,
      starting: [...gen.links].filter((l) => l.state === 'starting').length,
      crashes: this.crashes,
      timeouts: this.timeouts,
      startFailures: this.startFailures,
    };
  }

  /** Runs finalize() on every worker, then stops them all. Call once no task runs. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#rebuild !== undefined) clearTimeout(this.#rebuild);
    await Promise.all([this.#current, ...this.#retiring].map((g) => this.#stop(g)));
  }
}
