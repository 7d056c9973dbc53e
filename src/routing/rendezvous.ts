// Sticky assignment: weighted rendezvous (highest-random-weight) hashing. Each target scores a key
// w_i / -ln(u_i), with u_i the key's uniform number for that target (hash.ts); the highest score wins.
// A key lands on target i with probability w_i / Σ w, and the choice is monotone: raising one target's
// weight (or lowering all the others by a common factor, which a canary step does) can only move keys
// INTO that target; no key ever moves between the other targets or out of it. Removing a target moves
// only its own keys. Cost: one log per target.
import { keyExponential, targetSeeds } from './hash.js';

export class Rendezvous {
  readonly #seedA: Int32Array;
  readonly #seedB: Int32Array;

  /** `ids`: the targets' ids, which fix their seeds. */
  constructor(ids: readonly string[]) {
    this.#seedA = new Int32Array(ids.length);
    this.#seedB = new Int32Array(ids.length);
    ids.forEach((id, i) => {
      const [a, b] = targetSeeds(id);
      this.#seedA[i] = a;
      this.#seedB[i] = b;
    });
  }

  /** The target of a key (its two hashes) under `weights`; -1 when every weight is 0. */
  pick(keyA: number, keyB: number, weights: Float64Array): number {
    let best = -1;
    let bestScore = -1;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i]!;
      if (w <= 0) continue;
      const score = w / keyExponential(keyA, keyB, this.#seedA[i]!, this.#seedB[i]!);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  }
}
