// Multi-armed bandits over a route's targets (arms): epsilon-greedy (fixed or decaying ε), UCB1 and
// Thompson sampling (Beta–Bernoulli for 0/1 rewards, Gaussian for continuous ones). The statistics
// (pulls, rewards received, their sum and sum of squares) live in SharedCounters, so replicas sharing
// Redis learn together. Rewards arrive later, by request id (feedback-ledger.ts): an arm's mean is
// over the rewards received, and an arm that has none yet is tried first.
import type { BanditConfig } from '../repository/routing-schema.js';
import { SharedCounters } from './counters.js';
import type { Rng } from './rng.js';

const PULLS = 0;
const REWARDS = 1;
const SUM = 2;
const SUMSQ = 3;
const PER_ARM = 4;

export interface ArmReport {
  arm: string;
  pulls: number;
  rewards: number;
  mean_reward: number | null;
}

export class Bandit {
  readonly config: BanditConfig;
  readonly arms: readonly string[];
  readonly counters: SharedCounters;
  readonly #rng: Rng;
  readonly #scores: Float64Array;

  constructor(config: BanditConfig, arms: readonly string[], rng: Rng) {
    this.config = config;
    this.arms = arms;
    this.#rng = rng;
    this.#scores = new Float64Array(arms.length);
    this.counters = new SharedCounters(arms.flatMap((a) => [`${a}|pulls`, `${a}|rewards`, `${a}|sum`, `${a}|sumsq`]));
  }

  pulls(arm: number): number {
    return this.counters.get(arm * PER_ARM + PULLS);
  }

  rewards(arm: number): number {
    return this.counters.get(arm * PER_ARM + REWARDS);
  }

  mean(arm: number): number {
    const n = this.rewards(arm);
    return n > 0 ? this.counters.get(arm * PER_ARM + SUM) / n : NaN;
  }

  /** Chooses an arm and counts the pull. */
  choose(): number {
    const arm = this.#choose();
    this.counters.add(arm * PER_ARM + PULLS, 1);
    return arm;
  }

  /** A reward for a pull of `arm` (bernoulli policies read rewards in [0, 1]). */
  reward(arm: number, r: number): void {
    const c = this.counters;
    c.add(arm * PER_ARM + REWARDS, 1);
    c.add(arm * PER_ARM + SUM, r);
    c.add(arm * PER_ARM + SUMSQ, r * r);
  }

  #choose(): number {
    const k = this.arms.length;
    // Arms without a reward yet are tried first (in random order).
    let untried = 0;
    for (let i = 0; i < k; i++) if (this.rewards(i) === 0) untried++;
    if (untried > 0) {
      let pick = Math.floor(this.#rng.next() * untried);
      for (let i = 0; i < k; i++) if (this.rewards(i) === 0 && pick-- === 0) return i;
    }
    const scores = this.#scores;
    switch (this.config.policy) {
      case 'epsilon_greedy': {
        const total = this.#totalPulls();
        const e0 = this.config.epsilon ?? 0.1;
        const decay = this.config.epsilon_decay;
        const epsilon = decay === undefined ? e0 : (e0 * decay) / (decay + total);
        if (this.#rng.next() < epsilon) return Math.floor(this.#rng.next() * k);
        for (let i = 0; i < k; i++) scores[i] = this.mean(i);
        break;
      }
      case 'ucb1': {
        let n = 0;
        for (let i = 0; i < k; i++) n += this.rewards(i);
        const logN = Math.log(n);
        for (let i = 0; i < k; i++) scores[i] = this.mean(i) + Math.sqrt((2 * logN) / this.rewards(i));
        break;
      }
      case 'thompson':
        if (this.config.reward === 'bernoulli') {
          for (let i = 0; i < k; i++) {
            const n = this.rewards(i);
            const s = Math.min(n, Math.max(0, this.counters.get(i * PER_ARM + SUM)));
            this.#rng.betaInto(1 + s, 1 + n - s, scores, i);
          }
        } else {
          const prior = this.#pooledVariance();
          for (let i = 0; i < k; i++) {
            const n = this.rewards(i);
            const mean = this.mean(i);
            const variance = n >= 2 ? Math.max(0, (this.counters.get(i * PER_ARM + SUMSQ) - n * mean * mean) / (n - 1)) : prior;
            // The posterior of the mean (flat prior, variance plugged in): Normal(mean, variance / n).
            this.#rng.normalInto(mean, Math.sqrt((variance || prior) / n), scores, i);
          }
        }
        break;
    }
    return this.#argmax(scores);
  }

  #totalPulls(): number {
    let t = 0;
    for (let i = 0; i < this.arms.length; i++) t += this.pulls(i);
    return t;
  }

  #pooledVariance(): number {
    let n = 0;
    let sum = 0;
    let sumsq = 0;
    for (let i = 0; i < this.arms.length; i++) {
      n += this.rewards(i);
      sum += this.counters.get(i * PER_ARM + SUM);
      sumsq += this.counters.get(i * PER_ARM + SUMSQ);
    }
    if (n < 2) return 1;
    const mean = sum / n;
    return Math.max(1e-12, (sumsq - n * mean * mean) / (n - 1));
  }

  /** Highest score, ties broken at random. */
  #argmax(scores: Float64Array): number {
    let best = 0;
    let ties = 1;
    for (let i = 1; i < scores.length; i++) {
      if (scores[i]! > scores[best]!) {
        best = i;
        ties = 1;
      } else if (scores[i] === scores[best] && this.#rng.next() * ++ties < 1) {
        best = i;
      }
    }
    return best;
  }

  report(): ArmReport[] {
    return this.arms.map((arm, i) => {
      const mean = this.mean(i);
      return { arm, pulls: this.pulls(i), rewards: this.rewards(i), mean_reward: Number.isNaN(mean) ? null : mean };
    });
  }
}
