// Progress for long model loads (session creation, TensorRT engine builds, model_warmup) on a
// terminal: the repository logs when a version starts loading (with its warmup sample count) and
// when it is ready or failed; while one is still going after a few seconds this prints a line now and then saying what
// and for how long, so a first start with a big model does not look hung.
import type { LogRecord } from './pretty-log.js';

interface Pending {
  started: number;
  phase: string;
  lastShown: number;
}

export class LoadProgress {
  readonly #pending = new Map<string, Pending>();
  readonly #print: (line: string) => void;
  readonly #now: () => number;
  readonly #after: number;
  readonly #every: number;
  #timer: NodeJS.Timeout | undefined;

  /** `after`: ms before the first line; `every`: ms between lines for the same load. */
  constructor(print: (line: string) => void, options: { after?: number; every?: number; now?: () => number } = {}) {
    this.#print = print;
    this.#now = options.now ?? Date.now;
    this.#after = options.after ?? 3000;
    this.#every = options.every ?? 5000;
  }

  /** Feeds one log record (the repository's load events; everything else is ignored). */
  observe(r: LogRecord): void {
    if (typeof r.model !== 'string') return;
    const key = `${r.model} v${String(r.version ?? '?')}`;
    if (r.msg === 'loading model version') {
      const phase = typeof r.warmup === 'number' ? `session and ${r.warmup} model_warmup sample(s)` : 'creating the session';
      this.#pending.set(key, { started: this.#now(), phase, lastShown: -Infinity });
      this.#timer ??= setInterval(() => this.tick(), 1000).unref();
    } else if (this.#pending.has(key) && /ready|swapped|failed/.test(r.msg ?? '')) {
      this.#pending.delete(key);
      if (this.#pending.size === 0) this.stop();
    }
  }

  /** Prints a line for every load that has run long enough since its last line. */
  tick(): void {
    const now = this.#now();
    for (const [key, p] of this.#pending) {
      const age = now - p.started;
      if (age >= this.#after && now - p.lastShown >= this.#every) {
        p.lastShown = now;
        this.#print(`        … still loading ${key}: ${p.phase}, ${Math.round(age / 1000)} s so far\n`);
      }
    }
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
