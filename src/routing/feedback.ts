// Feedback by request id: the route remembers which target served each id (feedback-ledger.ts, or
// the shared store when replicas share Redis, so that any replica takes the feedback), and
// POST /v2/models/{route}/feedback credits it — a bandit reward (bandit.ts) and/or business outcomes
// for the A/B report (outcomes.ts). Delayed feedback is fine within the ttl; a duplicate (the same id
// and kind twice) and an unknown id (never served, expired or evicted) are refused and counted.
// The counters behind both are synced to the state store: added to the shared totals (Redis) every
// second, or saved whole to the state file every few seconds (and on close), so they survive a restart.
import { ProtocolError } from '../protocol/errors.js';
import type { BanditConfig, FeedbackConfig, RoutingConfig } from '../repository/routing-schema.js';
import { Bandit } from './bandit.js';
import type { RoutingLogger } from './canary-driver.js';
import type { SharedCounters } from './counters.js';
import { FeedbackLedger, type ClaimResult } from './feedback-ledger.js';
import { OutcomeStats } from './outcomes.js';
import type { Rng } from './rng.js';
import type { StateStore } from './state-store.js';

export interface FeedbackItem {
  id: string;
  reward?: number;
  outcomes?: Record<string, unknown>;
}

export type FeedbackResult = 'accepted' | 'duplicate' | 'unknown' | 'invalid';

export interface FeedbackItemResult {
  id: string;
  /** The bandit reward's result, when the item carried one. */
  reward?: FeedbackResult;
  /** Each outcome's result. */
  outcomes?: Record<string, FeedbackResult>;
  /** Why an item or part of it was invalid. */
  error?: string;
}

const DEFAULT_FEEDBACK: FeedbackConfig = { ttl_s: 3600, max_ids: 100_000 };
/**
 * Shared store: the ids remembered in one turn of the event loop go out as one pipeline (up to this
 * many), right after the replies are written: before the client can send feedback elsewhere.
 */
const REMEMBER_BATCH = 512;

/** One claim of a feedback item: its reward (kind 0) or one of its outcomes (kind 1 + k). */
interface Part {
  item: number;
  id: string;
  kind: number;
  label: string;
  value: number;
}
const SHARED_SYNC_MS = 1000;
const FILE_SAVE_MS = 5000;

export class FeedbackHub {
  readonly ledger: FeedbackLedger;
  readonly bandit: Bandit | undefined;
  readonly outcomes: OutcomeStats | undefined;
  /** Results by kind ('reward' or the outcome's name) and result, since start (metrics). */
  readonly results = new Map<string, Map<FeedbackResult, number>>();
  readonly #route: string;
  readonly #store: StateStore;
  readonly #log: RoutingLogger;
  readonly #now: () => number;
  readonly #counters: SharedCounters[];
  /** Replicas share the store: the id → target record lives there too (any replica takes the feedback). */
  readonly #shared: boolean;
  /** Ids to store, as id, target, id, target... (one flat array: no object per request). */
  #pending: Array<string | number> = [];
  #flushTimer: NodeJS.Immediate | undefined;
  #flushing: Promise<void> = Promise.resolve();
  /** Ids that could not be stored (the shared store failed). */
  idsLost = 0;

  /** Whether the id → target record is the shared store's (any replica takes the feedback). */
  get shared(): boolean {
    return this.#shared;
  }
  #timer: NodeJS.Timeout | undefined;
  #syncing: Promise<void> = Promise.resolve();

  constructor(route: string, spec: RoutingConfig, targets: readonly string[], control: number, rng: Rng, store: StateStore, log: RoutingLogger, now: () => number) {
    const config = spec.feedback ?? DEFAULT_FEEDBACK;
    this.ledger = new FeedbackLedger(config.ttl_s * 1000, config.max_ids);
    this.bandit = spec.bandit ? new Bandit(spec.bandit as BanditConfig, targets, rng) : undefined;
    this.outcomes = spec.ab ? new OutcomeStats(spec.ab, targets, control) : undefined;
    this.#route = route;
    this.#store = store;
    this.#log = log;
    this.#now = now;
    this.#counters = [this.bandit?.counters, this.outcomes?.counters].filter((c): c is SharedCounters => c !== undefined);
    this.#shared = store.shared;
  }

  /** Loads the saved counters and starts syncing them. */
  async start(): Promise<void> {
    try {
      if (this.#store.shared) {
        await this.#sync();
      } else {
        const saved = (await this.#store.get(this.#route, 'counters')) as { totals?: Record<string, number> } | undefined;
        if (saved?.totals) for (const c of this.#counters) c.setTotals(saved.totals);
      }
    } catch (err) {
      this.#log.error({ route: this.#route, err: (err as Error).message }, 'saved bandit / outcome statistics cannot be read: starting from none');
    }
    this.#timer = setInterval(() => void this.sync(), this.#store.shared ? SHARED_SYNC_MS : FILE_SAVE_MS);
    this.#timer.unref();
  }

  /** Records that request `id` was served by `target` (locally, or batched to the shared store). */
  remember(id: string, target: number): void {
    if (this.#shared) {
      this.#pending.push(id, target);
      if (this.#pending.length >= REMEMBER_BATCH * 2) this.#flushIds();
      else this.#flushTimer ??= setImmediate(() => this.#flushIds());
      return;
    }
    this.ledger.remember(id, target, this.#now());
  }

  /** Shared store: sends the ids remembered since the last flush (one pipeline). */
  #flushIds(): void {
    if (this.#flushTimer) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.length === 0) return;
    const entries: Array<[string, number]> = [];
    const p = this.#pending;
    for (let i = 0; i < p.length; i += 2) entries.push([p[i] as string, p[i + 1] as number]);
    this.#pending = [];
    const flushing = this.#store.rememberIds!(this.#route, entries, this.ledger.ttlMs).catch((err: Error) => {
      this.idsLost += entries.length;
      this.#log.warn({ route: this.#route, ids: entries.length, err: err.message }, 'request ids could not be stored for feedback');
    });
    this.#flushing = this.#flushing.then(() => flushing);
  }

  #count(kind: string, result: FeedbackResult): void {
    let m = this.results.get(kind);
    if (!m) this.results.set(kind, (m = new Map()));
    m.set(result, (m.get(result) ?? 0) + 1);
  }

  /**
   * Applies a batch of feedback items; never fails for one bad item (its result says why). Items are
   * checked first, then every claim is made at once (one round trip to a shared store).
   */
  async apply(items: readonly unknown[]): Promise<FeedbackItemResult[]> {
    const results: FeedbackItemResult[] = [];
    const parts: Part[] = [];
    items.forEach((raw, i) => results.push(this.#check(raw, i, parts)));
    const claims = await this.#claim(parts);
    parts.forEach((part, i) => {
      const claim = claims[i]!;
      this.#count(part.label, claim.result);
      const result = results[part.item]!;
      if (part.kind === 0) result.reward = claim.result;
      else (result.outcomes ??= {})[part.label] = claim.result;
      if (claim.result !== 'accepted') return;
      if (part.kind === 0) this.bandit!.reward(claim.target, part.value);
      else this.outcomes!.add(part.kind - 1, claim.target, part.value);
    });
    return results;
  }

  async #claim(parts: Part[]): Promise<ClaimResult[]> {
    if (parts.length === 0) return [];
    if (!this.#shared) {
      const now = this.#now();
      return parts.map((p) => this.ledger.claim(p.id, p.kind, now));
    }
    this.#flushIds(); // ids served a moment ago must be there before they are claimed
    await this.#flushing;
    try {
      return await this.#store.claimIds!(this.#route, parts.map((p) => [p.id, p.kind]), this.ledger.ttlMs);
    } catch (err) {
      throw new ProtocolError('UNAVAILABLE', `feedback could not be recorded: the state store is unreachable (${(err as Error).message}); retry`);
    }
  }

  /** Checks one item; its valid parts go to `parts`, the rest is answered in the result. */
  #check(raw: unknown, index: number, parts: Part[]): FeedbackItemResult {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      this.#count('item', 'invalid');
      return { id: '', error: 'each feedback item is an object {"id": ..., "reward": ..., "outcomes": {...}}' };
    }
    const item = raw as Record<string, unknown>;
    const id = item.id;
    if (typeof id !== 'string' || id === '') {
      this.#count('item', 'invalid');
      return { id: '', error: "'id' must be the request's id (a non-empty string)" };
    }
    for (const key of Object.keys(item)) {
      if (key !== 'id' && key !== 'reward' && key !== 'outcomes') {
        this.#count('item', 'invalid');
        return { id, error: `unknown field '${key}' (expected id, reward, outcomes)` };
      }
    }
    if (item.reward === undefined && item.outcomes === undefined) {
      this.#count('item', 'invalid');
      return { id, error: "give 'reward' and/or 'outcomes'" };
    }
    const out: FeedbackItemResult = { id };
    const errors: string[] = [];
    if (item.reward !== undefined) this.#checkReward(index, id, item.reward, out, errors, parts);
    if (item.outcomes !== undefined) this.#checkOutcomes(index, id, item.outcomes, out, errors, parts);
    if (errors.length) out.error = errors.join('; ');
    return out;
  }

  #checkReward(index: number, id: string, reward: unknown, out: FeedbackItemResult, errors: string[], parts: Part[]): void {
    const bandit = this.bandit;
    if (!bandit) {
      errors.push('this route has no bandit: it takes outcomes, not rewards');
      this.#count('reward', 'invalid');
      out.reward = 'invalid';
      return;
    }
    const bounded = !(bandit.config.policy === 'thompson' && bandit.config.reward === 'gaussian');
    if (typeof reward !== 'number' || !Number.isFinite(reward) || (bounded && (reward < 0 || reward > 1))) {
      errors.push(bounded ? "'reward' must be a number in [0, 1] for this policy" : "'reward' must be a finite number");
      this.#count('reward', 'invalid');
      out.reward = 'invalid';
      return;
    }
    parts.push({ item: index, id, kind: 0, label: 'reward', value: reward });
  }

  #checkOutcomes(index: number, id: string, raw: unknown, out: FeedbackItemResult, errors: string[], parts: Part[]): void {
    const stats = this.outcomes;
    const results: Record<string, FeedbackResult> = (out.outcomes = {});
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      errors.push("'outcomes' must be an object {name: value}");
      this.#count('outcomes', 'invalid');
      return;
    }
    for (const [name, value] of Object.entries(raw)) {
      const k = stats?.outcomeIndex(name);
      if (stats === undefined || k === undefined) {
        errors.push(stats ? `unknown outcome '${name}' (this route declares ${stats.config.outcomes.map((o) => o.name).join(', ')})` : 'this route declares no outcomes (routing.ab)');
        results[name] = 'invalid';
        this.#count('outcomes', 'invalid');
        continue;
      }
      const x = stats.value(k, value);
      if (typeof x === 'string') {
        errors.push(x);
        results[name] = 'invalid';
        this.#count(name, 'invalid');
        continue;
      }
      parts.push({ item: index, id, kind: 1 + k, label: name, value: x });
    }
  }

  /** Pushes this replica's counts to the store (and reads the shared totals back). */
  sync(): Promise<void> {
    const run = this.#syncing.then(() => this.#sync()).catch((err: Error) => {
      this.#log.warn({ route: this.#route, err: err.message }, 'bandit / outcome statistics could not be synced; retrying');
    });
    this.#syncing = run;
    return run;
  }

  async #sync(): Promise<void> {
    if (this.#store.shared) {
      const deltas: Record<string, number> = {};
      const taken = this.#counters.map((c) => c.takeDeltas());
      for (const d of taken) Object.assign(deltas, d);
      try {
        const totals = await this.#store.addCounters(this.#route, deltas);
        for (const c of this.#counters) c.setTotals(totals);
      } catch (err) {
        this.#counters.forEach((c, i) => c.restoreDeltas(taken[i]!));
        throw err;
      }
    } else if (this.#counters.some((c) => c.dirty)) {
      const totals: Record<string, number> = {};
      for (const c of this.#counters) {
        c.takeDeltas();
        Object.assign(totals, c.totals());
      }
      await this.#store.put(this.#route, 'counters', { totals });
    }
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#flushIds();
    await this.#flushing;
    await this.sync();
  }
}
