// What a model version's monitoring watches, decided at load from its config and its tensors: which
// tensors, numeric or categorical, feature by feature or through row summaries, and the reference
// profiles when the config names a file. Errors name the config (or reference) file and the field.
//
// Rows are a tensor's first dimension (the batch dimension of a batching model); the elements of a
// row are its features. A tensor with more than max_features elements per row, or a variable row
// size, is watched through each row's mean and standard deviation (numeric) or all its values pooled
// as one feature (categorical).
import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { DataType } from '../engine/datatype.js';
import { DEFAULT_LEARN_ROWS, type MonitoringConfig } from './config.js';
import { categoricalFromCounts, numericFromBins, numericFromSamples, type FeatureProfile } from './profile.js';
import { readReferenceFile, type TensorReferenceInput } from './reference-file.js';
import { categoryOf, rowSummary } from './values.js';

export type TensorIo = 'input' | 'output';

export interface TensorPlan {
  readonly name: string;
  readonly io: TensorIo;
  readonly datatype: DataType;
  readonly kind: 'numeric' | 'categorical';
  readonly mode: 'features' | 'summary';
  /** Elements per row in 'features' mode. */
  readonly width: number;
  readonly featureNames: readonly string[];
  /** Reference profiles per feature, from the reference file. */
  readonly profiles: readonly FeatureProfile[] | undefined;
  /** The reference's element range (summary-mode numeric tensors): out-of-range checks per element. */
  readonly elementRange: { min: number | undefined; max: number | undefined } | undefined;
}

export interface MonitoringPlan {
  readonly config: MonitoringConfig;
  readonly tensors: readonly TensorPlan[];
  /** The reference file (relative to the model directory), or undefined: learned from traffic. */
  readonly referenceFile: string | undefined;
  readonly learnRows: number;
}

export interface PlanTensor {
  name: string;
  datatype: DataType;
  /** With -1 for variable dims; the batch dim included for batching models. */
  shape: readonly number[];
}

export interface PlanModel {
  inputs: readonly PlanTensor[];
  outputs: readonly PlanTensor[];
}

export const SUMMARY_FEATURES = ['mean', 'std'] as const;

/**
 * Plans monitoring for a model version. `modelDir` is the model's directory (reference files are
 * relative to it and must stay inside); `where` names the config in messages.
 */
export function planMonitoring(config: MonitoringConfig, model: PlanModel, modelDir: string, where: string): MonitoringPlan {
  const field = (path: string) => `${where}: monitoring.${path}`;
  const pick = (io: TensorIo, available: readonly PlanTensor[], wanted: string[] | undefined): PlanTensor[] => {
    if (wanted === undefined) return [...available];
    return wanted.map((name, i) => {
      const found = available.find((t) => t.name === name);
      if (!found) throw new Error(`${field(`${io}s[${i}]`)}: the model has no ${io} '${name}' (it has ${available.map((t) => t.name).join(', ') || 'none'})`);
      return found;
    });
  };
  const watched: Array<[TensorIo, PlanTensor]> = [
    ...pick('input', model.inputs, config.inputs).map((t): [TensorIo, PlanTensor] => ['input', t]),
    ...pick('output', model.outputs, config.outputs).map((t): [TensorIo, PlanTensor] => ['output', t]),
  ];
  const all = [...model.inputs, ...model.outputs];
  config.categorical.forEach((name, i) => {
    if (!all.some((t) => t.name === name)) throw new Error(`${field(`categorical[${i}]`)}: the model has no tensor '${name}'`);
  });

  let references: Record<string, TensorReferenceInput> | undefined;
  let referenceFile: string | undefined;
  if (config.reference.file !== undefined) {
    referenceFile = config.reference.file;
    const path = insideModelDir(modelDir, referenceFile, field('reference.file'));
    references = readReferenceFile(path, `${where} -> ${referenceFile}`).tensors;
    for (const name of Object.keys(references)) {
      if (!watched.some(([, t]) => t.name === name)) {
        throw new Error(`${where} -> ${referenceFile}: tensors.${name}: not a watched tensor of the model (watched: ${watched.map(([, t]) => t.name).join(', ')})`);
      }
    }
  }

  const tensors = watched.map(([io, t]): TensorPlan => {
    const kind = t.datatype === 'BOOL' || t.datatype === 'BYTES' || config.categorical.includes(t.name) ? 'categorical' : 'numeric';
    const rowDims = t.shape.slice(1);
    const width = rowDims.every((d) => d >= 0) ? rowDims.reduce((a, b) => a * b, 1) : -1;
    const mode = width >= 1 && width <= config.max_features ? 'features' : 'summary';
    const base = { name: t.name, io, datatype: t.datatype, kind, mode, width: mode === 'features' ? width : 0 } as const;
    const ref = references?.[t.name];
    const where2 = `${where} -> ${referenceFile}: tensors.${t.name}`;
    const featureNames = namesFor(base, ref, where2);
    if (references !== undefined && ref === undefined) {
      throw new Error(`${where} -> ${referenceFile}: tensors: no reference for the watched ${io} '${t.name}' (list it, or leave it out of monitoring.${io}s)`);
    }
    const built = ref ? profilesFor(base, featureNames.length, ref, config.psi.bins, where2) : undefined;
    return { ...base, featureNames, profiles: built?.profiles, elementRange: built?.elementRange };
  });
  return { config, tensors, referenceFile, learnRows: config.reference.learn_rows ?? DEFAULT_LEARN_ROWS };
}

type TensorBase = Pick<TensorPlan, 'name' | 'datatype' | 'kind' | 'mode' | 'width'>;

function namesFor(t: TensorBase, ref: TensorReferenceInput | undefined, where: string): string[] {
  if (t.mode === 'summary') {
    if (ref?.feature_names !== undefined) throw new Error(`${where}.feature_names: '${t.name}' is watched through row summaries (more than max_features elements per row, or a variable row size): it has no per-element features to name`);
    return t.kind === 'numeric' ? [...SUMMARY_FEATURES] : ['values'];
  }
  if (ref?.feature_names !== undefined) {
    if (ref.feature_names.length !== t.width) throw new Error(`${where}.feature_names: expected ${t.width} names (the elements per row of '${t.name}'), got ${ref.feature_names.length}`);
    return ref.feature_names;
  }
  return Array.from({ length: t.width }, (_, i) => String(i));
}

function profilesFor(
  t: TensorBase,
  features: number,
  ref: TensorReferenceInput,
  bins: number,
  where: string,
): { profiles: FeatureProfile[]; elementRange: TensorPlan['elementRange'] } {
  if (ref.features !== undefined) {
    if (ref.features.length !== features) throw new Error(`${where}.features: expected ${features} entries (one per feature of '${t.name}'), got ${ref.features.length}`);
    const profiles = ref.features.map((f, i): FeatureProfile => {
      if ('categories' in f) {
        if (t.kind !== 'categorical') throw new Error(`${where}.features[${i}]: '${t.name}' is numeric: give edges and counts`);
        return categoricalFromCounts(f.categories);
      }
      if (t.kind !== 'numeric') throw new Error(`${where}.features[${i}]: '${t.name}' is categorical: give categories`);
      return numericFromBins(f);
    });
    if ((ref.min !== undefined || ref.max !== undefined) && !(t.mode === 'summary' && t.kind === 'numeric')) {
      throw new Error(`${where}.min: only for numeric tensors watched through row summaries (per-feature ranges go in each feature's min/max)`);
    }
    return { profiles, elementRange: t.mode === 'summary' && t.kind === 'numeric' ? { min: ref.min, max: ref.max } : undefined };
  }
  if (ref.min !== undefined || ref.max !== undefined) throw new Error(`${where}.min: only with precomputed features (samples give their own range)`);
  const samples = ref.samples!;
  if (t.kind === 'categorical') {
    const counts = Array.from({ length: features }, () => new Map<string, number>());
    samples.forEach((row, r) => {
      const values = Array.isArray(row) ? row : [row];
      if (t.mode === 'features' && values.length !== t.width) throw new Error(`${where}.samples[${r}]: expected ${t.width} values (the elements per row of '${t.name}'), got ${values.length}`);
      values.forEach((v, i) => {
        const c = categoryOf(v, t.datatype);
        const m = counts[t.mode === 'features' ? i : 0]!;
        m.set(c, (m.get(c) ?? 0) + 1);
      });
    });
    return { profiles: counts.map((m) => categoricalFromCounts(m)), elementRange: undefined };
  }
  const columns = Array.from({ length: features }, () => [] as number[]);
  let min = Infinity;
  let max = -Infinity;
  samples.forEach((row, r) => {
    const values = Array.isArray(row) ? row : [row];
    values.forEach((v, i) => {
      if (typeof v !== 'number') throw new Error(`${where}.samples[${r}]${Array.isArray(row) ? `[${i}]` : ''}: expected a number ('${t.name}' is numeric), got ${JSON.stringify(v)}`);
    });
    const numbers = values as number[];
    if (t.mode === 'features') {
      if (numbers.length !== t.width) throw new Error(`${where}.samples[${r}]: expected ${t.width} values (the elements per row of '${t.name}'), got ${numbers.length}`);
      numbers.forEach((v, i) => columns[i]!.push(v));
    } else {
      if (numbers.length === 0) throw new Error(`${where}.samples[${r}]: an empty row`);
      const s = rowSummary(numbers, 0, numbers.length);
      columns[0]!.push(s.mean);
      columns[1]!.push(s.std);
      for (const v of numbers) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  });
  return {
    profiles: columns.map((c) => numericFromSamples(c, bins)),
    elementRange: t.mode === 'summary' ? { min, max } : undefined,
  };
}

/** `file` resolved against the model directory; refused when it is absolute or leaves the directory. */
function insideModelDir(modelDir: string, file: string, field: string): string {
  if (isAbsolute(file)) throw new Error(`${field}: '${file}' must be relative to the model directory`);
  const base = realpathSync(modelDir);
  let real: string;
  try {
    real = realpathSync(join(base, file));
  } catch {
    throw new Error(`${field}: '${file}' does not exist in the model directory`);
  }
  const rel = relative(base, real);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) throw new Error(`${field}: '${file}' resolves outside the model directory`);
  return real;
}
