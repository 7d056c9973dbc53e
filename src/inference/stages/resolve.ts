// Resolve: the served version that answers the request, with a lease on it so that a swap or an unload
// cannot take it away mid-request (released in finish). Sync when the model is served; a promise when
// it must load first (on-demand loading).
import type { ServedVersion } from '../../repository/index.js';
import type { RequestContext } from '../context.js';
import type { Stage } from '../stage.js';

/** Where served versions are leased from: the repository, or an HTTP worker thread's copy of its table. */
export interface Leases {
  /** The version serving `name` (its latest, or `version`) with a lease taken; a promise when it must load first. */
  acquire(name: string, version?: string): ServedVersion | Promise<ServedVersion>;
  release(served: ServedVersion): void;
}

export class ResolveStage implements Stage {
  readonly name = 'resolve';
  readonly #repository: Leases;

  constructor(repository: Leases) {
    this.#repository = repository;
  }

  run(ctx: RequestContext): void | Promise<void> {
    const found = this.#repository.acquire(ctx.model, ctx.version);
    if (found instanceof Promise) return found.then((target) => this.#leased(ctx, target));
    ctx.target = found;
  }

  #leased(ctx: RequestContext, target: ServedVersion): void {
    ctx.target = target;
  }

  finish(ctx: RequestContext): void {
    if (ctx.target) this.#repository.release(ctx.target);
  }
}
