// Metric families of JavaScript models and ensembles, read at scrape time from what their servables
// count: each ensemble step's calls and durations (by the step's model and the version that answered),
// and each JavaScript model's worker threads (ready, starting) and their exits (crash, timeout, start
// failure). Nothing runs per request.
import type { ComposingStats, WorkerStats } from '../repository/backend.js';
import { bucketLabels, formatLe, ScrapeFamily, type Labels, type Sample } from './family.js';
import { EXPORTED_NATIVE_BUCKETS, nativeBucketBound, pushNativeHistogram } from './native.js';

/** What these families read: ensembles have composing(), JavaScript models workers(). */
export interface PipelineSource {
  composing?(): ComposingStats[];
  workers?(): WorkerStats;
}

const LE = Array.from({ length: EXPORTED_NATIVE_BUCKETS.last - EXPORTED_NATIVE_BUCKETS.first + 1 }, (_, k) => formatLe(nativeBucketBound(EXPORTED_NATIVE_BUCKETS.first + k)));

const EXITS = { crashes: 'crash', timeouts: 'timeout', startFailures: 'start_failure' } as const;

interface Tracked {
  labels: Labels;
  source: PipelineSource;
}

export class PipelineMetrics {
  readonly families: ScrapeFamily[];
  readonly #tracked = new Map<string, Tracked>();

  constructor(prefix: string) {
    const stepLabels = (t: Tracked, c: ComposingStats): Labels => ({ ...t.labels, step: String(c.step), step_model: c.model, step_version: c.version });
    this.families = [
      new ScrapeFamily(`${prefix}ensemble_step_requests_total`, 'Calls an ensemble made to each step, by the step model and version that answered, and outcome', 'counter', (out) => {
        for (const t of this.#tracked.values()) {
          for (const c of t.source.composing?.() ?? []) {
            const labels = stepLabels(t, c);
            out.push({ labels: { ...labels, outcome: 'success' }, value: c.success.count });
            out.push({ labels: { ...labels, outcome: 'failure' }, value: c.fail.count });
          }
        }
      }),
      new ScrapeFamily(`${prefix}ensemble_step_duration_seconds`, 'Duration of successful ensemble step calls, lease to answer', 'histogram', (out: Sample[]) => {
        const name = `${prefix}ensemble_step_duration_seconds`;
        for (const t of this.#tracked.values()) {
          for (const c of t.source.composing?.() ?? []) {
            const labels = stepLabels(t, c);
            pushNativeHistogram(out, name, labels, bucketLabels(labels, LE), c.histogram, c.success.ns / 1e9);
          }
        }
      }),
      new ScrapeFamily(`${prefix}js_workers`, 'Worker threads of a JavaScript model version, by state (ready, starting)', 'gauge', (out) => {
        for (const t of this.#tracked.values()) {
          const w = t.source.workers?.();
          if (!w) continue;
          out.push({ labels: { ...t.labels, state: 'ready' }, value: w.ready });
          out.push({ labels: { ...t.labels, state: 'starting' }, value: w.starting });
        }
      }),
      new ScrapeFamily(`${prefix}js_worker_exits_total`, 'JavaScript model workers that stopped, by reason (crash, timeout, start_failure)', 'counter', (out) => {
        for (const t of this.#tracked.values()) {
          const w = t.source.workers?.();
          if (!w) continue;
          for (const [key, reason] of Object.entries(EXITS)) out.push({ labels: { ...t.labels, reason }, value: w[key as keyof typeof EXITS] });
        }
      }),
    ];
  }

  track(model: string, version: string, source: PipelineSource): void {
    if (source.composing === undefined && source.workers === undefined) return;
    this.#tracked.set(JSON.stringify([model, version]), { labels: { model, version }, source });
  }

  untrack(model: string, version: string): void {
    this.#tracked.delete(JSON.stringify([model, version]));
  }
}
