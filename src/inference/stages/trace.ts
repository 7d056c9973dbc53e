// Tracing: decides at the start whether the request is traced (Triton's rate and count, or a caller's
// sampled traceparent), and once it is over hands its context to the exporter, which builds the spans
// from the timings the stages recorded. Not traced: run() is one branch, finish() one more.
import type { TraceControl } from '../../tracing/control.js';
import type { RequestContext } from '../context.js';
import type { Stage } from '../stage.js';

export class TraceStage implements Stage {
  readonly name = 'trace';
  readonly #control: TraceControl;

  constructor(control: TraceControl) {
    this.#control = control;
  }

  run(ctx: RequestContext): void {
    if (this.#control.active) ctx.traced = this.#control.sample(ctx);
  }

  finish(ctx: RequestContext, error: unknown): void {
    const traced = ctx.traced;
    if (traced !== undefined) this.#control.record(ctx, traced, error);
  }
}
