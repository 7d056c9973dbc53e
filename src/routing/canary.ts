// The canary controller: a pure state machine over the rollout of one candidate (Flagger's analysis,
// Argo's steps). The route's runtime calls check() once per interval with what the candidate and the
// primary did over it; the controller answers with the transition to make, if any:
//
//   progressing ──pass──> next step ──pass at the last step──> promoted (100 %)
//        │  ╰─fail (consecutive failures reach the threshold)─> rolled_back (0 %)
//        ╰─inconclusive (too few candidate requests): nothing moves
//   pause / resume / promote / rollback / restart / a manual weight come from the management API.
//
// While paused nothing moves by itself (the operator holds the rollout); checks are still recorded.
// The state is plain JSON so it persists (state-store.ts) and a restart resumes the same step.
import type { CanaryConfig } from '../repository/routing-schema.js';
import type { WindowFigures } from './window.js';

export type CanaryStatus = 'progressing' | 'paused' | 'promoted' | 'rolled_back';

export interface CanaryCheck {
  /** Epoch ms. */
  at: number;
  step: number;
  weight: number;
  result: 'pass' | 'fail' | 'inconclusive';
  candidate: WindowFigures;
  primary: WindowFigures;
  /** The gates that failed, in words. */
  failed: string[];
}

export interface CanaryState {
  status: CanaryStatus;
  /** Index into the steps. */
  step: number;
  /** Consecutive failed checks. */
  failures: number;
  /** A weight set by hand (pauses the rollout); undefined: the step's. */
  manual_weight?: number | undefined;
  /** The most recent checks, newest last. */
  checks: CanaryCheck[];
  /** Bumped by every transition: replicas sharing a state store apply a change once. */
  revision: number;
  /** Epoch ms of the last transition. */
  since: number;
}

export type CanaryAction = 'pause' | 'resume' | 'promote' | 'rollback' | 'restart';

export interface CanaryTransition {
  kind: 'step' | 'promoted' | 'rolled_back' | 'paused' | 'resumed' | 'restarted' | 'weight';
  from: { status: CanaryStatus; step: number; weight: number };
  to: { status: CanaryStatus; step: number; weight: number };
  reason: string;
}

const KEEP_CHECKS = 20;

export function initialCanaryState(now: number): CanaryState {
  return { status: 'progressing', step: 0, failures: 0, checks: [], revision: 0, since: now };
}

export class CanaryController {
  readonly config: CanaryConfig;
  state: CanaryState;

  constructor(config: CanaryConfig, state: CanaryState | undefined, now: number) {
    this.config = config;
    this.state = state && state.step < config.steps.length ? state : initialCanaryState(now);
  }

  /** The candidate's share of traffic now, in percent. */
  get weight(): number {
    const s = this.state;
    switch (s.status) {
      case 'promoted':
        return 100;
      case 'rolled_back':
        return 0;
      default:
        return s.manual_weight ?? this.config.steps[s.step]!;
    }
  }

  /** Judges one interval. Returns the transition it causes (undefined: none). */
  check(candidate: WindowFigures, primary: WindowFigures, now: number): CanaryTransition | undefined {
    const s = this.state;
    if (s.status === 'promoted' || s.status === 'rolled_back') return undefined;
    const failed = this.#failedGates(candidate, primary);
    const result = candidate.requests < this.config.gates.min_requests ? 'inconclusive' : failed.length > 0 ? 'fail' : 'pass';
    s.checks.push({ at: now, step: s.step, weight: this.weight, result, candidate, primary, failed });
    if (s.checks.length > KEEP_CHECKS) s.checks.splice(0, s.checks.length - KEEP_CHECKS);
    if (s.status === 'paused' || result === 'inconclusive') return undefined;
    if (result === 'fail') {
      s.failures++;
      if (s.failures < this.config.threshold) return undefined;
      return this.#move('rolled_back', s.step, now, 'rolled_back', `${s.failures} failed check(s): ${failed.join('; ')}`);
    }
    s.failures = 0;
    if (s.step + 1 >= this.config.steps.length) return this.#move('promoted', s.step, now, 'promoted', 'passed the checks of the last step');
    return this.#move('progressing', s.step + 1, now, 'step', 'passed the checks');
  }

  #failedGates(c: WindowFigures, p: WindowFigures): string[] {
    const gates = this.config.gates;
    const out: string[] = [];
    const er = gates.error_rate;
    if (er?.max !== undefined && c.error_rate > er.max) out.push(`error rate ${round(c.error_rate)} > max ${er.max}`);
    if (er?.max_increase !== undefined && p.requests > 0 && c.error_rate - p.error_rate > er.max_increase) {
      out.push(`error rate ${round(c.error_rate)} exceeds the primary's ${round(p.error_rate)} by more than ${er.max_increase}`);
    }
    const lat = gates.p99_ms;
    if (c.p99_ms !== null) {
      if (lat?.max !== undefined && c.p99_ms > lat.max) out.push(`p99 ${c.p99_ms} ms > max ${lat.max} ms`);
      if (lat?.max_ratio !== undefined && p.p99_ms !== null && p.p99_ms > 0 && c.p99_ms > lat.max_ratio * p.p99_ms) {
        out.push(`p99 ${c.p99_ms} ms > ${lat.max_ratio} × the primary's ${p.p99_ms} ms`);
      }
    }
    return out;
  }

  /** A management action; throws ConflictError when it does not apply in the current state. */
  act(action: CanaryAction, now: number): CanaryTransition {
    const s = this.state;
    switch (action) {
      case 'pause':
        if (s.status !== 'progressing') throw new CanaryConflict(`cannot pause a rollout that is ${s.status}`);
        return this.#move('paused', s.step, now, 'paused', 'paused by the management API');
      case 'resume':
        if (s.status !== 'paused') throw new CanaryConflict(`cannot resume a rollout that is ${s.status}`);
        s.manual_weight = undefined;
        return this.#move('progressing', s.step, now, 'resumed', 'resumed by the management API');
      case 'promote':
        if (s.status === 'promoted') throw new CanaryConflict('the candidate is already promoted');
        return this.#move('promoted', s.step, now, 'promoted', 'promoted by the management API');
      case 'rollback':
        if (s.status === 'rolled_back') throw new CanaryConflict('the candidate is already rolled back');
        return this.#move('rolled_back', s.step, now, 'rolled_back', 'rolled back by the management API');
      case 'restart':
        if (s.status === 'progressing' || s.status === 'paused') throw new CanaryConflict(`the rollout is ${s.status}: pause it or roll it back first`);
        return this.#move('progressing', 0, now, 'restarted', 'restarted from the first step by the management API');
    }
  }

  /** Holds the candidate at a weight set by hand (the rollout pauses there until resumed). */
  setWeight(percent: number, now: number): CanaryTransition {
    if (!(percent >= 0 && percent <= 100)) throw new CanaryConflict(`weight ${percent} is not a percentage`);
    const from = this.#snapshot();
    this.state.manual_weight = percent;
    this.state.status = 'paused';
    return this.#finish(from, 'weight', now, `candidate weight set to ${percent} % by the management API (rollout paused)`);
  }

  #move(status: CanaryStatus, step: number, now: number, kind: CanaryTransition['kind'], reason: string): CanaryTransition {
    const from = this.#snapshot();
    const s = this.state;
    s.status = status;
    s.step = step;
    s.failures = 0;
    if (status !== 'paused') s.manual_weight = undefined;
    return this.#finish(from, kind, now, reason);
  }

  #finish(from: CanaryTransition['from'], kind: CanaryTransition['kind'], now: number, reason: string): CanaryTransition {
    this.state.revision++;
    this.state.since = now;
    return { kind, from, to: this.#snapshot(), reason };
  }

  #snapshot(): CanaryTransition['from'] {
    return { status: this.state.status, step: this.state.step, weight: this.weight };
  }
}

/** A management action that does not apply now (409). */
export class CanaryConflict extends Error {
  override name = 'CanaryConflict';
}

const round = (x: number): number => Math.round(x * 1e4) / 1e4;
