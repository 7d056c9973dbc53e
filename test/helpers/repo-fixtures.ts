// Helpers for the model-repository tests: a tiny "x + constant" model whose answer says which copy
// served it, a logger and hook recorder, and waits on events instead of sleeps. Temp repositories come
// from fixtures.ts (re-exported here).
import type { Engine, LoadOptions, Model } from '../../src/engine/index.js';
import { ElemType, GraphBuilder, attr } from '../../src/onnx/builder.js';
import type { ModelRepository, RepositoryHooks, RepositoryLogger, ServedVersion, VersionState } from '../../src/repository/repository.js';

export const WIDTH = 4;

/** x FP32 ['batch', WIDTH] -> y = x + c. Same byte size for every c, so only the mtime tells a change. */
export function addConstModel(c: number, width = WIDTH): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', ElemType.FLOAT, ['batch', width]);
  const k = g.initializer('k', ElemType.FLOAT, [width], new Float32Array(width).fill(c));
  g.node('Add', ['x', k], ['y']);
  g.output('y', ElemType.FLOAT, ['batch', width]);
  return g.build();
}

/**
 * x FP32 ['batch', WIDTH] -> y = x + c, but every run first costs about `layers` 256×256 MatMuls
 * (≈ 0.18 ms each on a fast core): y = x + c + 0·mean(MatMul^layers(Expand(sum(x)))). Like
 * slowBatchModel, with an identity weight so values never grow, and an answer that names the copy.
 */
export function slowAddConstModel(c: number, layers = 100, width = WIDTH): Uint8Array {
  const n = 256;
  const g = new GraphBuilder();
  g.input('x', ElemType.FLOAT, ['batch', width]);
  const eye = new Float32Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  const w = g.initializer('w', ElemType.FLOAT, [n, n], eye);
  const square = g.initializer('square', ElemType.INT64, [2], [n, n]);
  const zero = g.initializer('zero', ElemType.FLOAT, [], [0]);
  const k = g.initializer('k', ElemType.FLOAT, [width], new Float32Array(width).fill(c));
  const total = g.op('ReduceSum', ['x'], { keepdims: attr.int(1) }); // [1, 1]
  let h = g.op('Expand', [total, square]);
  for (let i = 0; i < layers; i++) h = g.op('MatMul', [h, w]);
  const mean = g.op('ReduceMean', [h], { keepdims: attr.int(0) });
  g.node('Add', [g.op('Add', ['x', k]), g.op('Mul', [mean, zero])], ['y']);
  g.output('y', ElemType.FLOAT, ['batch', width]);
  return g.build();
}

export { putConfig, putModel, tempRepo, writeAtomic } from './fixtures.js';

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

export class RecordingLogger implements RepositoryLogger {
  readonly entries: LogEntry[] = [];
  info(fields: Record<string, unknown>, message: string): void {
    this.entries.push({ level: 'info', fields, message });
  }
  warn(fields: Record<string, unknown>, message: string): void {
    this.entries.push({ level: 'warn', fields, message });
  }
  error(fields: Record<string, unknown>, message: string): void {
    this.entries.push({ level: 'error', fields, message });
  }
  of(level: LogEntry['level']): LogEntry[] {
    return this.entries.filter((e) => e.level === level);
  }
}

/** Records every hook call with a timestamp (performance.now()). */
export class HookRecorder {
  readonly served: Array<{ t: number; instance: ServedVersion }> = [];
  readonly retired: Array<{ t: number; instance: ServedVersion }> = [];
  readonly states: Array<{ t: number; name: string; version: string; state: VersionState }> = [];
  readonly failures: Array<{ t: number; name: string; version: string; reason: string }> = [];
  readonly #waiters = new Set<() => void>();

  readonly hooks: RepositoryHooks = {
    served: (instance) => this.#push(() => this.served.push({ t: performance.now(), instance })),
    retired: (instance) => this.#push(() => this.retired.push({ t: performance.now(), instance })),
    state: (name, version, state) => this.#push(() => this.states.push({ t: performance.now(), name, version, state })),
    loadFailed: (name, version, reason) => this.#push(() => this.failures.push({ t: performance.now(), name, version, reason })),
  };

  #push(record: () => void): void {
    record();
    for (const w of [...this.#waiters]) w();
  }

  /**
   * Resolves once `cond` holds (checked now, after every hook call, and every 10 ms for conditions
   * that no hook announces, such as traffic counts); rejects after `ms`.
   */
  until<T>(cond: () => T | undefined | false, what: string, ms = 20_000): Promise<T> {
    const now = cond();
    if (now) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#waiters.delete(check);
      };
      const check = () => {
        const v = cond();
        if (v) {
          done();
          resolve(v);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const poll = setInterval(check, 10);
      this.#waiters.add(check);
    });
  }

  servedCount(name?: string): number {
    return this.served.filter((s) => name === undefined || s.instance.name === name).length;
  }

  /** Waits for the n-th (1-based) served() of `name`. */
  nthServed(name: string, n: number, ms?: number): Promise<ServedVersion> {
    return this.until(() => this.served.filter((s) => s.instance.name === name)[n - 1]?.instance, `served #${n} of ${name}`, ms);
  }

  retiredOf(instance: ServedVersion, ms?: number): Promise<{ t: number; instance: ServedVersion }> {
    return this.until(() => this.retired.find((r) => r.instance === instance), `retired(${instance.name}/${instance.version} gen ${instance.generation})`, ms);
  }
}

/** An Engine that counts and records every load (the repository only calls load()). */
export function countingEngine(engine: Engine): { engine: Engine; loads: string[] } {
  const loads: string[] = [];
  const wrapped = {
    load: (source: string | Uint8Array, options?: LoadOptions): Promise<Model> => {
      loads.push(typeof source === 'string' ? source : '<bytes>');
      return engine.load(source, options);
    },
  };
  return { engine: wrapped as unknown as Engine, loads };
}

/** acquire() returns an instance or a promise: await either, and always get a rejection as a rejection. */
export async function acquire(repo: ModelRepository, name: string, version?: string): Promise<ServedVersion> {
  return await repo.acquire(name, version);
}

/** The RepositoryError (or any error) thrown by `fn`, sync or async. */
export async function caught(fn: () => unknown): Promise<Error & { code?: string }> {
  try {
    await fn();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected an error, got none');
}

/** Input rows of ones for the add-constant / tiny models. */
export function onesInput(width = WIDTH, batch = 1): { x: { datatype: 'FP32'; shape: number[]; data: Float32Array } } {
  return { x: { datatype: 'FP32', shape: [batch, width], data: new Float32Array(batch * width).fill(1) } };
}

/**
 * close() waits for every lease to be released; a test that failed half-way may hold one. Bound the
 * wait so one failure does not turn into a hook timeout for the whole file.
 */
export async function closeRepo(repo: ModelRepository | undefined, ms = 5000): Promise<void> {
  if (!repo) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([repo.close(), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
