// What a benchmark reads about its own process: voluntary context switches over every thread (how
// often some thread slept and had to be woken: a structural, timing-independent figure), and
// percentiles of latency samples.
import { readdirSync, readFileSync } from 'node:fs';

/** Voluntary context switches of every thread of this process so far (0 off Linux). */
export function voluntarySwitches(): number {
  let total = 0;
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const m = /^voluntary_ctxt_switches:\s+(\d+)$/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'));
        if (m) total += Number(m[1]);
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return 0;
  }
  return total;
}

/** The p-quantile (0..1) of ascending samples. */
export function percentileMs(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! : NaN;
}
