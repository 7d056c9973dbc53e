// The reply tier of the response cache: a repeated request to a caching model (same version, same
// payload bytes, same wire format) is answered with the reply already sent, before any decoding. A
// miss leaves the key on the context; finish() remembers the reply once it has been encoded.
import type { ResponseCache } from '../../cache/index.js';
import type { RequestContext } from '../context.js';
import type { Stage } from '../stage.js';
import { caches } from './caching.js';

export class ReplyCacheStage implements Stage {
  readonly name = 'reply-cache';
  readonly #cache: ResponseCache;

  constructor(cache: ResponseCache) {
    this.#cache = cache;
  }

  run(ctx: RequestContext): void {
    const target = ctx.target;
    if (target === undefined || !ctx.wire.replyCacheable || !caches(target)) return;
    // A routed reply names its route (and carries ids for feedback on routes that take it: never shared).
    const routing = ctx.routing;
    if (routing !== undefined && routing.assignsIds) return;
    const key = this.#cache.replyKey({
      model: target.name,
      version: target.versionLabel,
      contentHash: target.model.cacheIdentity?.() ?? target.contentHash,
      headerLength: routing === undefined ? `${ctx.wire.format}\0${ctx.variant ?? ''}` : `${ctx.wire.format}\0${ctx.variant ?? ''}\0${routing.route}`,
      body: ctx.payload,
    });
    if (key === undefined) return;
    const reply = this.#cache.reply(key, target.name, target.key);
    if (reply) {
      ctx.reply = reply;
      ctx.source = 'reply';
    } else {
      ctx.replyKey = key;
    }
  }

  finish(ctx: RequestContext, error: unknown): void {
    if (error !== undefined || ctx.replyKey === undefined || ctx.reply === undefined) return;
    if (ctx.routing !== undefined && ctx.routing.level !== 0) return; // a fallback's answer is not the target's
    this.#cache.storeReply(ctx.replyKey, ctx.reply, ctx.target!.config.response_cache?.ttl_s);
  }
}
