// The request rate one replica sustains, from its own measurements under load: requests completed
// per second of model execution, over recent steps in which the models were busy at least half the
// time. Requests per busy second is the throughput a replica reaches when kept busy at the batch sizes
// it saw, so the estimate errs low (batches grow further at saturation), the safe side for scaling.

export interface CapacityOptions {
  /** Steps whose busy share (execution seconds / step seconds) is below this do not count (default 0.5). */
  minBusyShare?: number;
  /** How many loaded steps the estimate remembers (default 60). */
  window?: number;
}

export class CapacityEstimator {
  readonly #minBusyShare: number;
  readonly #window: number;
  readonly #steps: Array<{ requests: number; busySeconds: number }> = [];

  constructor(options: CapacityOptions = {}) {
    this.#minBusyShare = options.minBusyShare ?? 0.5;
    this.#window = options.window ?? 60;
  }

  /** One step: requests completed, seconds the models spent executing, and the step's length. */
  observe(requests: number, busySeconds: number, stepSeconds: number): void {
    if (!(stepSeconds > 0) || !(busySeconds > 0) || busySeconds / stepSeconds < this.#minBusyShare) return;
    this.#steps.push({ requests, busySeconds });
    if (this.#steps.length > this.#window) this.#steps.shift();
  }

  /** Requests per second of execution over the remembered loaded steps, or undefined before the first. */
  estimate(): number | undefined {
    let requests = 0;
    let busy = 0;
    for (const s of this.#steps) {
      requests += s.requests;
      busy += s.busySeconds;
    }
    return busy > 0 ? requests / busy : undefined;
  }
}

/**
 * A forecast below this share of one replica's capacity counts as no traffic: a fitted model rarely
 * forecasts exactly zero through a quiet night (the season's smoothing leaks a little of the morning
 * into it), and that noise must not hold a replica up all night. Requests that do come wake one
 * through the activator (see deploy/k8s/README.md).
 */
export const IDLE_SHARE = 0.002;

/**
 * Replicas needed for `rps` when each sustains `capacityRps` and should run at `targetUtilization` of
 * it: ceil(rps / (capacity · utilization)), 0 below IDLE_SHARE of one replica. The 1e-9 keeps
 * 2.0000000001 (float noise) from becoming 3.
 */
export function recommendedReplicas(rps: number, capacityRps: number, targetUtilization: number): number {
  if (!(capacityRps > 0) || !(targetUtilization > 0)) throw new RangeError('capacity and utilization must be positive');
  if (!(rps >= IDLE_SHARE * capacityRps)) return 0;
  return Math.ceil(rps / (capacityRps * targetUtilization) - 1e-9);
}
