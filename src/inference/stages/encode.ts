// Encode: the outputs as the front's reply, named after the version that answered (a route's static
// answer: after the route). A routed reply carries the routing decision's parameters; on routes that
// take feedback by id, a request without an id gets one (the reply's `id`).
import { randomUUID } from 'node:crypto';
import { nowNs, type RequestContext } from '../context.js';
import type { Stage } from '../stage.js';

export class EncodeStage implements Stage {
  readonly name = 'encode';

  run(ctx: RequestContext): void {
    const t0 = nowNs();
    const routing = ctx.routing;
    const by = ctx.target ?? routing!.answer!;
    const decoded = ctx.decoded!;
    let id = decoded.id;
    if (id === undefined && routing !== undefined && routing.assignsIds) id = ctx.assignedId = randomUUID();
    ctx.reply = ctx.wire.encode(ctx, {
      modelName: by.name,
      modelVersion: by.versionLabel,
      id,
      outputs: ctx.outputs!,
      requested: decoded.outputs,
      binaryDataOutput: decoded.binaryDataOutput,
      order: by.outputOrder,
      parameters: routing?.parameters,
    });
    ctx.encodeAtNs = t0;
    ctx.encodeNs = nowNs() - t0;
  }
}
