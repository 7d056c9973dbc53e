// One replica, as measured by bench/replica-curve.ts: latency (p99), queue time per request and CPU
// cores against the request rate it receives, with the capacity it sustains. Between measured points
// the model interpolates linearly; past the last point where the replica kept up it does not guess a
// latency: the cluster model turns the excess into a backlog.

export interface MeasuredPoint {
  offeredRps: number;
  achievedRps: number;
  p50Ms: number;
  p99Ms: number;
  queueUsPerRequest: number;
  cpuCores: number;
  meanBatch: number;
  errors: number;
}

export interface MeasuredCurve {
  saturationRps: number;
  points: MeasuredPoint[];
}

export interface CurveFile {
  provisional: boolean;
  note?: string;
  model: string;
  intraOpThreads: number;
  curves: Record<'batching' | 'no-batching', MeasuredCurve>;
  /** bench/lib/machine.ts's record (commit, CPU, steal, …); older files carry `commit` apart. */
  machine?: Record<string, unknown>;
  commit?: string;
}

export interface ReplicaState {
  p99Ms: number;
  queueUs: number;
  cpuCores: number;
}

/**
 * A point the replica kept up with: it served ≥ 97 % of what was offered, without errors, and its
 * median latency stayed within 20× the lightest load's (beyond that requests queue behind a standing
 * backlog: the measurement window hid an overload that a longer one would show as unbounded).
 */
const keptUp = (p: MeasuredPoint, lightestP50: number) =>
  p.achievedRps >= 0.97 * p.offeredRps && p.errors === 0 && p.p50Ms <= 20 * lightestP50;

export class ReplicaModel {
  /** The stable points, by increasing load, starting from an idle point at 0 req/s. */
  readonly points: readonly MeasuredPoint[];
  /** What the replica sustains when saturated: the closed-loop saturation or the most it served open-loop. */
  readonly capacityRps: number;
  /** The highest stable load: above it the replica is saturated. */
  readonly stableRps: number;

  constructor(curve: MeasuredCurve) {
    const sorted = [...curve.points].sort((a, b) => a.offeredRps - b.offeredRps);
    const stable: MeasuredPoint[] = [];
    const lightestP50 = sorted[0]?.p50Ms ?? 0;
    for (const p of sorted) {
      if (!keptUp(p, lightestP50)) break;
      stable.push(p);
    }
    if (stable.length === 0) throw new Error('the curve has no point where the replica kept up with its load');
    // Latency and queue time cannot fall as load rises, nor CPU time rise as it falls: a point above
    // a later one (a stall: the VM descheduled the process) is lowered to it, a CPU figure below an
    // earlier one (the process got less CPU than it used before) raised to it. Noise on a shared
    // machine only ever adds latency and removes CPU time, so these envelopes are the estimates.
    for (let i = stable.length - 2; i >= 0; i--) {
      const next = stable[i + 1]!;
      const p = stable[i]!;
      stable[i] = { ...p, p99Ms: Math.min(p.p99Ms, next.p99Ms), queueUsPerRequest: Math.min(p.queueUsPerRequest, next.queueUsPerRequest) };
    }
    for (let i = 1; i < stable.length; i++) {
      stable[i] = { ...stable[i]!, cpuCores: Math.max(stable[i]!.cpuCores, stable[i - 1]!.cpuCores) };
    }
    const first = stable[0]!;
    // Idle: the lightest measured latency, no queue, the CPU line extended to zero load.
    const slope = stable.length > 1 ? (stable[1]!.cpuCores - first.cpuCores) / (stable[1]!.offeredRps - first.offeredRps) : first.cpuCores / first.offeredRps;
    const idle: MeasuredPoint = { ...first, offeredRps: 0, achievedRps: 0, queueUsPerRequest: 0, cpuCores: Math.max(0, first.cpuCores - slope * first.offeredRps) };
    this.points = [idle, ...stable];
    this.stableRps = stable[stable.length - 1]!.offeredRps;
    this.capacityRps = Math.max(this.stableRps, curve.saturationRps, ...sorted.map((p) => p.achievedRps));
  }

  /** The replica at `rps` ≤ stableRps (clamped there above). */
  at(rps: number): ReplicaState {
    const pts = this.points;
    const x = Math.min(Math.max(rps, 0), this.stableRps);
    let i = 1;
    while (i < pts.length - 1 && pts[i]!.offeredRps < x) i++;
    const a = pts[i - 1]!;
    const b = pts[i]!;
    const w = b.offeredRps === a.offeredRps ? 1 : (x - a.offeredRps) / (b.offeredRps - a.offeredRps);
    const lerp = (k: 'p99Ms' | 'queueUsPerRequest' | 'cpuCores') => a[k] + w * (b[k] - a[k]);
    return { p99Ms: lerp('p99Ms'), queueUs: lerp('queueUsPerRequest'), cpuCores: lerp('cpuCores') };
  }

  /** CPU cores at full load (for utilization above the stable range). */
  get saturatedCores(): number {
    return Math.max(...this.points.map((p) => p.cpuCores));
  }
}
