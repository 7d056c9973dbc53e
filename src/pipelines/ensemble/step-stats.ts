// What an ensemble saw of each of its steps: calls, failures and durations per (step, version), as
// Triton reports composing models, and the duration histograms /metrics exports.
import type { ComposingStats } from '../../repository/backend.js';
import { Duration, Histogram } from '../stats.js';

class StepCounters {
  readonly success = new Duration();
  readonly fail = new Duration();
  readonly queue = new Duration();
  readonly compute = new Duration();
  readonly histogram = new Histogram();
  constructor(
    readonly step: number,
    readonly model: string,
    readonly version: string,
  ) {}
}

export class StepStats {
  readonly #cells = new Map<string, StepCounters>();

  #cell(step: number, model: string, version: string): StepCounters {
    const key = `${step}\0${version}`;
    let c = this.#cells.get(key);
    if (!c) this.#cells.set(key, (c = new StepCounters(step, model, version)));
    return c;
  }

  succeeded(step: number, model: string, version: string, ns: number, queueNs: number, computeNs: number): void {
    const c = this.#cell(step, model, version);
    c.success.add(ns);
    c.histogram.add(ns);
    c.queue.add(queueNs);
    c.compute.add(computeNs);
  }

  failed(step: number, model: string, version: string, ns: number): void {
    this.#cell(step, model, version).fail.add(ns);
  }

  snapshot(): ComposingStats[] {
    return [...this.#cells.values()]
      .sort((a, b) => a.step - b.step || a.version.localeCompare(b.version))
      .map((c) => ({
        step: c.step,
        model: c.model,
        version: c.version,
        success: c.success.snapshot(),
        fail: c.fail.snapshot(),
        queue: c.queue.snapshot(),
        compute: c.compute.snapshot(),
        histogram: [...c.histogram.counts],
      }));
  }
}
