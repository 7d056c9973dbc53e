// Runs a route's canary: collects what the candidate and the primary did over each interval (one
// LatencyWindow per target), asks the controller (canary.ts) to judge it, and makes the transition:
// new weights at once, the state saved (compare-and-set, so replicas sharing --state-redis apply it
// once; a replica that lost the race adopts the stored state), logged and counted. With a shared
// store every replica also picks up transitions made elsewhere (another replica's check, a management
// call it answered) at its next tick.
import { createHash } from 'node:crypto';
import type { CanaryConfig } from '../repository/routing-schema.js';
import { CanaryController, initialCanaryState, type CanaryAction, type CanaryState, type CanaryTransition } from './canary.js';
import type { StateStore } from './state-store.js';
import { LatencyWindow } from './window.js';

export interface RoutingLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

interface StoredCanary {
  revision: number;
  /** Which rollout the state belongs to: a changed candidate or config starts a new one. */
  spec: string;
  state: CanaryState;
}

export interface CanaryDriverOptions {
  route: string;
  config: CanaryConfig;
  /** What identifies this rollout (candidate model and version, the canary config). */
  specKey: unknown;
  targets: number;
  candidate: number;
  primary: number;
  store: StateStore;
  log: RoutingLogger;
  now: () => number;
  /** Called whenever the candidate's weight may have changed. */
  onWeight: () => void;
}

export class CanaryDriver {
  readonly controller: CanaryController;
  readonly windows: LatencyWindow[];
  readonly candidate: number;
  readonly primary: number;
  /** Transitions by kind, since start (metrics). */
  readonly transitions = new Map<CanaryTransition['kind'], number>();
  /** False until the state could be read from the store: the candidate gets no traffic meanwhile. */
  loaded = false;
  readonly #o: CanaryDriverOptions;
  readonly #spec: string;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #saving: Promise<void> = Promise.resolve();

  constructor(options: CanaryDriverOptions) {
    this.#o = options;
    this.candidate = options.candidate;
    this.primary = options.primary;
    this.#spec = createHash('sha256').update(JSON.stringify(options.specKey)).digest('hex').slice(0, 16);
    this.controller = new CanaryController(options.config, undefined, options.now());
    this.windows = Array.from({ length: options.targets }, () => new LatencyWindow());
  }

  /** The candidate's share now, in percent (0 until the stored state is known). */
  get weight(): number {
    return this.loaded ? this.controller.weight : 0;
  }

  get state(): CanaryState {
    return this.controller.state;
  }

  /** Reads the stored state (or stores a fresh one) and starts the interval timer. */
  async start(): Promise<void> {
    const gates = this.#o.config.gates;
    if (gates.error_rate === undefined && gates.p99_ms === undefined) {
      this.#o.log.warn({ route: this.#o.route }, 'canary has no error_rate or p99_ms gate: it will promote on request counts alone');
    }
    await this.#load().catch((err: Error) => {
      this.#o.log.error({ route: this.#o.route, err: err.message }, 'canary state cannot be read: the candidate gets no traffic until it can');
    });
    this.#timer = setInterval(() => void this.tick(), this.#o.config.interval_s * 1000);
    this.#timer.unref();
  }

  async #load(): Promise<void> {
    const stored = (await this.#o.store.get(this.#o.route, 'canary')) as StoredCanary | undefined;
    if (stored && stored.spec === this.#spec && stored.state && stored.state.step < this.#o.config.steps.length) {
      this.controller.state = stored.state;
      this.#o.log.info({ route: this.#o.route, status: stored.state.status, step: stored.state.step, weight: this.controller.weight }, 'canary resumed from its saved state');
    } else {
      const fresh = initialCanaryState(this.#o.now());
      fresh.revision = (stored?.revision ?? -1) + 1;
      this.controller.state = fresh;
      if (!(await this.#o.store.put(this.#o.route, 'canary', this.#stored(), stored?.revision ?? -1))) {
        return this.#load(); // another replica stored one first: adopt it
      }
      this.#o.log.info({ route: this.#o.route, weight: this.controller.weight, steps: this.#o.config.steps }, stored ? 'canary rollout restarted (its candidate or config changed)' : 'canary rollout started');
    }
    this.loaded = true;
    this.#resetWindows();
    this.#o.onWeight();
  }

  #stored(): StoredCanary {
    return { revision: this.controller.state.revision, spec: this.#spec, state: this.controller.state };
  }

  #resetWindows(): void {
    for (const w of this.windows) w.reset();
  }

  /** One interval's check (the timer calls it; tests may too). */
  async tick(): Promise<void> {
    if (this.#closed) return;
    if (!this.loaded) {
      await this.#load().catch(() => undefined);
      return;
    }
    if (this.#o.store.shared) await this.#adoptStored().catch(() => undefined);
    const candidate = this.windows[this.candidate]!.figures();
    const primary = this.windows[this.primary]!.figures();
    this.#resetWindows();
    const before = this.controller.state.revision;
    const transition = this.controller.check(candidate, primary, this.#o.now());
    if (transition) await this.#commit(transition, before);
    else await this.#save(before); // the check is recorded in the state's history
  }

  /** Shared store: take a newer state written by another replica. */
  async #adoptStored(): Promise<void> {
    const stored = (await this.#o.store.get(this.#o.route, 'canary')) as StoredCanary | undefined;
    if (stored && stored.spec === this.#spec && stored.revision > this.controller.state.revision) {
      const from = this.controller.weight;
      this.controller.state = stored.state;
      if (this.controller.weight !== from) this.#o.onWeight();
    }
  }

  act(action: CanaryAction): Promise<CanaryTransition> {
    const before = this.controller.state.revision;
    const transition = this.controller.act(action, this.#o.now());
    return this.#commit(transition, before).then(() => transition);
  }

  setWeight(percent: number): Promise<CanaryTransition> {
    const before = this.controller.state.revision;
    const transition = this.controller.setWeight(percent, this.#o.now());
    return this.#commit(transition, before).then(() => transition);
  }

  async #commit(t: CanaryTransition, before: number): Promise<void> {
    this.transitions.set(t.kind, (this.transitions.get(t.kind) ?? 0) + 1);
    const level = t.kind === 'rolled_back' ? 'warn' : 'info';
    this.#o.log[level]({ route: this.#o.route, transition: t.kind, from: t.from, to: t.to, reason: t.reason }, `canary ${t.kind.replace('_', ' ')}`);
    this.#resetWindows();
    this.#o.onWeight();
    await this.#save(before);
  }

  /** Saves the state if the stored one is still `before`; else adopts what another replica stored. */
  #save(before: number): Promise<void> {
    const run = this.#saving.then(async () => {
      try {
        const ok = await this.#o.store.put(this.#o.route, 'canary', this.#stored(), before);
        if (!ok) {
          this.#o.log.warn({ route: this.#o.route }, 'canary state changed elsewhere first; adopting the stored state');
          await this.#adoptStoredAnyway();
        }
      } catch (err) {
        this.#o.log.error({ route: this.#o.route, err: (err as Error).message }, 'canary state could not be saved');
      }
    });
    this.#saving = run;
    return run;
  }

  async #adoptStoredAnyway(): Promise<void> {
    const stored = (await this.#o.store.get(this.#o.route, 'canary')) as StoredCanary | undefined;
    if (stored && stored.spec === this.#spec) {
      this.controller.state = stored.state;
      this.#o.onWeight();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#saving;
  }
}
