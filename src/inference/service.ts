// The inference path every front uses. A front turns its wire request into a RequestContext (model,
// payload, deadline, cancellation, trace context), calls infer(), and writes the reply it gets back;
// the stages below do everything in between, in this order:
//
//   trace         whether the request is traced                     stages/trace.ts         (with tracing)
//   latency       (at the end) its duration, to the SLO histogram    stages/latency.ts       (with an observer)
//   resolve       the served version, leased for the request       stages/resolve.ts
//   route         a route's target, leased in the route's place      stages/route.ts         (routes)
//   monitor       (at the end) tensors to the drift monitor          stages/monitor.ts       (with monitoring)
//   reply-cache   a repeated request answered with its reply        stages/reply-cache.ts   (caching models)
//   decode        the payload as engine tensors                     stages/decode.ts
//   admission     the deadline; refuse what cannot start before it   stages/admission.ts
//   tensor-cache  outputs of identical inputs, shared computations  stages/tensor-cache.ts  (caching models)
//   execute       the model, under deadline/priority/cancellation   stages/execute.ts
//   encode        the reply in the front's format                   stages/encode.ts
//
// then each stage's finish() in reverse order (remember the reply, hand the tensors to the monitor,
// record the routing outcome and queue shadow traffic, which runs after the reply is sent, release the
// lease, observe the duration, export the trace).
import type { EncodedReply, ResponseCache } from '../cache/index.js';
import type { ModelMonitors } from '../monitoring/monitors.js';
import type { TraceControl } from '../tracing/control.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../protocol/limits.js';
import type { ModelRepository } from '../repository/index.js';
import { DEFAULT_ADMISSION, type AdmissionOptions } from './admission.js';
import type { RequestContext } from './context.js';
import type { Stage } from './stage.js';
import { AdmissionStage } from './stages/admission.js';
import { DecodeStage } from './stages/decode.js';
import { EncodeStage } from './stages/encode.js';
import { ExecuteStage } from './stages/execute.js';
import { LatencyStage, type InferenceObserver } from './stages/latency.js';
import { MonitorStage } from './stages/monitor.js';
import { ReplyCacheStage } from './stages/reply-cache.js';
import { ResolveStage } from './stages/resolve.js';
import { RouteStage } from './stages/route.js';
import { TensorCacheStage } from './stages/tensor-cache.js';
import { TraceStage } from './stages/trace.js';

export interface InferenceServiceOptions {
  repository: ModelRepository;
  /** The response cache (--cache); models opt in with response_cache { enable: true }. */
  cache?: ResponseCache | undefined;
  /** Tracing (--trace-config and the trace extension's API). */
  tracing?: TraceControl | undefined;
  /** Drift and data-quality monitors (models opt in with a monitoring section). */
  monitors?: ModelMonitors | undefined;
  /** Told the duration of every successful request (the metrics' latency histogram). */
  observer?: InferenceObserver | undefined;
  /** Bounds on what one request may make the server hold (defaults: src/protocol/limits.ts). */
  limits?: DecodeLimits | undefined;
  /** Deadlines and refusals under overload (defaults: src/inference/admission.ts). */
  admission?: AdmissionOptions | undefined;
}

export class InferenceService {
  readonly stages: readonly Stage[];

  /** A service with exactly these stages (an HTTP worker thread's: see src/server/threads/worker.ts). */
  static of(stages: readonly Stage[]): InferenceService {
    return new InferenceService({ stages });
  }

  constructor(options: InferenceServiceOptions | { stages: readonly Stage[] }) {
    if ('stages' in options) {
      this.stages = options.stages;
      return;
    }
    const cache = options.cache;
    const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
    this.stages = [
      ...(options.tracing ? [new TraceStage(options.tracing)] : []),
      ...(options.observer ? [new LatencyStage(options.observer)] : []),
      new ResolveStage(options.repository),
      new RouteStage(options.repository, limits),
      ...(options.monitors ? [new MonitorStage(options.monitors)] : []),
      ...(cache ? [new ReplyCacheStage(cache)] : []),
      new DecodeStage(limits),
      new AdmissionStage(options.admission ?? DEFAULT_ADMISSION),
      ...(cache ? [new TensorCacheStage(cache)] : []),
      new ExecuteStage(),
      new EncodeStage(),
    ];
  }

  /**
   * Runs the request through the stages and returns its reply. Sync stages run without a promise
   * between them; only a stage that waits (the engine, a cache level, a model loading) adds one.
   */
  infer(ctx: RequestContext): Promise<EncodedReply> {
    let pending: Promise<void> | undefined;
    try {
      pending = this.#run(ctx, 0);
    } catch (err) {
      this.#finish(ctx, err);
      return Promise.reject(err);
    }
    if (pending === undefined) {
      this.#finish(ctx, undefined);
      return Promise.resolve(ctx.reply!);
    }
    return pending.then(
      () => {
        this.#finish(ctx, undefined);
        return ctx.reply!;
      },
      (err: unknown) => {
        this.#finish(ctx, err);
        throw err;
      },
    );
  }

  /** Runs stages from `i`: undefined when all ran synchronously, else a promise of the rest. */
  #run(ctx: RequestContext, i: number): Promise<void> | undefined {
    const stages = this.stages;
    for (; i < stages.length && ctx.reply === undefined; i++) {
      ctx.stagesRun = i + 1;
      const waiting = stages[i]!.run(ctx);
      if (waiting !== undefined) {
        const next = i + 1;
        return waiting.then(() => this.#run(ctx, next));
      }
    }
    return undefined;
  }

  #finish(ctx: RequestContext, error: unknown): void {
    const stages = this.stages;
    for (let i = ctx.stagesRun - 1; i >= 0; i--) stages[i]!.finish?.(ctx, error);
  }
}
