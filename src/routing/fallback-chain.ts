// A route's fallback chain: the target the route chose, then each fallback target in order, then the
// static answer. Each level has its own timeout and circuit breaker (breaker.ts): a level that fails,
// times out or has its breaker open hands the request to the next one at once. A client error
// (input the chosen target rejects, a cancelled request) is the client's answer, not a reason to fall
// back. The execute stage calls run() for routes that have a chain; the request's lease follows the
// level that answers (ctx.target), and a timed-out attempt keeps its own lease until it settles.
import { TensorgateError, type InferOptions } from '../engine/index.js';
import { nowNs, type RequestContext } from '../inference/context.js';
import { errorKind } from '../protocol/errors.js';
import type { ServedVersion } from '../repository/index.js';
import type { FallbackConfig } from '../repository/routing-schema.js';
import { targetIdOf } from '../repository/routing-schema.js';
import { CircuitBreaker } from './breaker.js';
import type { Decision } from './decision.js';
import type { Leases } from './shadow-runner.js';
import type { StaticAnswer } from './static-answer.js';

interface Level {
  id: string;
  model: string;
  version: string | undefined;
  timeoutMs: number | undefined;
  breaker: CircuitBreaker;
  decision: Decision;
}

export class FallbackChain {
  readonly config: FallbackConfig;
  /** One breaker per target of the route (level 0, whichever the route chose). */
  readonly primaryBreakers: CircuitBreaker[];
  readonly levels: Level[];
  readonly staticAnswer: StaticAnswer | undefined;
  readonly staticDecision: Decision | undefined;
  /** Requests answered per level (0: the chosen target; levels.length + 1: static); and failed ones. */
  readonly answered: Float64Array;
  failedAll = 0;
  readonly #leases: () => Leases;
  readonly #now: () => number;
  readonly #chosenFailed: (index: number, ms: number) => void;

  constructor(
    config: FallbackConfig,
    targetCount: number,
    decisions: Decision[],
    staticAnswer: StaticAnswer | undefined,
    staticDecision: Decision | undefined,
    leases: () => Leases,
    now: () => number,
    /** The chosen target failed and the chain moved on (its failure counts for it: canary, errors). */
    chosenFailed: (index: number, ms: number) => void,
  ) {
    this.#chosenFailed = chosenFailed;
    this.config = config;
    const cooldown = config.breaker.cooldown_s * 1000;
    this.primaryBreakers = Array.from({ length: targetCount }, () => new CircuitBreaker(config.breaker.failures, cooldown));
    this.levels = config.targets.map((t, i) => ({
      id: targetIdOf(t),
      model: t.model,
      version: t.version === undefined ? undefined : String(t.version),
      timeoutMs: t.timeout_ms,
      breaker: new CircuitBreaker(config.breaker.failures, cooldown),
      decision: decisions[i]!,
    }));
    this.staticAnswer = staticAnswer;
    this.staticDecision = staticDecision;
    this.answered = new Float64Array(config.targets.length + 2);
    this.#leases = leases;
    this.#now = now;
  }

  async run(ctx: RequestContext, options: InferOptions): Promise<void> {
    const chosen = ctx.routing as Decision;
    const breaker = this.primaryBreakers[chosen.index]!;
    let lastError: unknown = ctx.target === undefined ? new TensorgateError('UNAVAILABLE', `target '${chosen.target}' is not available`) : undefined;
    if (ctx.target !== undefined) {
      if (breaker.allow(this.#now())) {
        const error = await this.#attempt(ctx, ctx.target, this.config.timeout_ms, options);
        if (error === undefined) {
          breaker.success();
          this.answered[0]!++;
          return;
        }
        if (isClientError(error)) throw error; // the request's own fault: same answer at any level
        breaker.failure(this.#now());
        this.#chosenFailed(chosen.index, (nowNs() - ctx.startNs) / 1e6);
        lastError = error;
      } else {
        this.#leases().release(ctx.target);
        lastError = new TensorgateError('UNAVAILABLE', `target '${chosen.target}' is skipped: its circuit breaker is open`);
      }
      ctx.target = undefined;
    } else {
      breaker.failure(this.#now());
      this.#chosenFailed(chosen.index, (nowNs() - ctx.startNs) / 1e6);
    }
    for (let i = 0; i < this.levels.length; i++) {
      const level = this.levels[i]!;
      if (!level.breaker.allow(this.#now())) continue;
      let served: ServedVersion;
      try {
        served = await this.#leases().acquire(level.model, level.version);
      } catch (err) {
        level.breaker.failure(this.#now());
        lastError = err;
        continue;
      }
      const error = await this.#attempt(ctx, served, level.timeoutMs, options);
      if (error === undefined) {
        level.breaker.success();
        this.answered[i + 1]!++;
        ctx.routing = level.decision;
        return;
      }
      ctx.target = undefined;
      if (errorKind(error) === 'CANCELLED') throw error; // the client is gone
      level.breaker.failure(this.#now());
      lastError = error;
    }
    if (this.staticAnswer) {
      ctx.outputs = this.staticAnswer.outputs;
      ctx.source = 'compute';
      ctx.routing = this.staticDecision;
      this.answered[this.levels.length + 1]!++;
      return;
    }
    this.failedAll++;
    // Counted already (the chosen target's failure): leave the decision at the last level tried.
    if (this.levels.length > 0) ctx.routing = this.levels[this.levels.length - 1]!.decision;
    throw lastError;
  }

  /**
   * Runs the request on `served` (which becomes ctx.target) within `timeoutMs`; returns the error, or
   * undefined with ctx.outputs set. On failure ctx.target's lease is given up (at once, or when a
   * timed-out inference settles).
   */
  async #attempt(ctx: RequestContext, served: ServedVersion, timeoutMs: number | undefined, options: InferOptions): Promise<unknown> {
    ctx.target = served;
    const inputs = ctx.decoded!.inputs;
    if (timeoutMs === undefined) {
      try {
        ctx.outputs = await served.model.infer(inputs, options);
        ctx.source = 'compute';
        return undefined;
      } catch (err) {
        this.#leases().release(served);
        return err;
      }
    }
    const abort = new AbortController();
    const client = options.signal;
    const forward = () => abort.abort(client?.reason);
    client?.addEventListener('abort', forward, { once: true });
    const running = served.model.infer(inputs, { ...options, signal: abort.signal });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      const result = await Promise.race([running, expired]);
      if (result === 'timeout') {
        abort.abort(new Error('fallback level timeout')); // dropped if still queued
        running.then(
          () => this.#leases().release(served),
          () => this.#leases().release(served),
        );
        return new TensorgateError('TIMEOUT', `target '${served.name}' took longer than ${timeoutMs} ms`);
      }
      ctx.outputs = result;
      ctx.source = 'compute';
      return undefined;
    } catch (err) {
      this.#leases().release(served);
      return err;
    } finally {
      clearTimeout(timer);
      client?.removeEventListener('abort', forward);
    }
  }
}

function isClientError(err: unknown): boolean {
  const kind = errorKind(err);
  return kind === 'INVALID_ARGUMENT' || kind === 'CANCELLED';
}
