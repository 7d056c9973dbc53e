// The JSON report of GET /v2/models/{m}[/versions/{v}]/monitoring: per served version, the reference,
// the window, the drift decision per feature with its statistics, and the data-quality counts.
import type { FeatureDrift, PsiStatus } from './detector.js';
import type { Monitor } from './monitor.js';
import type { QualityCounts } from './tensor-monitor.js';

export interface FeatureReport {
  name: string;
  drift: boolean | null;
  psi: number | null;
  psi_status: PsiStatus | null;
  ks: { statistic: number; p_value: number; alpha: number } | null;
  js: number | null;
  window: { rows: number; mean?: number; min?: number; max?: number };
  reference: { rows: number; mean?: number; min?: number; max?: number; categories?: number } | null;
}

export interface TensorReport {
  name: string;
  io: 'input' | 'output';
  datatype: string;
  kind: 'numeric' | 'categorical';
  mode: 'features' | 'summary';
  rows: number;
  data_quality: QualityCounts;
  features: FeatureReport[];
}

export interface VersionReport {
  version: string;
  state: 'learning' | 'monitoring';
  sample_rate: number;
  requests: { offered: number; sampled: number; dropped: number };
  reference: { source: 'file' | 'learned'; file?: string; rows: number };
  window_rows: number;
  evaluated_at: string;
  drift: { detected: boolean; features_drifted: number; features_evaluated: number; features: number };
  thresholds: { psi: { warning: number; drift: number; bins: number }; ks: { p_value: number; correction: string; alpha: number }; js: number; range_tolerance: number };
  tensors: TensorReport[];
}

export interface MonitoringReport {
  model: string;
  enabled: boolean;
  versions: VersionReport[];
}

const round = (x: number): number => Number(x.toPrecision(6));

function featureReport(name: string, drift: FeatureDrift | undefined, profile: Monitor['tensors'][number]['profiles'][number]): FeatureReport {
  let reference: FeatureReport['reference'] = null;
  if (profile?.kind === 'numeric') {
    reference = { rows: profile.rows, ...(profile.mean !== undefined ? { mean: round(profile.mean) } : {}), ...(profile.min !== undefined ? { min: profile.min } : {}), ...(profile.max !== undefined ? { max: profile.max } : {}) };
  } else if (profile?.kind === 'categorical') {
    reference = { rows: profile.rows, categories: profile.names.length };
  }
  const w = drift?.window;
  return {
    name,
    drift: drift ? drift.drift : null,
    psi: drift ? round(drift.psi) : null,
    psi_status: drift ? drift.psiStatus : null,
    ks: drift?.ks ? { statistic: round(drift.ks.statistic), p_value: drift.ks.pValue, alpha: drift.ks.alpha } : null,
    js: drift?.js !== undefined ? round(drift.js) : null,
    window: w ? { rows: w.rows, ...(w.mean !== undefined ? { mean: round(w.mean) } : {}), ...(w.min !== undefined ? { min: w.min, max: w.max! } : {}) } : { rows: 0 },
    reference,
  };
}

export function versionReport(monitor: Monitor): VersionReport {
  const e = monitor.evaluate();
  const c = monitor.config;
  const plan = monitor.plan;
  return {
    version: monitor.version,
    state: monitor.state,
    sample_rate: c.sample_rate,
    requests: { offered: monitor.offered, sampled: monitor.sampled, dropped: monitor.dropped },
    reference: plan.referenceFile !== undefined ? { source: 'file', file: plan.referenceFile, rows: referenceRows(monitor) } : { source: 'learned', rows: Math.min(...monitor.tensors.map((t) => t.learnedRows)) },
    window_rows: c.window_rows,
    evaluated_at: new Date(e.at).toISOString(),
    drift: { detected: e.featuresDrifted > 0, features_drifted: e.featuresDrifted, features_evaluated: e.featuresEvaluated, features: e.featuresTotal },
    thresholds: { psi: c.psi, ks: { ...c.ks, alpha: e.alpha }, js: c.js.threshold, range_tolerance: c.range_tolerance },
    tensors: e.tensors.map(({ tensor, features }) => ({
      name: tensor.plan.name,
      io: tensor.plan.io,
      datatype: tensor.plan.datatype,
      kind: tensor.plan.kind,
      mode: tensor.plan.mode,
      rows: tensor.rows,
      data_quality: { ...tensor.quality },
      features: features.map((f, i) => featureReport(tensor.plan.featureNames[i]!, f, tensor.profiles[i])),
    })),
  };
}

function referenceRows(monitor: Monitor): number {
  let rows = Infinity;
  for (const t of monitor.tensors) for (const p of t.profiles) if (p) rows = Math.min(rows, p.rows);
  return rows === Infinity ? 0 : rows;
}
