// An ensemble's config made into a plan, and every check a load makes (Triton's ensemble_scheduling):
// first what the config alone can tell (each tensor produced exactly once, every consumed tensor
// produced, the steps a DAG, no ensemble containing itself), then how each step fits the model that
// serves it now (inputs mapped, names known, datatypes and shapes agreeing). Messages name the file,
// the step and the tensor. The fit is checked again whenever a step's model is swapped.
import { FROM_TRITON_TYPE, type DataType } from '../../engine/datatype.js';
import type { TensorMetadata } from '../../engine/index.js';
import type { ServableMetadata } from '../../repository/backend.js';
import type { EnsembleStep, ModelConfig, TensorConfig } from '../../repository/config-schema.js';
import { RepositoryError } from '../../repository/errors.js';

export interface PlanStep {
  index: number;
  model: string;
  /** undefined: the latest served version, per request. */
  version: string | undefined;
  /** [step input, ensemble tensor] */
  inputs: Array<[string, string]>;
  /** [step output, ensemble tensor] */
  outputs: Array<[string, string]>;
  /** The step's outputs to ask for (those the ensemble maps). */
  requested: string[];
  /** Tensors this step may hand over (no other step and no ensemble output reads them). */
  donatable: Set<string>;
}

export interface EnsemblePlan {
  name: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  maxBatchSize: number;
  steps: PlanStep[];
  /** Ensemble tensor -> the steps that read it. */
  consumers: Map<string, number[]>;
  /** Concurrent calls per step (0: unlimited). */
  maxInflight: number;
  /** Whether two steps can ever run at once (else each waits on the one before: a chain). */
  parallel: boolean;
}

/** Where a tensor comes from: an ensemble input, or a step's output. */
type Producer = { input: number } | { step: number; output: string };

function invalid(where: string, field: string, message: string): RepositoryError {
  return new RepositoryError('INVALID', `${where}: ${field}: ${message}`);
}

const stepName = (s: PlanStep | { index: number; model: string }): string => `step[${s.index}] (model '${s.model}')`;

function tensors(kind: 'input' | 'output', declared: TensorConfig[] | undefined, batched: boolean, where: string): TensorMetadata[] {
  if (!declared || declared.length === 0) throw invalid(where, kind, `an ensemble declares its ${kind}s (name, data_type, dims)`);
  return declared.map((t, i) => {
    const datatype = FROM_TRITON_TYPE[t.data_type];
    if (datatype === 'BF16') throw invalid(where, `${kind}[${i}].data_type`, 'TYPE_BF16 is not supported');
    const shape = batched ? [-1, ...t.dims] : [...t.dims];
    return { name: t.name, datatype: datatype as DataType, shape, dimNames: shape.map(() => null) };
  });
}

/** The checks the config alone allows; returns the plan. */
export function planEnsemble(name: string, config: ModelConfig, where: string, configOf: (model: string) => ModelConfig | undefined): EnsemblePlan {
  for (const field of ['instance_group', 'dynamic_batching', 'optimization', 'default_model_filename'] as const) {
    if (config[field] !== undefined) {
      throw invalid(where, field, field === 'instance_group' ? 'ensembles have no instances of their own: scale their composing models' : 'not used by ensembles');
    }
  }
  const scheduling = config.ensemble_scheduling!;
  const maxBatchSize = config.max_batch_size ?? 0;
  const inputs = tensors('input', config.input, maxBatchSize > 0, where);
  const outputs = tensors('output', config.output, maxBatchSize > 0, where);
  const producers = new Map<string, Producer>();
  inputs.forEach((t, i) => producers.set(t.name, { input: i }));
  const steps: PlanStep[] = scheduling.step.map((s: EnsembleStep, index) => ({
    index,
    model: s.model_name,
    version: s.model_version === -1 ? undefined : String(s.model_version),
    inputs: Object.entries(s.input_map),
    outputs: Object.entries(s.output_map),
    requested: Object.keys(s.output_map),
    donatable: new Set<string>(),
  }));
  for (const step of steps) {
    const field = `ensemble_scheduling.step[${step.index}]`;
    if (step.model === name) throw invalid(where, `${field}.model_name`, `an ensemble cannot be a step of itself ('${name}')`);
    if (step.outputs.length === 0) throw invalid(where, `${field}.output_map`, 'maps none of the step model\'s outputs to an ensemble tensor');
    for (const [output, tensor] of step.outputs) {
      const earlier = producers.get(tensor);
      if (earlier !== undefined) {
        const by = 'input' in earlier ? 'an ensemble input' : `already produced by step[${earlier.step}]`;
        throw invalid(where, `${field}.output_map.${output}`, `tensor '${tensor}' is ${by}: each ensemble tensor has one producer`);
      }
      producers.set(tensor, { step: step.index, output });
    }
  }
  const consumers = new Map<string, number[]>();
  for (const step of steps) {
    for (const [input, tensor] of step.inputs) {
      if (!producers.has(tensor)) {
        throw invalid(where, `ensemble_scheduling.step[${step.index}].input_map.${input}`, `tensor '${tensor}' is produced by no step and is not an ensemble input`);
      }
      consumers.set(tensor, [...(consumers.get(tensor) ?? []), step.index]);
    }
  }
  outputs.forEach((t, i) => {
    if (!producers.has(t.name)) throw invalid(where, `output[${i}].name`, `ensemble output '${t.name}' is produced by no step`);
    if ('input' in producers.get(t.name)!) throw invalid(where, `output[${i}].name`, `ensemble output '${t.name}' is an ensemble input: map it through a step`);
  });
  checkAcyclic(steps, producers, where);
  checkNoSelfNesting(name, steps, configOf, where);
  // A tensor read by one step only, and not an output of the ensemble, may be handed over to it.
  const outputNames = new Set(outputs.map((o) => o.name));
  for (const step of steps) {
    for (const [, tensor] of step.inputs) {
      if (consumers.get(tensor)!.length === 1 && !outputNames.has(tensor) && 'step' in producers.get(tensor)!) step.donatable.add(tensor);
    }
  }
  return { name, inputs, outputs, maxBatchSize, steps, consumers, maxInflight: scheduling.max_inflight_requests, parallel: hasParallelSteps(steps, producers) };
}

/** True when some two steps do not depend on each other, directly or not. */
function hasParallelSteps(steps: PlanStep[], producers: Map<string, Producer>): boolean {
  const before = steps.map(() => new Set<number>());
  const visit = (i: number): Set<number> => {
    const set = before[i]!;
    if (set.has(-1)) return set;
    set.add(-1); // visited
    for (const [, tensor] of steps[i]!.inputs) {
      const p = producers.get(tensor)!;
      if ('step' in p) {
        set.add(p.step);
        for (const j of visit(p.step)) set.add(j);
      }
    }
    return set;
  };
  steps.forEach((_, i) => visit(i));
  for (let a = 0; a < steps.length; a++) for (let b = a + 1; b < steps.length; b++) if (!before[a]!.has(b) && !before[b]!.has(a)) return true;
  return false;
}

/** The steps must form a DAG: a step cannot wait, through other steps, on its own output. */
function checkAcyclic(steps: PlanStep[], producers: Map<string, Producer>, where: string): void {
  const state = new Array<0 | 1 | 2>(steps.length).fill(0); // unvisited, on the path, done
  const path: PlanStep[] = [];
  const visit = (step: PlanStep): void => {
    state[step.index] = 1;
    path.push(step);
    for (const [, tensor] of step.inputs) {
      const p = producers.get(tensor)!;
      if (!('step' in p)) continue;
      const before = steps[p.step]!;
      if (state[before.index] === 1) {
        const cycle = [...path.slice(path.indexOf(before)), before].map(stepName).join(' -> ');
        throw invalid(where, 'ensemble_scheduling.step', `the steps form a cycle: ${cycle} (each waits on the tensor the previous one produces)`);
      }
      if (state[before.index] === 0) visit(before);
    }
    path.pop();
    state[step.index] = 2;
  };
  for (const step of steps) if (state[step.index] === 0) visit(step);
}

/** No step may be an ensemble that leads back to this one (it would call itself for ever). */
function checkNoSelfNesting(name: string, steps: PlanStep[], configOf: (model: string) => ModelConfig | undefined, where: string): void {
  for (const step of steps) {
    const seen = new Set<string>();
    const walk = (model: string, chain: string[]): string[] | undefined => {
      if (model === name) return chain;
      if (seen.has(model)) return undefined;
      seen.add(model);
      const c = configOf(model);
      if (c?.platform !== 'ensemble') return undefined;
      for (const s of c.ensemble_scheduling?.step ?? []) {
        const found = walk(s.model_name, [...chain, s.model_name]);
        if (found) return found;
      }
      return undefined;
    };
    const loop = walk(step.model, [name, step.model]);
    if (loop) throw invalid(where, `ensemble_scheduling.step[${step.index}].model_name`, `model '${step.model}' leads back to this ensemble (${loop.join(' -> ')})`);
  }
}

function describe(t: Pick<TensorMetadata, 'datatype' | 'shape'>): string {
  return `${t.datatype} [${t.shape.join(',')}]`;
}

function fits(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d < 0 || b[i]! < 0 || d === b[i]);
}

/**
 * How every step fits the model that serves it (`metadataOf` gives its metadata, or throws why
 * there is none); returns the first problem, or undefined.
 */
export function checkFit(plan: EnsemblePlan, where: string, metadataOf: (step: PlanStep) => ServableMetadata): string | undefined {
  const produced = new Map<string, { meta: Pick<TensorMetadata, 'datatype' | 'shape'>; from: string }>();
  plan.inputs.forEach((t) => produced.set(t.name, { meta: t, from: 'the ensemble input' }));
  const metas: ServableMetadata[] = [];
  for (const step of plan.steps) {
    const field = `ensemble_scheduling.step[${step.index}]`;
    let meta: ServableMetadata;
    try {
      meta = metadataOf(step);
    } catch (err) {
      return `${where}: ${field}.model_name: ${(err as Error).message}`;
    }
    metas[step.index] = meta;
    for (const [output, tensor] of step.outputs) {
      const o = meta.outputs.find((t) => t.name === output);
      if (!o) return `${where}: ${field}.output_map.${output}: model '${step.model}' has no output '${output}' (outputs: ${meta.outputs.map((t) => t.name).join(', ')})`;
      produced.set(tensor, { meta: o, from: `${stepName(step)} output '${output}'` });
    }
  }
  for (const step of plan.steps) {
    const field = `ensemble_scheduling.step[${step.index}]`;
    const meta = metas[step.index]!;
    for (const [input, tensor] of step.inputs) {
      const i = meta.inputs.find((t) => t.name === input);
      if (!i) return `${where}: ${field}.input_map.${input}: model '${step.model}' has no input '${input}' (inputs: ${meta.inputs.map((t) => t.name).join(', ')})`;
      const p = produced.get(tensor)!;
      if (p.meta.datatype !== i.datatype) {
        return `${where}: ${field}.input_map.${input}: tensor '${tensor}' is ${p.meta.datatype} (from ${p.from}) but model '${step.model}' input '${input}' takes ${i.datatype}`;
      }
      if (!fits(p.meta.shape, i.shape)) {
        return `${where}: ${field}.input_map.${input}: tensor '${tensor}' has shape [${p.meta.shape.join(',')}] (from ${p.from}) but model '${step.model}' input '${input}' takes ${describe(i)}`;
      }
    }
    const unmapped = meta.inputs.filter((t) => !step.inputs.some(([name]) => name === t.name));
    if (unmapped.length > 0) return `${where}: ${field}.input_map: model '${step.model}' input '${unmapped[0]!.name}' is not mapped (every input of a step is fed)`;
  }
  for (const [i, o] of plan.outputs.entries()) {
    const p = produced.get(o.name)!;
    if (p.meta.datatype !== o.datatype || !fits(p.meta.shape, o.shape)) {
      return `${where}: output[${i}]: ensemble output '${o.name}' is declared ${describe(o)} but ${p.from} gives ${describe(p.meta)}`;
    }
  }
  return undefined;
}
