// Encode: the outputs as the front's reply (named after the version that answered).
import { nowNs, type RequestContext } from '../context.js';
import type { Stage } from '../stage.js';

export class EncodeStage implements Stage {
  readonly name = 'encode';

  run(ctx: RequestContext): void {
    const t0 = nowNs();
    const target = ctx.target!;
    const decoded = ctx.decoded!;
    ctx.reply = ctx.wire.encode(ctx, {
      modelName: target.name,
      modelVersion: target.versionLabel,
      id: decoded.id,
      outputs: ctx.outputs!,
      requested: decoded.outputs,
      binaryDataOutput: decoded.binaryDataOutput,
      order: target.outputOrder,
    });
    ctx.encodeAtNs = t0;
    ctx.encodeNs = nowNs() - t0;
  }
}
