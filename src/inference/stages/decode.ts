// Decode: the front's payload as a v2 request (inputs as engine tensors), by the front's own wire
// format. The request's `timeout` can only shorten the front's deadline; its `priority` is taken as is.
// A request the route stage already decoded (a sticky key in its body) is not decoded twice.
import type { DecodeModel } from '../../protocol/infer-request.js';
import type { DecodeLimits } from '../../protocol/limits.js';
import { nowNs, type RequestContext } from '../context.js';
import type { Stage } from '../stage.js';

/** Decodes the request's payload for `model` into ctx.decoded (with its deadline and priority). */
export function decodeRequest(ctx: RequestContext, model: DecodeModel, limits: DecodeLimits): void {
  const t0 = nowNs();
  const decoded = ctx.wire.decode(ctx, model, limits);
  ctx.decoded = decoded;
  if (decoded.timeoutUs !== undefined && decoded.timeoutUs > 0 && (ctx.timeoutUs === 0 || decoded.timeoutUs < ctx.timeoutUs)) {
    ctx.timeoutUs = decoded.timeoutUs;
  }
  if (decoded.priority !== undefined) ctx.priority = decoded.priority;
  ctx.decodeAtNs = t0;
  ctx.decodeNs = nowNs() - t0;
}

export class DecodeStage implements Stage {
  readonly name = 'decode';
  readonly #limits: DecodeLimits;

  constructor(limits: DecodeLimits) {
    this.#limits = limits;
  }

  run(ctx: RequestContext): void {
    if (ctx.decoded === undefined) decodeRequest(ctx, ctx.target!.model.metadata, this.#limits);
  }
}
