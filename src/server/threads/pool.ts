// The main thread's side of --http-threads: N-1 HTTP worker threads (worker.ts) next to the main
// thread's own front, all accepting on one port. The main thread stays the only owner of what is the
// process's (repository, routes, caches, tracing, monitors, control plane, the /metrics exposition);
// it publishes to the workers the versions they may serve themselves, answers what they hand it,
// sums their metrics into its scrape, and drains and closes them on shutdown.
//
// Leases: publication.ts holds one repository lease on every version the workers serve and gives it
// back once every worker has said that the requests holding it there are over (served-table.ts), so a
// swap or an unload never pulls a version from under a request on any thread.
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ThreadMetricsSnapshot, ThreadMetricsSource } from '../../metrics/index.js';
import type { ModelRepository, ServedVersion } from '../../repository/index.js';
import type { TraceControl } from '../../tracing/control.js';
import { ClientAbort } from '../client-abort.js';
import type { ServerLogger } from '../error-response.js';
import type { HttpFront } from '../server.js';
import { incoming, wireResponse } from './forwarder.js';
import type { FromWorker, ToWorker, WorkerSetup } from './protocol.js';
import { Publisher } from './publication.js';

export interface HttpThreadPoolOptions {
  /** Worker threads to start (--http-threads minus the main thread). */
  workers: number;
  setup: Omit<WorkerSetup, 'thread' | 'tsEntry'>;
  /** The main thread's front: it answers what the workers hand over. */
  front: HttpFront;
  repository: ModelRepository;
  tracing: TraceControl | undefined;
  /** The shared memory of a version's admission counts (the main thread's AdmissionStage). */
  admission: (served: ServedVersion) => SharedArrayBuffer;
  logger: ServerLogger;
}

interface WorkerState {
  readonly thread: number;
  worker: Worker;
  live: boolean;
  closing: boolean;
  readonly aborts: Map<number, ClientAbort>;
  snapshot: ThreadMetricsSnapshot | undefined;
  readonly replies: Map<number, (message: FromWorker) => void>;
}

const METRICS_TIMEOUT_MS = 1000;
const RESTARTS_PER_MINUTE = 5;

export class HttpThreadPool implements ThreadMetricsSource {
  readonly #options: HttpThreadPoolOptions;
  readonly #log: ServerLogger;
  readonly #workers: WorkerState[] = [];
  readonly #publisher: Publisher;
  /** Final snapshots of threads that exited (their counts stay in the sums). */
  readonly #past: ThreadMetricsSnapshot[] = [];
  readonly #restarts: number[] = [];
  #publishQueued = false;
  #draining = false;
  #closed = false;
  #nextId = 0;

  private constructor(options: HttpThreadPoolOptions) {
    this.#options = options;
    this.#log = options.logger;
    this.#publisher = new Publisher(options.repository, options.tracing, options.admission);
    options.tracing?.onChange(() => this.publish());
  }

  /** Starts the workers; resolves once every one listens (rejects, with the others closed, if one cannot). */
  static async start(options: HttpThreadPoolOptions): Promise<HttpThreadPool> {
    const pool = new HttpThreadPool(options);
    const started = await Promise.allSettled(Array.from({ length: options.workers }, (_, i) => pool.#spawn(i + 1)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await pool.close(2000);
      throw failed.reason;
    }
    pool.#publishNow();
    return pool;
  }

  /** Tells the workers what they serve now (coalesced: many repository events cost one table). */
  publish(): void {
    if (this.#publishQueued || this.#closed) return;
    this.#publishQueued = true;
    queueMicrotask(() => {
      this.#publishQueued = false;
      this.#publishNow();
    });
  }

  startDraining(): void {
    this.#draining = true;
    this.#broadcast({ type: 'drain' });
  }

  stopAccepting(): void {
    this.#broadcast({ type: 'stop-accepting' });
  }

  /** Resolves true once no worker has a request in flight, false if `timeoutMs` passes first. */
  async drained(timeoutMs: number): Promise<boolean> {
    const answers = await Promise.all(
      this.#live().map((w) => this.#ask(w, (id) => ({ type: 'wait-drained', id, timeoutMs }), timeoutMs + 1000).then((m) => m?.type === 'drained' && m.drained)),
    );
    return answers.every(Boolean);
  }

  /** Closes every worker (responses being written finish first) and waits for them to exit. */
  async close(timeoutMs: number): Promise<void> {
    this.#closed = true;
    const exits = this.#workers.filter((w) => w.live).map((w) => {
      w.closing = true;
      const exited = new Promise<void>((resolve) => w.worker.once('exit', () => resolve()));
      this.#post(w, { type: 'close', timeoutMs });
      return exited;
    });
    await Promise.race([Promise.all(exits), new Promise((r) => setTimeout(r, timeoutMs + 3000).unref())]);
    // No worker serves anything any more: the pool's leases go back (the repository can unload).
    this.#publisher.releaseAll();
  }

  // --- metrics (ThreadMetricsSource) -------------------------------------------------------------

  async refresh(): Promise<void> {
    await Promise.all(
      this.#live().map(async (w) => {
        const m = await this.#ask(w, (id) => ({ type: 'metrics', id }), METRICS_TIMEOUT_MS);
        if (m?.type === 'metrics') w.snapshot = m.snapshot;
      }),
    );
  }

  snapshots(): readonly ThreadMetricsSnapshot[] {
    const out = [...this.#past];
    for (const w of this.#workers) if (w.snapshot) out.push(w.snapshot);
    return out;
  }

  // --- workers -------------------------------------------------------------------------------------

  #spawn(thread: number): Promise<void> {
    const setup: WorkerSetup = { ...this.#options.setup, thread };
    const worker = startWorker(setup);
    const state: WorkerState = { thread, worker, live: false, closing: false, aborts: new Map(), snapshot: undefined, replies: new Map() };
    const index = this.#workers.findIndex((w) => w.thread === thread);
    if (index >= 0) this.#workers[index] = state;
    else this.#workers.push(state);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      worker.on('message', (message: FromWorker) => {
        if (!settled && (message.type === 'listening' || message.type === 'failed')) {
          settled = true;
          if (message.type === 'listening') {
            state.live = true;
            this.#publisher.joined(thread);
            resolve();
          } else {
            reject(new Error(`HTTP thread ${thread} cannot listen on ${setup.host}:${setup.port}: ${message.message}`));
          }
          return;
        }
        this.#onMessage(state, message);
      });
      worker.on('error', (err) => this.#log.error({ httpThread: thread, err: err.message }, 'HTTP thread failed'));
      worker.on('exit', (code) => {
        if (!settled) {
          settled = true;
          reject(new Error(`HTTP thread ${thread} exited with code ${code} before it listened`));
        }
        this.#exited(state, code);
      });
    });
  }

  #exited(state: WorkerState, code: number): void {
    const wasLive = state.live;
    state.live = false;
    if (state.snapshot) this.#past.push(state.snapshot);
    state.snapshot = undefined;
    for (const signal of state.aborts.values()) signal.abort();
    state.aborts.clear();
    for (const reply of state.replies.values()) reply({ type: 'closed' }); // unanswered asks resolve now
    state.replies.clear();
    this.#publisher.gone(state.thread); // whatever it held is released with it
    if (state.closing || this.#closed || !wasLive) return;
    this.#log.error({ httpThread: state.thread, code }, 'HTTP thread exited unexpectedly');
    const now = Date.now();
    while (this.#restarts.length && now - this.#restarts[0]! > 60_000) this.#restarts.shift();
    if (this.#restarts.length >= RESTARTS_PER_MINUTE) {
      this.#log.error({ httpThread: state.thread }, `HTTP thread not restarted: ${RESTARTS_PER_MINUTE} restarts in the last minute`);
      return;
    }
    this.#restarts.push(now);
    this.#spawn(state.thread).then(
      () => this.#post(state.thread, this.#publisher.table()),
      (err: unknown) => this.#log.error({ httpThread: state.thread, err: (err as Error).message }, 'HTTP thread could not be restarted'),
    );
  }

  #onMessage(w: WorkerState, message: FromWorker): void {
    switch (message.type) {
      case 'request':
        this.#answer(w, message.id, message.request);
        break;
      case 'abort':
        w.aborts.get(message.id)?.abort();
        break;
      case 'released':
        this.#publisher.released(w.thread, message.generation, message.epoch);
        break;
      case 'closed':
        if (message.snapshot) w.snapshot = message.snapshot;
        break;
      case 'metrics':
      case 'drained': {
        const reply = w.replies.get(message.id);
        if (reply) {
          w.replies.delete(message.id);
          reply(message);
        }
        break;
      }
      default:
        break;
    }
  }

  /** A request a worker handed over: the main thread's front answers it as its own. */
  #answer(w: WorkerState, id: number, request: Extract<FromWorker, { type: 'request' }>['request']): void {
    const signal = new ClientAbort();
    w.aborts.set(id, signal);
    Promise.resolve(this.#options.front.handle(incoming(request), signal)).then(
      (response) => {
        w.aborts.delete(id);
        if (w.live) this.#post(w, { type: 'response', id, response: wireResponse(response) });
      },
      (err: unknown) => {
        w.aborts.delete(id);
        this.#log.error({ httpThread: w.thread, err: (err as Error).message }, 'a handed-over request failed');
        if (w.live) this.#post(w, { type: 'response', id, response: { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"internal error"}' } });
      },
    );
  }

  // --- the table -----------------------------------------------------------------------------------

  #publishNow(): void {
    if (this.#closed) return;
    this.#broadcast(this.#publisher.next(this.#live().map((w) => w.thread), this.#draining));
  }

  // --- messaging -----------------------------------------------------------------------------------

  #live(): WorkerState[] {
    return this.#workers.filter((w) => w.live);
  }

  #broadcast(message: ToWorker): void {
    for (const w of this.#live()) this.#post(w, message);
  }

  #post(w: WorkerState | number, message: ToWorker): void {
    const state = typeof w === 'number' ? this.#workers.find((x) => x.thread === w) : w;
    if (state?.live) state.worker.postMessage(message);
  }

  /** Sends a message that carries a reply id; resolves with the reply, or undefined after `timeoutMs`. */
  #ask(w: WorkerState, make: (id: number) => ToWorker, timeoutMs: number): Promise<FromWorker | undefined> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        w.replies.delete(id);
        resolve(undefined);
      }, timeoutMs);
      timer.unref();
      w.replies.set(id, (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      this.#post(w, make(id));
    });
  }
}

/** A worker from dist/ (JavaScript), or from the TypeScript sources through tsx (the test suite). */
function startWorker(setup: WorkerSetup): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./worker.js', here), { workerData: setup });
  // tsx's ESM build (require.resolve finds its CommonJS twin, which cannot register the ESM hooks).
  const loader = createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs');
  const entry = pathToFileURL(fileURLToPath(new URL('./worker.ts', here))).href;
  const boot = `const { workerData } = require('node:worker_threads');
import(${JSON.stringify(pathToFileURL(loader).href)})
  .then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(here)}))
  .catch((err) => { process.stderr.write(String(err && err.stack || err) + '\\n'); process.exit(1); });`;
  return new Worker(boot, { eval: true, workerData: { ...setup, tsEntry: entry } });
}
