// Jensen–Shannon distance: the square root of the Jensen–Shannon divergence, natural logarithm
// (SciPy's scipy.spatial.distance.jensenshannon with its default base, and Evidently's choice), so it
// lies in [0, √ln 2 ≈ 0.833]. Symmetric and finite even where one side has an empty category.
import { proportions } from './psi.js';

export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new RangeError('jensenShannonDistance: the two distributions need the same categories');
  const a = proportions(p);
  const b = proportions(q);
  let divergence = 0;
  for (let i = 0; i < a.length; i++) {
    const m = (a[i]! + b[i]!) / 2;
    if (a[i]! > 0) divergence += 0.5 * a[i]! * Math.log(a[i]! / m);
    if (b[i]! > 0) divergence += 0.5 * b[i]! * Math.log(b[i]! / m);
  }
  return Math.sqrt(Math.max(0, divergence));
}
