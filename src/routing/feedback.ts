// Feedback by request id: the route remembers which target served each id (feedback-ledger.ts), and
// POST /v2/models/{route}/feedback credits it — a bandit reward (bandit.ts) and/or business outcomes
// for the A/B report (outcomes.ts). Delayed feedback is fine within the ttl; a duplicate (the same id
// and kind twice) and an unknown id (never served, expired or evicted) are refused and counted.
// The counters behind both are synced to the state store: added to the shared totals (Redis) every
// second, or saved whole to the state file every few seconds (and on close), so they survive a restart.
import type { BanditConfig, FeedbackConfig, RoutingConfig } from '../repository/routing-schema.js';
import { Bandit } from './bandit.js';
import type { RoutingLogger } from './canary-driver.js';
import type { SharedCounters } from './counters.js';
import { FeedbackLedger } from './feedback-ledger.js';
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

  remember(id: string, target: number): void {
    this.ledger.remember(id, target, this.#now());
  }

  #count(kind: string, result: FeedbackResult): void {
    let m = this.results.get(kind);
    if (!m) this.results.set(kind, (m = new Map()));
    m.set(result, (m.get(result) ?? 0) + 1);
  }

  /** Applies a batch of feedback items; never throws for one bad item (its result says why). */
  apply(items: readonly unknown[]): FeedbackItemResult[] {
    const now = this.#now();
    return items.map((raw) => {
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
      if (item.reward !== undefined) out.reward = this.#reward(id, item.reward, now, errors);
      if (item.outcomes !== undefined) out.outcomes = this.#outcomes(id, item.outcomes, now, errors);
      if (errors.length) out.error = errors.join('; ');
      return out;
    });
  }

  #reward(id: string, reward: unknown, now: number, errors: string[]): FeedbackResult {
    const bandit = this.bandit;
    if (!bandit) {
      errors.push('this route has no bandit: it takes outcomes, not rewards');
      this.#count('reward', 'invalid');
      return 'invalid';
    }
    const bounded = !(bandit.config.policy === 'thompson' && bandit.config.reward === 'gaussian');
    if (typeof reward !== 'number' || !Number.isFinite(reward) || (bounded && (reward < 0 || reward > 1))) {
      errors.push(bounded ? "'reward' must be a number in [0, 1] for this policy" : "'reward' must be a finite number");
      this.#count('reward', 'invalid');
      return 'invalid';
    }
    const claim = this.ledger.claim(id, 0, now);
    this.#count('reward', claim.result);
    if (claim.result === 'accepted') bandit.reward(claim.target, reward);
    return claim.result;
  }

  #outcomes(id: string, raw: unknown, now: number, errors: string[]): Record<string, FeedbackResult> {
    const stats = this.outcomes;
    const out: Record<string, FeedbackResult> = {};
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      errors.push("'outcomes' must be an object {name: value}");
      this.#count('outcomes', 'invalid');
      return out;
    }
    for (const [name, value] of Object.entries(raw)) {
      const k = stats?.outcomeIndex(name);
      if (stats === undefined || k === undefined) {
        errors.push(stats ? `unknown outcome '${name}' (this route declares ${stats.config.outcomes.map((o) => o.name).join(', ')})` : 'this route declares no outcomes (routing.ab)');
        out[name] = 'invalid';
        this.#count('outcomes', 'invalid');
        continue;
      }
      const x = stats.value(k, value);
      if (typeof x === 'string') {
        errors.push(x);
        out[name] = 'invalid';
        this.#count(name, 'invalid');
        continue;
      }
      const claim = this.ledger.claim(id, 1 + k, now);
      this.#count(name, claim.result);
      if (claim.result === 'accepted') stats.add(k, claim.target, x);
      out[name] = claim.result;
    }
    return out;
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
    await this.sync();
  }
}
