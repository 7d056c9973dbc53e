// A synthetic replica curve for the simulation's tests (the real one is measured by
// bench/replica-curve.ts): an M/D/1-like queue, p99 growing as 1/(1 - load), CPU linear in load.
import type { MeasuredCurve } from '../../sim/autoscale/curve.js';

export function syntheticCurve(capacityRps = 1000, baseMs = 5): MeasuredCurve {
  const points = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1].map((rho) => {
    const offeredRps = rho * capacityRps;
    const kept = rho < 1;
    return {
      offeredRps,
      achievedRps: kept ? offeredRps : capacityRps,
      p50Ms: kept ? baseMs * (1 + rho / (1 - rho)) : 5000,
      p99Ms: kept ? baseMs * (1 + (4 * rho) / (1 - rho)) : 9000,
      queueUsPerRequest: kept ? 1000 * baseMs * (rho / (1 - rho)) : 4e6,
      cpuCores: 1.8 * Math.min(rho, 1) + 0.05,
      meanBatch: 1 + 10 * rho,
      errors: 0,
    };
  });
  return { saturationRps: capacityRps, points };
}
