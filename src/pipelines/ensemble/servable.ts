// An ensemble version (`"platform": "ensemble"`, Triton's ensemble_scheduling): no model of its own,
// a DAG of steps run per request (run.ts). Loading checks the config and how each step fits the model
// serving it; a swap of a step's model is checked again as it happens, and a step that no longer fits
// (or is gone) makes the ensemble unhealthy, with the reason, instead of failing requests mysteriously.
// Statistics: the ensemble's own in the engine's form, and each step's as Triton's composing models.
import { createHash } from 'node:crypto';
import { TensorgateError } from '../../engine/errors.js';
import type { InferInputs, InferOutputs, ModelStats } from '../../engine/index.js';
import { InputSpec } from '../../engine/input-check.js';
import type { BackendLoad, ComposingStats, ModelAccess, Servable, ServableInferOptions, ServableMetadata } from '../../repository/backend.js';
import { RepositoryError } from '../../repository/errors.js';
import { warmedUp } from '../../repository/warmup.js';
import { enterChain } from '../calls.js';
import { StatsRecorder } from '../stats.js';
import { checkFit, planEnsemble, type EnsemblePlan, type PlanStep } from './plan.js';
import { runEnsemble, StepGate, type RunContext } from './run.js';
import { StepStats } from './step-stats.js';

const nowNs = (): number => performance.now() * 1e6;

/**
 * A step model's metadata once it is settled: a model still loading is waited for (acquire waits on
 * a load in progress), and a route is waited for with the model it answers like (its metadata is its
 * primary target's).
 */
async function settledMetadata(models: ModelAccess, name: string, version: string | undefined, depth: number): Promise<ServableMetadata> {
  const leased = models.acquire(name, version);
  const served = leased instanceof Promise ? await leased : leased;
  try {
    const other = served.model.readyWith;
    if (other !== undefined && depth < 4) await settledMetadata(models, other.model, other.version === undefined ? undefined : String(other.version), depth + 1).catch(() => undefined);
    return served.model.metadata;
  } finally {
    models.release(served);
  }
}

export class EnsembleServable implements Servable {
  readonly metadata: ServableMetadata;
  readonly #name: string;
  readonly #where: string;
  readonly #plan: EnsemblePlan;
  readonly #models: ModelAccess;
  readonly #inputs: InputSpec;
  readonly #stats: StatsRecorder;
  readonly #steps = new StepStats();
  readonly #gates: StepGate[];
  readonly #configHash: string;
  readonly #stepNames: Set<string>;
  #unwatch: (() => void) | undefined;
  #problem: string | undefined;
  #identity: string | undefined;
  #accepting = true;
  #inflight = 0;
  #drained: (() => void) | undefined;

  private constructor(load: BackendLoad, plan: EnsemblePlan) {
    this.#name = load.name;
    this.#where = load.where;
    this.#plan = plan;
    this.#models = load.models;
    this.metadata = { inputs: plan.inputs, outputs: plan.outputs, maxBatchSize: plan.maxBatchSize, dynamicBatching: false };
    this.#inputs = new InputSpec(plan.inputs);
    this.#stats = new StatsRecorder(plan.maxBatchSize);
    this.#gates = plan.steps.map(() => new StepGate(plan.maxInflight));
    this.#configHash = createHash('sha256').update(JSON.stringify(load.config)).digest('hex');
    this.#stepNames = new Set(plan.steps.map((s) => s.model));
  }

  /** Checks the config, waits for the steps' models (loading ones included), checks the fit, warms up. */
  static async load(load: BackendLoad): Promise<EnsembleServable> {
    const plan = planEnsemble(load.name, load.config, load.where, (m) => load.models.configOf(m));
    // Steps still loading are waited for (acquire waits on a load in progress); planEnsemble has
    // ruled out ensembles that contain themselves, so this cannot wait on itself.
    const metadata = new Map<PlanStep, ServableMetadata | Error>();
    for (const step of plan.steps) {
      try {
        metadata.set(step, await settledMetadata(load.models, step.model, step.version, 0));
      } catch (err) {
        metadata.set(step, err as Error);
      }
    }
    const problem = checkFit(plan, load.where, (step) => {
      const m = metadata.get(step)!;
      if (m instanceof Error) throw m;
      return m;
    });
    if (problem !== undefined) throw new RepositoryError('INVALID', problem);
    const servable = new EnsembleServable(load, plan);
    servable.#unwatch = load.models.watch((change) => {
      const name = change.version.name;
      if (servable.#stepNames.has(name) || servable.#routeTargets().has(name)) servable.#recheck();
    });
    return warmedUp(servable, load.config.model_warmup, load.dir);
  }

  /** The models route steps answer like (their primary targets): a change to one changes the step. */
  #routeTargets(): Set<string> {
    const out = new Set<string>();
    for (const step of this.#plan.steps) {
      const other = this.#models.served(step.model, step.version)[0]?.model.readyWith;
      if (other) out.add(other.model);
    }
    return out;
  }

  /** A step's model changed: does every step still fit what serves it now? */
  #recheck(): void {
    this.#identity = undefined;
    this.#problem = checkFit(this.#plan, this.#where, (step) => {
      const served = this.#models.served(step.model, step.version);
      if (served[0]) return served[0].model.metadata;
      if (this.#models.onDemand) throw new Error('(loaded on demand)');
      throw new Error(step.version === undefined ? `model '${step.model}' is not served` : `model '${step.model}' version ${step.version} is not served`);
    });
    if (this.#problem?.endsWith('(loaded on demand)')) this.#problem = undefined;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  infer(inputs: InferInputs, options: ServableInferOptions = {}): Promise<InferOutputs> {
    let chain: readonly string[];
    try {
      if (!this.#accepting) throw new TensorgateError('UNAVAILABLE', `ensemble '${this.#name}' is unloading and accepts no new requests`);
      if (this.#problem !== undefined) throw new TensorgateError('UNAVAILABLE', this.#problem);
      let given = 0;
      for (const name in inputs) {
        this.#inputs.check(name, inputs[name]!);
        given++;
      }
      if (given !== this.#inputs.names.length) throw this.#inputs.missing((n) => n in inputs);
      for (const o of options.outputs ?? []) {
        if (!this.#plan.outputs.some((t) => t.name === o)) {
          throw new TensorgateError('INVALID_ARGUMENT', `unknown output '${o}' (model outputs: ${this.#plan.outputs.map((t) => t.name).join(', ')})`);
        }
      }
      chain = enterChain(options.chain, this.#name);
      if (options.signal?.aborted) throw new TensorgateError('ABORTED', 'inference aborted');
    } catch (err) {
      if (err instanceof TensorgateError && err.code === 'UNAVAILABLE') this.#stats.refused(err);
      return Promise.reject(err);
    }
    const rc: RunContext = { plan: this.#plan, models: this.#models, gates: this.#gates, steps: this.#steps, chain };
    const t0 = nowNs();
    this.#inflight++;
    this.#stats.accepted();
    const rows = this.#plan.maxBatchSize > 0 ? (inputs[this.#inputs.names[0]!]!.shape[0] ?? 0) : 1;
    const timings = options.timings ?? { queueNs: 0, computeNs: 0, batchSize: 0 };
    return runEnsemble(rc, inputs, { ...options, timings }).then(
      (outputs) => {
        this.#stats.queued(timings.queueNs);
        this.#stats.executed(1, rows, 0, timings.computeNs, 0);
        this.#stats.succeeded(nowNs() - t0);
        this.#done();
        return outputs;
      },
      (err: unknown) => {
        this.#stats.failed(nowNs() - t0, err);
        this.#done();
        throw err;
      },
    );
  }

  #done(): void {
    if (--this.#inflight === 0 && this.#drained) this.#drained();
  }

  stats(): ModelStats {
    return this.#stats.snapshot();
  }

  composing(): ComposingStats[] {
    return this.#steps.snapshot();
  }

  unhealthy(): string | undefined {
    return this.#problem;
  }

  /** The ensemble's config and the content of every step's serving version: a step swap changes it. */
  cacheIdentity(): string {
    if (this.#identity !== undefined) return this.#identity;
    const h = createHash('sha256').update(this.#configHash);
    for (const step of this.#plan.steps) {
      const s = this.#models.served(step.model, step.version)[0];
      h.update(`\0${step.model}\0${s ? (s.model.cacheIdentity?.() ?? s.contentHash) : '-'}`);
    }
    return (this.#identity = h.digest('hex'));
  }

  async unload(): Promise<void> {
    this.#accepting = false;
    this.#unwatch?.();
    this.#unwatch = undefined;
    if (this.#inflight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
  }
}
