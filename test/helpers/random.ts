// Seeded random streams for statistical tests: every test states its seed, so a failure reproduces.

import { seededRandom } from '../../src/onnx/sample-data.js';

/** mulberry32: a small 32-bit generator, uniform in [0, 1) (src/onnx/sample-data.ts). */
export const uniform = seededRandom;

/** Standard normal draws (Box–Muller over uniform(seed)). */
export function normal(seed: number, mean = 0, sd = 1): () => number {
  const u = uniform(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return mean + sd * s;
    }
    let a = u();
    while (a === 0) a = u();
    const b = u();
    const r = Math.sqrt(-2 * Math.log(a));
    spare = r * Math.sin(2 * Math.PI * b);
    return mean + sd * r * Math.cos(2 * Math.PI * b);
  };
}

/** `n` draws from `next`, ascending. */
export function sortedSample(next: () => number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = next();
  return out.sort();
}
