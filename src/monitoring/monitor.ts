// The monitor of one served model version. The request path only hands it a request's tensors
// (offer: a sampling decision and a queue push, no copy: the tensors are immutable once the request
// is done); the sketches are updated off the request path, a queue drained in chunks on
// setImmediate. Drift is evaluated lazily, when a scrape or a report asks, at most once a second.
import type { MonitoringConfig } from './config.js';
import { correctedAlpha, type FeatureDrift } from './detector.js';
import type { MonitoringPlan } from './plan.js';
import { TensorMonitor, type ObservedTensor, type QualityCounts, type QualityKind } from './tensor-monitor.js';

export type TensorMap = Readonly<Record<string, ObservedTensor>>;

/** Where data-quality violations are counted (the metrics' counters). */
export interface QualitySink {
  add(model: string, tensor: string, kind: QualityKind, n: number): void;
}

export interface TensorEvaluation {
  readonly tensor: TensorMonitor;
  readonly features: ReadonlyArray<FeatureDrift | undefined>;
}

export interface Evaluation {
  /** Unix ms. */
  readonly at: number;
  readonly tensors: readonly TensorEvaluation[];
  readonly featuresTotal: number;
  readonly featuresEvaluated: number;
  readonly featuresDrifted: number;
  /** The KS level each test used (after correction). */
  readonly alpha: number;
}

/** Requests waiting for the drain beyond this are not observed (counted as dropped). */
export const MAX_QUEUED = 1024;
/** Requests observed per drain turn before yielding to the event loop. */
const DRAIN_CHUNK = 64;
/** A cached evaluation is reused for this long (scrapes and status polls ask often). */
export const EVALUATION_MAX_AGE_MS = 1000;

const KINDS: readonly QualityKind[] = ['nan', 'inf', 'out_of_range', 'unseen_category', 'rejected'];

export class Monitor {
  readonly model: string;
  readonly version: string;
  readonly plan: MonitoringPlan;
  readonly config: MonitoringConfig;
  readonly tensors: readonly TensorMonitor[];
  readonly #inputs: TensorMonitor[];
  readonly #outputs: TensorMonitor[];
  readonly #sink: QualitySink | undefined;
  readonly #found: QualityCounts = { nan: 0, inf: 0, out_of_range: 0, unseen_category: 0, rejected: 0 };
  /** Requests offered, sampled, and dropped because the queue was full. */
  offered = 0;
  sampled = 0;
  dropped = 0;
  #credit = 0;
  #queue: Array<TensorMap | undefined> = [];
  #head = 0;
  #scheduled = false;
  #closed = false;
  #evaluation: Evaluation | undefined;
  #evaluatedRows = -1;

  constructor(model: string, version: string, plan: MonitoringPlan, sink?: QualitySink) {
    this.model = model;
    this.version = version;
    this.plan = plan;
    this.config = plan.config;
    this.tensors = plan.tensors.map((t) => new TensorMonitor(t, plan.config, plan.learnRows));
    this.#inputs = this.tensors.filter((t) => t.plan.io === 'input');
    this.#outputs = this.tensors.filter((t) => t.plan.io === 'output');
    this.#sink = sink;
  }

  /** The request path's part: sample, then queue the request's tensors for the drain. */
  offer(inputs: TensorMap, outputs: TensorMap): void {
    this.offered++;
    this.#credit += this.config.sample_rate;
    if (this.#credit < 1) return;
    this.#credit -= 1;
    if (this.#queue.length - this.#head >= 2 * MAX_QUEUED) {
      this.dropped++;
      return;
    }
    this.sampled++;
    this.#queue.push(inputs, outputs);
    if (!this.#scheduled && !this.#closed) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    }
  }

  /** Observes one request's tensors now (the drain's work; tests call it directly). */
  observe(inputs: TensorMap, outputs: TensorMap): void {
    this.#observeAll(this.#inputs, inputs);
    this.#observeAll(this.#outputs, outputs);
  }

  /** A request the protocol refused: counted against `input` when it is a watched input. */
  rejected(input: string | undefined): void {
    const t = this.#inputs.find((m) => m.plan.name === input) ?? this.#inputs[0];
    if (!t) return;
    t.quality.rejected++;
    this.#sink?.add(this.model, t.plan.name, 'rejected', 1);
  }

  /** Observes everything queued, synchronously. */
  flush(): void {
    while (this.#head < this.#queue.length) this.#take();
    this.#queue = [];
    this.#head = 0;
  }

  /** The drift evaluation, recomputed when rows arrived and the cached one is older than `maxAgeMs`. */
  evaluate(maxAgeMs = EVALUATION_MAX_AGE_MS): Evaluation {
    this.flush();
    const rows = this.tensors.reduce((n, t) => n + t.rows, 0);
    const cached = this.#evaluation;
    if (cached && (rows === this.#evaluatedRows || Date.now() - cached.at < maxAgeMs)) return cached;
    const tests = this.tensors.reduce((n, t) => n + t.ksTests, 0);
    const alpha = correctedAlpha(this.config.ks, tests);
    let total = 0;
    let evaluated = 0;
    let drifted = 0;
    const tensors = this.tensors.map((tensor) => {
      const features = tensor.evaluate(this.config, alpha, this.config.min_rows);
      total += features.length;
      for (const f of features) {
        if (f === undefined) continue;
        evaluated++;
        if (f.drift) drifted++;
      }
      return { tensor, features };
    });
    this.#evaluatedRows = rows;
    return (this.#evaluation = { at: Date.now(), tensors, featuresTotal: total, featuresEvaluated: evaluated, featuresDrifted: drifted, alpha });
  }

  /** 'learning' until every watched tensor has its reference. */
  get state(): 'learning' | 'monitoring' {
    return this.tensors.some((t) => t.learning) ? 'learning' : 'monitoring';
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
  }

  readonly #drain = (): void => {
    this.#scheduled = false;
    if (this.#closed) return;
    for (let i = 0; i < DRAIN_CHUNK && this.#head < this.#queue.length; i++) this.#take();
    if (this.#head < this.#queue.length) {
      this.#scheduled = true;
      setImmediate(this.#drain);
    } else {
      this.#queue = [];
      this.#head = 0;
    }
  };

  #take(): void {
    const q = this.#queue;
    const inputs = q[this.#head]!;
    const outputs = q[this.#head + 1]!;
    q[this.#head] = q[this.#head + 1] = undefined; // let the request's buffers go
    this.#head += 2;
    this.observe(inputs, outputs);
  }

  #observeAll(monitors: TensorMonitor[], tensors: TensorMap): void {
    const found = this.#found;
    for (const m of monitors) {
      const t = tensors[m.plan.name];
      if (t === undefined) continue; // an optional input left out, an output not asked for
      found.nan = found.inf = found.out_of_range = found.unseen_category = 0;
      m.observe(t, found);
      for (const kind of KINDS) {
        const n = found[kind];
        if (n === 0) continue;
        m.quality[kind] += n;
        this.#sink?.add(this.model, m.plan.name, kind, n);
      }
    }
  }
}
