// The end-to-end duration of each successful request, from its arrival at the service to its reply
// (cache hits included), handed to an observer once the request is over: the per-model latency
// histogram whose bucket bounds sit at round SLO values.
import type { ServedVersion } from '../../repository/index.js';
import { nowNs, type RequestContext } from '../context.js';
import type { Stage } from '../stage.js';

export interface InferenceObserver {
  /** A successful request answered by `target`, `seconds` after it arrived. */
  succeeded(target: ServedVersion, seconds: number): void;
}

export class LatencyStage implements Stage {
  readonly name = 'latency';
  readonly #observer: InferenceObserver;

  constructor(observer: InferenceObserver) {
    this.#observer = observer;
  }

  run(): void {}

  finish(ctx: RequestContext, error: unknown): void {
    const target = ctx.target;
    if (error === undefined && target !== undefined) this.#observer.succeeded(target, (nowNs() - ctx.startNs) / 1e9);
  }
}
