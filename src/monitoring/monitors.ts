// Every served version's monitor, found by the served version object the request resolved to, and the
// metric families that read them at scrape time: drift scores, p-values and decisions per feature,
// drifted features per version, sampling counters, and data-quality violations per model and tensor
// (kept here, not per copy, so a swap does not reset them).
import type { Registry } from 'prom-client';
import { ScrapeFamily, type Labels, type Sample } from '../metrics/family.js';
import { Monitor, type QualitySink, type TensorMap } from './monitor.js';
import type { MonitoringPlan } from './plan.js';
import { versionReport, type MonitoringReport } from './report.js';
import type { QualityKind } from './tensor-monitor.js';

export class ModelMonitors implements QualitySink {
  readonly #byTarget = new Map<object, Monitor>();
  readonly #violations = new Map<string, { labels: Labels; count: number }>();

  /** Number of monitored versions: 0 keeps the request path's tap to one branch. */
  get size(): number {
    return this.#byTarget.size;
  }

  /** Starts monitoring a served version (`target` is what requests resolve to). */
  attach(target: object, model: string, version: string, plan: MonitoringPlan): Monitor {
    this.#byTarget.get(target)?.close();
    const monitor = new Monitor(model, version, plan, this);
    this.#byTarget.set(target, monitor);
    return monitor;
  }

  detach(target: object): void {
    this.#byTarget.get(target)?.close();
    this.#byTarget.delete(target);
  }

  get(target: object): Monitor | undefined {
    return this.#byTarget.get(target);
  }

  /** The request path: a successful request's tensors, handed to its version's monitor. */
  offer(target: object, inputs: TensorMap, outputs: TensorMap): void {
    this.#byTarget.get(target)?.offer(inputs, outputs);
  }

  add(model: string, tensor: string, kind: QualityKind, n: number): void {
    const key = `${model}\0${tensor}\0${kind}`;
    let v = this.#violations.get(key);
    if (!v) this.#violations.set(key, (v = { labels: { model, input: tensor, kind }, count: 0 }));
    v.count += n;
  }

  /** The report for a model's monitored versions (all, or `version`); `enabled: false` when none is. */
  report(model: string, version: string | undefined): MonitoringReport {
    const versions = [...this.#byTarget.values()]
      .filter((m) => m.model === model && (version === undefined || m.version === version))
      .sort((a, b) => Number(b.version) - Number(a.version));
    return { model, enabled: versions.length > 0, versions: versions.map(versionReport) };
  }

  /** Monitors of one model, for summaries (the status page). */
  monitorsOf(model: string): Monitor[] {
    return [...this.#byTarget.values()].filter((m) => m.model === model);
  }

  registerIn(registry: Registry, prefix = 'tensorgate_'): void {
    for (const family of this.#families(prefix)) family.registerIn(registry);
  }

  #families(prefix: string): ScrapeFamily[] {
    const each = (fn: (m: Monitor, base: Labels, out: Sample[]) => void) => (out: Sample[]) => {
      for (const m of this.#byTarget.values()) fn(m, { model: m.model, version: m.version }, out);
    };
    const perFeature = (fn: (labels: Labels, f: NonNullable<ReturnType<Monitor['evaluate']>['tensors'][number]['features'][number]>, out: Sample[]) => void) =>
      each((m, base, out) => {
        for (const { tensor, features } of m.evaluate().tensors) {
          features.forEach((f, i) => {
            if (f !== undefined) fn({ ...base, tensor: tensor.plan.name, feature: tensor.plan.featureNames[i]! }, f, out);
          });
        }
      });
    return [
      new ScrapeFamily(
        `${prefix}drift_score`,
        'Drift statistic per feature of a monitored tensor: method psi (population stability index), ks (Kolmogorov–Smirnov D) or js (Jensen–Shannon distance)',
        'gauge',
        perFeature((labels, f, out) => {
          out.push({ labels: { ...labels, method: 'psi' }, value: f.psi });
          if (f.ks) out.push({ labels: { ...labels, method: 'ks' }, value: f.ks.statistic });
          if (f.js !== undefined) out.push({ labels: { ...labels, method: 'js' }, value: f.js });
        }),
      ),
      new ScrapeFamily(
        `${prefix}drift_p_value`,
        'Two-sample Kolmogorov–Smirnov p-value per numeric feature (live window against the reference)',
        'gauge',
        perFeature((labels, f, out) => {
          if (f.ks) out.push({ labels, value: f.ks.pValue });
        }),
      ),
      new ScrapeFamily(
        `${prefix}drift_detected`,
        'Drift decision per feature: 1 when it drifted (see the README for the rule), 0 otherwise',
        'gauge',
        perFeature((labels, f, out) => out.push({ labels, value: f.drift ? 1 : 0 })),
      ),
      new ScrapeFamily(
        `${prefix}drift_features_drifted`,
        'Features of a monitored model version whose drift decision is 1',
        'gauge',
        each((m, labels, out) => out.push({ labels, value: m.evaluate().featuresDrifted })),
      ),
      new ScrapeFamily(
        `${prefix}drift_reference_ready`,
        'Whether a monitored model version has its reference (0 while it is still learning it from traffic)',
        'gauge',
        each((m, labels, out) => out.push({ labels, value: m.state === 'monitoring' ? 1 : 0 })),
      ),
      new ScrapeFamily(
        `${prefix}monitoring_sampled_total`,
        'Requests whose tensors the drift and data-quality monitor observed',
        'counter',
        each((m, labels, out) => out.push({ labels, value: m.sampled })),
      ),
      new ScrapeFamily(
        `${prefix}monitoring_dropped_total`,
        'Requests the monitor sampled but could not observe (its queue was full)',
        'counter',
        each((m, labels, out) => out.push({ labels, value: m.dropped })),
      ),
      new ScrapeFamily(
        `${prefix}data_quality_violations_total`,
        'Data-quality violations by model, tensor (label input; outputs too) and kind: nan, inf, out_of_range, unseen_category, rejected',
        'counter',
        (out) => {
          for (const v of this.#violations.values()) out.push({ labels: v.labels, value: v.count });
        },
      ),
    ];
  }
}
