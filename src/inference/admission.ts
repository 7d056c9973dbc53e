// Admission control: under overload a request that cannot start before its deadline is refused at
// once (503 + Retry-After, gRPC UNAVAILABLE) instead of joining a queue it would time out in, so the
// latency of the requests that are admitted stays bounded by the deadline and refusals cost
// microseconds. Per served model copy it keeps the rows in flight (admitted, not finished) and the
// engine's measured cost per row; the predicted wait of a new request is the work ahead of it at that
// service rate.
//
// The deadline a request is admitted against: where its model's config sets a queue policy, Triton's
// queue timeout for its priority level (default_timeout_microseconds, which the request's own `timeout`
// may lower when allow_timeout_override), exactly what the engine enforces while it waits; otherwise
// the server's --default-request-timeout, which the request's `timeout` (or gRPC deadline) may lower.
// The server default is an admission target, not a queue timeout: a request it admits is served
// however long it then waits (on a CPU-starved machine a queue timeout that short would refuse work
// that merely ran late); explicit deadlines stay queue timeouts in the engine. A copy's own
// max_queue_size is the engine's; --max-queue-size bounds the copies whose config sets none.
import type { ModelConfig } from '../repository/index.js';
import { ProtocolError } from '../protocol/errors.js';

export interface AdmissionOptions {
  /** False turns admission off (no refusals before the engine; the engine's queue policies remain). */
  enabled: boolean;
  /** Deadline (µs) requests to models without a queue policy are admitted against, unless they bring a lower one (0: none). */
  defaultTimeoutUs: number;
  /** Requests a model copy may hold in flight when its config sets no max_queue_size (0: unbounded). */
  maxQueueSize: number;
}

export const DEFAULT_ADMISSION: Readonly<AdmissionOptions> = Object.freeze({
  enabled: true,
  defaultTimeoutUs: 50_000,
  maxQueueSize: 1024,
});

type QueuePolicy = NonNullable<NonNullable<ModelConfig['dynamic_batching']>['default_queue_policy']>;

/** What admission reads of a model's config, computed once per copy. */
interface ModelPolicy {
  /** Whether the config sets any queue policy (then the server default deadline does not apply). */
  configured: boolean;
  /** The policy that applies to a request's priority (0: the model's default level). */
  forLevel(priority: number): QueuePolicy | undefined;
  /** Whether the config bounds any queue itself (then --max-queue-size does not apply). */
  bounded: boolean;
}

function modelPolicy(config: ModelConfig): ModelPolicy {
  const db = config.dynamic_batching;
  const byLevel = db?.priority_queue_policy ?? {};
  const fallback = db?.default_queue_policy;
  const defaultLevel = db?.default_priority_level ?? 0;
  const levels = db?.priority_levels ?? 0;
  const policies = [fallback, ...Object.values(byLevel)].filter((p): p is QueuePolicy => p !== undefined);
  return {
    configured: policies.length > 0,
    bounded: policies.some((p) => p.max_queue_size > 0),
    forLevel(priority: number): QueuePolicy | undefined {
      // As the engine: 0 (or out of range) is the model's default level.
      const level = priority >= 1 && priority <= levels ? priority : defaultLevel;
      return byLevel[String(level)] ?? fallback;
    },
  };
}

/** Weight of one completion in the moving per-row cost (about the last 30 completions count). */
const ALPHA = 1 / 32;

/**
 * One model copy's load: the requests (and rows) admitted and not finished, and what a row costs the
 * engine. The cost comes from the engine's own clock (each batch's compute time over its rows), not
 * from JS wall time, so a busy event loop (many connections arriving at once) is not mistaken for a
 * slow model; with batching it follows the batch sizes the load produces.
 */
export class ModelLoad {
  readonly policy: ModelPolicy;
  /** Runner threads of the copy (instance_group counts): batches run that many at a time. */
  readonly instances: number;
  /**
   * The counts, in memory every HTTP thread of the process shares (--http-threads: a worker thread
   * builds its view of the same copy's load on it): [inflight, inflightRows] as Int32, then the cost.
   */
  readonly memory: SharedArrayBuffer;
  readonly #counts: Int32Array;
  /** Engine compute per row, ns (moving average); -1 while nothing was measured (all is admitted). A
   * plain (non-atomic) float: a racing update loses one sample of an estimate, nothing more. */
  readonly #cost: Float64Array;

  constructor(config: ModelConfig, memory?: SharedArrayBuffer) {
    this.policy = modelPolicy(config);
    this.instances = Math.max(1, (config.instance_group ?? []).reduce((n, g) => n + g.count, 0));
    this.memory = memory ?? new SharedArrayBuffer(16);
    this.#counts = new Int32Array(this.memory, 0, 2);
    this.#cost = new Float64Array(this.memory, 8, 1);
    if (memory === undefined) this.#cost[0] = -1;
  }

  get inflight(): number {
    return Atomics.load(this.#counts, 0);
  }

  get inflightRows(): number {
    return Atomics.load(this.#counts, 1);
  }

  get costPerRowNs(): number {
    return this.#cost[0]!;
  }

  enter(rows: number): void {
    Atomics.add(this.#counts, 0, 1);
    Atomics.add(this.#counts, 1, rows);
  }

  /** A request is over; `computeNs`/`batchRows` are its batch's (0 when it did not run). */
  leave(rows: number, computeNs: number, batchRows: number): void {
    Atomics.sub(this.#counts, 0, 1);
    Atomics.sub(this.#counts, 1, rows);
    if (computeNs > 0 && batchRows > 0) {
      const sample = computeNs / batchRows;
      const cost = this.#cost[0]!;
      this.#cost[0] = cost < 0 ? sample : cost + ALPHA * (sample - cost);
    }
  }

  /** The predicted wait (ns) before a request arriving now would start: the rows ahead at the measured cost. */
  predictedWaitNs(): number {
    const cost = this.#cost[0]!;
    if (cost < 0) return 0;
    return (this.inflightRows * cost) / this.instances;
  }
}

/** The refusal of a request that cannot start before its deadline. */
export function overloaded(model: string, waitNs: number, deadlineUs: number): ProtocolError {
  const err = new ProtocolError(
    'OVERLOADED',
    `model '${model}' is overloaded: the predicted queue wait (${(waitNs / 1e6).toFixed(1)} ms) exceeds the request's deadline (${deadlineUs / 1000} ms); retry later`,
  );
  // Whole seconds (HTTP's Retry-After); the queue ahead drains within about the predicted wait.
  err.retryAfterSeconds = Math.max(1, Math.ceil(waitNs / 1e9));
  return err;
}

/** The refusal of a request to a model copy that holds --max-queue-size requests already. */
export function queueFull(model: string, limit: number): ProtocolError {
  return new ProtocolError('QUEUE_FULL', `model '${model}' has ${limit} requests in flight (the server's --max-queue-size); retry later`);
}

/**
 * The deadline (µs, 0 = none) a request is admitted against: its model's queue timeout for its priority
 * level when the config sets a queue policy (Triton's rules, as the engine applies them), else the
 * server default; `requested` (the request's own timeout or its deadline, 0 = none) may only lower it.
 */
export function admissionDeadlineUs(policy: ModelPolicy, priority: number, requested: number, serverDefaultUs: number): number {
  if (policy.configured) {
    const p = policy.forLevel(priority);
    const base = p?.default_timeout_microseconds ?? 0;
    if (requested > 0 && (p === undefined || p.allow_timeout_override) && (base === 0 || requested < base)) return requested;
    return base;
  }
  if (requested > 0 && (serverDefaultUs === 0 || requested < serverDefaultUs)) return requested;
  return serverDefaultUs;
}
