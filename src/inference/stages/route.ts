// Route: when the model the client named is a route (platform tensorgate_route), choose its target
// (weighted split, sticky key, pin, bandit: src/routing/route-runtime.ts), lease the target, give the
// route's lease back, and go on with the target as ctx.target: every later stage serves the target as
// if the client had named it, and the reply names it (model_name, model_version, a tensorgate_target
// parameter, the HTTP tensorgate-target header). A route whose target is a route routes again (at
// most MAX_ROUTE_DEPTH deep). A sticky key read from the request's body needs it decoded first: this
// stage decodes it then, with the route's metadata (its primary target's), and the decode stage does
// not decode it again. finish() records the outcome for each route on the way (canary windows,
// feedback ids) and hands the request to the shadows, which run after the reply is sent.
//
// Models that are not routes pay one instanceof check here.
import type { ServedVersion } from '../../repository/index.js';
import { RouteServable } from '../../repository/backends/route.js';
import type { ModelRepository } from '../../repository/index.js';
import { MAX_ROUTE_DEPTH } from '../../repository/routing-schema.js';
import type { Decision } from '../../routing/decision.js';
import { ProtocolError } from '../../protocol/errors.js';
import type { RequestContext } from '../context.js';
import type { Stage } from '../stage.js';
import { decodeRequest } from './decode.js';
import type { DecodeLimits } from '../../protocol/limits.js';

export class RouteStage implements Stage {
  readonly name = 'route';
  readonly #repository: ModelRepository;

  readonly #limits: DecodeLimits;

  constructor(repository: ModelRepository, limits: DecodeLimits) {
    this.#repository = repository;
    this.#limits = limits;
  }

  run(ctx: RequestContext): void | Promise<void> {
    const served = ctx.target!;
    if (!(served.model instanceof RouteServable)) return;
    return this.#route(ctx, served, served.model, 1);
  }

  #route(ctx: RequestContext, routeServed: ServedVersion, route: RouteServable, depth: number): void | Promise<void> {
    const runtime = route.runtime;
    if (runtime.needsDecoded && ctx.decoded === undefined) decodeRequest(ctx, route.metadata, this.#limits);
    const d = runtime.pick(ctx);
    if (ctx.routing !== undefined) (ctx.outerRouting ??= []).push(ctx.routing);
    ctx.routing = d;
    const t = runtime.targets[d.index]!;
    let found: ServedVersion | Promise<ServedVersion>;
    try {
      found = this.#repository.acquire(t.model, t.version);
    } catch (err) {
      return this.#unavailable(ctx, routeServed, route, d, err);
    }
    if (found instanceof Promise) {
      return found.then(
        (served) => this.#leased(ctx, routeServed, served, depth),
        (err: unknown) => this.#unavailable(ctx, routeServed, route, d, err),
      );
    }
    return this.#leased(ctx, routeServed, found, depth);
  }

  #leased(ctx: RequestContext, routeServed: ServedVersion, served: ServedVersion, depth: number): void | Promise<void> {
    this.#repository.release(routeServed);
    ctx.target = served;
    const model = served.model;
    if (!(model instanceof RouteServable)) return;
    if (depth >= MAX_ROUTE_DEPTH) throw new ProtocolError('INTERNAL', `routes nest deeper than ${MAX_ROUTE_DEPTH} at '${served.name}'`);
    return this.#route(ctx, served, model, depth + 1);
  }

  /** The chosen target cannot be leased: the route's fallback chain answers at execute, else the error does. */
  #unavailable(ctx: RequestContext, routeServed: ServedVersion, route: RouteServable, d: Decision, err: unknown): void {
    if (d.fallback === undefined) throw err; // ctx.target is still the route: the resolve stage releases it
    if (ctx.decoded === undefined) decodeRequest(ctx, route.metadata, this.#limits);
    this.#repository.release(routeServed);
    ctx.target = undefined;
  }

  finish(ctx: RequestContext, error: unknown): void {
    const d = ctx.routing as Decision | undefined;
    if (d === undefined) return;
    d.owner.record(ctx, d, error);
    const outer = ctx.outerRouting as Decision[] | undefined;
    if (outer !== undefined) for (const o of outer) o.owner.record(ctx, o, error);
  }
}
