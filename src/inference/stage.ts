// A stage of the inference path: one step of every request, in the order the service lists them
// (service.ts). Adding a feature to every front (routing, shadow traffic, tracing, a drift tap) is
// adding a stage file and a line to that list, in the spirit of fastify's hooks.
import type { RequestContext } from './context.js';

export interface Stage {
  readonly name: string;
  /**
   * Runs in list order. Return nothing to go on at once, or a promise to pause the request until it
   * settles. A stage that sets ctx.reply ends the request there (a cache hit): later stages don't run.
   */
  run(ctx: RequestContext): void | Promise<void>;
  /**
   * Runs once the request is over, success or failure, for every stage whose run() was called, in
   * reverse order (release what run() took, remember what the request made). Must not throw.
   */
  finish?(ctx: RequestContext, error: unknown): void;
}
