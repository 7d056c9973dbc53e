// The drift and data-quality tap: a successful request's input and output tensors go to its version's
// monitor (which samples them and updates its sketches off the request path); an input the protocol
// or the engine refused counts as a data-quality violation. Nothing happens before the request ends.
// Models without monitoring: one branch.
import type { ModelMonitors } from '../../monitoring/monitors.js';
import { errorKind } from '../../protocol/errors.js';
import type { RequestContext } from '../context.js';
import type { Stage } from '../stage.js';

const INPUT_NAMED = /input '([^']+)'/;

export class MonitorStage implements Stage {
  readonly name = 'monitor';
  readonly #monitors: ModelMonitors;

  constructor(monitors: ModelMonitors) {
    this.#monitors = monitors;
  }

  run(): void {}

  finish(ctx: RequestContext, error: unknown): void {
    const monitors = this.#monitors;
    if (monitors.size === 0) return;
    const target = ctx.target;
    if (target === undefined) return;
    if (error === undefined) {
      const decoded = ctx.decoded;
      const outputs = ctx.outputs;
      // Reply-tier hits were never decoded: nothing to observe.
      if (decoded !== undefined && outputs !== undefined) monitors.offer(target, decoded.inputs, outputs);
      return;
    }
    if (ctx.outputs === undefined && errorKind(error) === 'INVALID_ARGUMENT') {
      monitors.get(target)?.rejected(INPUT_NAMED.exec((error as Error).message ?? '')?.[1]);
    }
  }
}
