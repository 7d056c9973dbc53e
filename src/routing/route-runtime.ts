// One route's live state, shared by every loaded copy of its config: the effective weights, the
// decisions, per-target counts, and the optional parts its config asks for — canary driver, bandit and
// A/B feedback, shadow runner, fallback chain. The route stage calls pick() to choose a target and
// record() when the request is over; both are a few µs and allocate nothing on the split's path.
import { join } from 'node:path';
import type { RequestContext } from '../inference/context.js';
import { nowNs } from '../inference/context.js';
import { errorKind, ProtocolError } from '../protocol/errors.js';
import { targetIdOf, type RoutingConfig } from '../repository/routing-schema.js';
import { CanaryDriver, type RoutingLogger } from './canary-driver.js';
import { Decision, targetDecisions, type TargetDecisions } from './decision.js';
import { FallbackChain } from './fallback-chain.js';
import { FeedbackHub } from './feedback.js';
import { hashBytes, hashString, KEY_SEED_A, KEY_SEED_B } from './hash.js';
import { Rendezvous } from './rendezvous.js';
import { Rng } from './rng.js';
import { ShadowRunner, type Leases } from './shadow-runner.js';
import type { StateStore } from './state-store.js';
import { readStaticAnswer } from './static-answer.js';
import { WeightedSplit } from './weighted-split.js';
import { routeReport } from './report.js';

/** The request header that pins a target (when the route allows it). */
export const PIN_HEADER = 'tensorgate-target';

export interface RouteTarget {
  id: string;
  model: string;
  /** undefined: the model's latest version. */
  version: string | undefined;
}

export interface RouteRuntimeOptions {
  name: string;
  spec: RoutingConfig;
  /** The route's directory (static answers and mismatch logs are relative to it). */
  dir: string;
  /** Where the config came from, for messages. */
  where: string;
  store: StateStore;
  leases: () => Leases;
  log: RoutingLogger;
  /** Epoch-ms clock (tests replace it). */
  now: () => number;
}

interface StoredWeights {
  revision: number;
  spec: string;
  weights: number[];
}

export class RouteRuntime {
  readonly name: string;
  readonly spec: RoutingConfig;
  readonly targets: RouteTarget[];
  readonly ids: Map<string, number>;
  readonly primary: number;
  readonly split: WeightedSplit;
  readonly decisions: TargetDecisions[];
  /** Requests routed to each target (level 0), and those that failed there. */
  readonly requests: Float64Array;
  readonly errors: Float64Array;
  /** Sticky requests that carried no key (routed by weight instead). */
  unkeyed = 0;
  readonly canary: CanaryDriver | undefined;
  readonly feedback: FeedbackHub | undefined;
  readonly shadow: ShadowRunner | undefined;
  readonly fallback: FallbackChain | undefined;
  /** Whether pick() reads the decoded request (a sticky parameter or input). */
  readonly needsDecoded: boolean;
  readonly store: StateStore;
  /** Loaded configs using it (RoutingRuntime counts them). */
  refs = 0;
  readonly #base: Float64Array;
  #manual: Float64Array | undefined;
  #weightsRevision = -1;
  readonly #rendezvous: Rendezvous | undefined;
  readonly #rng: Rng;
  readonly #log: RoutingLogger;
  readonly #now: () => number;
  readonly #weightSpec: string;

  constructor(o: RouteRuntimeOptions) {
    const spec = o.spec;
    this.name = o.name;
    this.spec = spec;
    this.store = o.store;
    this.#log = o.log;
    this.#now = o.now;
    this.#rng = new Rng(spec.seed);
    this.targets = spec.targets.map((t) => ({ id: targetIdOf(t), model: t.model, version: t.version === undefined ? undefined : String(t.version) }));
    const ids = this.targets.map((t) => t.id);
    this.ids = new Map(ids.map((id, i) => [id, i]));
    this.primary = spec.primary !== undefined ? this.ids.get(spec.primary)! : spec.canary ? (ids[0] === spec.canary.candidate ? 1 : 0) : 0;
    const n = this.targets.length;
    this.requests = new Float64Array(n);
    this.errors = new Float64Array(n);
    this.#base = Float64Array.from(spec.targets, (t) => t.weight ?? 1);
    this.#weightSpec = ids.join(',');
    const candidate = spec.canary ? this.ids.get(spec.canary.candidate)! : -1;
    if (candidate >= 0) this.#base[candidate] = 0;
    this.split = new WeightedSplit(this.#base);
    this.#rendezvous = spec.sticky ? new Rendezvous(ids) : undefined;
    this.needsDecoded = spec.sticky?.parameter !== undefined || spec.sticky?.input !== undefined;
    const assignsIds = spec.bandit !== undefined || spec.ab !== undefined || spec.feedback !== undefined;
    this.decisions = ids.map((id, i) => targetDecisions(o.name, id, i, assignsIds));

    this.canary = spec.canary
      ? new CanaryDriver({
          route: o.name,
          config: spec.canary,
          specKey: { canary: spec.canary, candidate: spec.targets[candidate], primary: spec.targets[this.primary] },
          targets: n,
          candidate,
          primary: this.primary,
          store: o.store,
          log: o.log,
          now: o.now,
          onWeight: () => this.#applyWeights(),
        })
      : undefined;
    const control = spec.ab?.control !== undefined ? this.ids.get(spec.ab.control)! : this.primary;
    this.feedback = assignsIds ? new FeedbackHub(o.name, spec, ids, control, this.#rng, o.store, o.log, o.now) : undefined;
    this.shadow = spec.shadow ? new ShadowRunner(o.name, spec.shadow, o.dir, o.leases, this.#rng, o.log) : undefined;
    this.fallback = spec.fallback ? this.#fallbackChain(spec, o) : undefined;
    for (const d of this.decisions) for (const k of ['weight', 'sticky', 'pinned', 'bandit'] as const) d[k].owner = this;
    this.#applyWeights();
  }

  #fallbackChain(spec: RoutingConfig, o: RouteRuntimeOptions): FallbackChain {
    const config = spec.fallback!;
    const levels = config.targets.map((t, i) => new Decision(o.name, targetIdOf(t), 'fallback', i, i + 1, false));
    for (const d of levels) d.owner = this;
    const answer = config.static !== undefined ? readStaticAnswer(join(o.dir, config.static), `${o.where}: routing.fallback.static`) : undefined;
    let staticDecision: Decision | undefined;
    if (answer) {
      staticDecision = new Decision(o.name, 'static', 'static', -1, config.targets.length + 1, false);
      staticDecision.answer = { name: o.name, versionLabel: 'static', outputOrder: answer.order };
      staticDecision.owner = this;
    }
    const chain = new FallbackChain(config, this.targets.length, levels, answer, staticDecision, o.leases, o.now, (index, ms) => this.#chosenFailed(index, ms));
    for (const d of this.decisions) for (const k of ['weight', 'sticky', 'pinned', 'bandit'] as const) d[k].fallback = chain;
    return chain;
  }

  /** Loads what the store kept (weights set by hand, the rollout, the learned statistics) and starts the timers. */
  async start(): Promise<void> {
    try {
      const stored = (await this.store.get(this.name, 'weights')) as StoredWeights | undefined;
      if (stored && stored.spec === this.#weightSpec && stored.weights.length === this.targets.length) {
        this.#manual = Float64Array.from(stored.weights);
        this.#weightsRevision = stored.revision;
        this.#applyWeights();
      }
    } catch (err) {
      this.#log.error({ route: this.name, err: (err as Error).message }, 'saved route weights cannot be read: using the configured ones');
    }
    await this.canary?.start();
    await this.feedback?.start();
  }

  /** The weights now: configured (or set by hand), with the canary's share for its candidate. */
  #applyWeights(): void {
    const base = this.#manual ?? this.#base;
    const canary = this.canary;
    if (!canary) {
      this.split.set(base);
      return;
    }
    // The candidate gets its percent; the others share the rest in their proportions (a common
    // factor, so sticky keys only ever move into or out of the candidate).
    const p = canary.weight;
    let others = 0;
    for (let i = 0; i < base.length; i++) if (i !== canary.candidate) others += base[i]!;
    const w = new Float64Array(base.length);
    for (let i = 0; i < base.length; i++) w[i] = i === canary.candidate ? p : others > 0 ? ((100 - p) * base[i]!) / others : 0;
    this.split.set(w);
  }

  // --- the request path -----------------------------------------------------------------------

  /** Chooses the target of a request. Throws 400 for a pin the route does not allow or know. */
  pick(ctx: RequestContext): Decision {
    const pin = ctx.header(PIN_HEADER);
    if (pin !== undefined) return this.#pinned(pin);
    let i: number;
    let d: Decision;
    const bandit = this.feedback?.bandit;
    if (bandit !== undefined) {
      i = bandit.choose();
      d = this.decisions[i]!.bandit;
    } else {
      i = this.#rendezvous !== undefined ? this.#sticky(ctx) : -1;
      if (i >= 0) {
        d = this.decisions[i]!.sticky;
      } else {
        i = this.split.pick(this.#rng.next());
        if (i < 0) throw new ProtocolError('UNAVAILABLE', `route '${this.name}' has no target with a weight above 0`);
        d = this.decisions[i]!.weight;
      }
    }
    this.requests[i]!++;
    return d;
  }

  #pinned(pin: string): Decision {
    if (!this.spec.allow_pin) throw new ProtocolError('INVALID_ARGUMENT', `route '${this.name}' does not allow pinning a target (${PIN_HEADER}); set routing.allow_pin`);
    const i = this.ids.get(pin);
    if (i === undefined) throw new ProtocolError('INVALID_ARGUMENT', `${PIN_HEADER}: route '${this.name}' has no target '${pin}' (targets: ${[...this.ids.keys()].join(', ')})`);
    this.requests[i]!++;
    return this.decisions[i]!.pinned;
  }

  /** The sticky target of the request's key; -1 when it has none (then the weights decide). */
  #sticky(ctx: RequestContext): number {
    const sticky = this.spec.sticky!;
    let a: number;
    let b: number;
    if (sticky.header !== undefined) {
      const v = ctx.header(sticky.header);
      if (v === undefined || v === '') return this.#noKey();
      a = hashString(v, KEY_SEED_A);
      b = hashString(v, KEY_SEED_B);
    } else if (sticky.parameter !== undefined) {
      const v = ctx.decoded!.parameters[sticky.parameter];
      if (v === undefined || v === null || v === '') return this.#noKey();
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      a = hashString(text, KEY_SEED_A);
      b = hashString(text, KEY_SEED_B);
    } else {
      const tensor = ctx.decoded!.inputs[sticky.input!];
      if (tensor === undefined) return this.#noKey();
      const data = tensor.data;
      if (Array.isArray(data)) {
        a = KEY_SEED_A;
        b = KEY_SEED_B;
        for (const e of data as Array<string | Uint8Array>) {
          a = typeof e === 'string' ? hashString(e, a) : hashBytes(e, a);
          b = typeof e === 'string' ? hashString(e, b) : hashBytes(e, b);
        }
      } else {
        const view = data as ArrayBufferView;
        const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        a = hashBytes(bytes, KEY_SEED_A);
        b = hashBytes(bytes, KEY_SEED_B);
      }
    }
    return this.#rendezvous!.pick(a, b, this.split.weights);
  }

  #noKey(): number {
    this.unkeyed++;
    return -1;
  }

  /**
   * The request is over: its outcome counts for the target that served it (canary windows, errors),
   * its id is remembered for feedback, and it is offered to the shadows. `error` is its failure.
   */
  record(ctx: RequestContext, d: Decision, error: unknown): void {
    if (d.level === 0) {
      // A request that failed before its inputs were read is the client's fault, as is a cancel.
      const failed = error !== undefined && ctx.decoded !== undefined && errorKind(error) !== 'CANCELLED';
      if (failed) this.errors[d.index]!++;
      this.canary?.windows[d.index]!.record((nowNs() - ctx.startNs) / 1e6, failed);
      if (error === undefined && this.feedback !== undefined) {
        const id = ctx.decoded?.id ?? ctx.assignedId;
        if (id !== undefined) this.feedback.remember(id, d.index);
      }
    }
    const shadow = this.shadow;
    if (shadow !== undefined && d.level === 0 && error === undefined && ctx.outputs !== undefined && ctx.decoded !== undefined) {
      const requested = ctx.decoded.outputs;
      shadow.offer(ctx.decoded.id ?? ctx.assignedId, ctx.decoded.inputs, requested?.map((o) => o.name), ctx.outputs, d.target, (nowNs() - ctx.startNs) / 1e6);
    }
  }

  /** The fallback chain moved on from the chosen target: that is the chosen target's failure. */
  #chosenFailed(index: number, ms: number): void {
    this.errors[index]!++;
    this.canary?.windows[index]!.record(ms, true);
  }

  // --- management -----------------------------------------------------------------------------

  /** Sets the split's weights by target id (a canary route: the candidate's weight only). */
  async setWeights(weights: Record<string, unknown>): Promise<void> {
    const entries = Object.entries(weights);
    if (entries.length === 0) throw new ProtocolError('INVALID_ARGUMENT', "'weights' must name at least one target");
    for (const [id, w] of entries) {
      if (!this.ids.has(id)) throw new ProtocolError('INVALID_ARGUMENT', `route '${this.name}' has no target '${id}' (targets: ${[...this.ids.keys()].join(', ')})`);
      if (typeof w !== 'number' || !(w >= 0) || !Number.isFinite(w)) throw new ProtocolError('INVALID_ARGUMENT', `weights.${id}: expected a non-negative number`);
    }
    if (this.feedback?.bandit) throw new ProtocolError('FAILED_PRECONDITION', `route '${this.name}' is a bandit: it chooses its targets itself`);
    if (this.canary) {
      const candidate = this.targets[this.canary.candidate]!.id;
      if (entries.length !== 1 || entries[0]![0] !== candidate) {
        throw new ProtocolError('INVALID_ARGUMENT', `route '${this.name}' is a canary: set the candidate's weight only ({"${candidate}": percent}); the others share the rest`);
      }
      const percent = entries[0]![1] as number;
      if (percent > 100) throw new ProtocolError('INVALID_ARGUMENT', `weights.${candidate}: a canary weight is a percentage (0..100)`);
      await this.canary.setWeight(percent);
      return;
    }
    const next = Float64Array.from(this.#manual ?? this.#base);
    for (const [id, w] of entries) next[this.ids.get(id)!] = w as number;
    if (next.every((w) => w === 0)) throw new ProtocolError('INVALID_ARGUMENT', 'at least one weight must be above 0');
    this.#manual = next;
    this.#applyWeights();
    const revision = this.#weightsRevision + 1;
    const value: StoredWeights = { revision, spec: this.#weightSpec, weights: [...next] };
    await this.store.put(this.name, 'weights', value);
    this.#weightsRevision = revision;
    this.#log.info({ route: this.name, weights: Object.fromEntries(this.targets.map((t, i) => [t.id, next[i]])) }, 'route weights set by the management API');
  }

  /** The route's state for GET /v2/models/{route}/routing (report.ts). */
  report(): Record<string, unknown> {
    return routeReport(this);
  }

  async close(): Promise<void> {
    await Promise.all([this.canary?.close(), this.feedback?.close(), this.shadow?.close()]);
  }
}
