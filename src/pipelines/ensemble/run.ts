// One request through an ensemble: tensors flow as a DAG, each step starts as soon as every tensor it
// reads exists (independent steps run at once), and each step resolves its model through the
// repository for this request (a lease for the call: a swapped step model serves the next request
// without the ensemble reloading). The request's deadline, priority, cancellation and trace context
// reach every step; the first failing step fails the request (its error kind kept, the step named)
// and cancels the steps still running.
import { TensorgateError } from '../../engine/errors.js';
import type { AbortSignalLike, InferInputs, InferOutputs, InferTimings, InputTensor } from '../../engine/index.js';
import type { ModelAccess, ServableInferOptions } from '../../repository/backend.js';
import type { ServedVersion } from '../../repository/model-entry.js';
import { withContext } from '../errors.js';
import type { EnsemblePlan, PlanStep } from './plan.js';
import type { StepStats } from './step-stats.js';

const nowNs = (): number => performance.now() * 1e6;

/** A concurrency limit per step (max_inflight_requests), with a FIFO of waiters. */
export class StepGate {
  #inflight = 0;
  readonly #waiting: Array<() => void> = [];
  constructor(readonly limit: number) {}

  enter(signal: AbortSignalLike | undefined): Promise<void> | undefined {
    if (this.limit === 0 || this.#inflight < this.limit) {
      this.#inflight++;
      return undefined;
    }
    return new Promise((resolve, reject) => {
      const go = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.#inflight++;
        resolve();
      };
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(go);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(new TensorgateError('ABORTED', 'inference aborted while waiting for max_inflight_requests'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(go);
    });
  }

  leave(): void {
    this.#inflight--;
    this.#waiting.shift()?.();
  }
}

export interface RunContext {
  plan: EnsemblePlan;
  models: ModelAccess;
  gates: StepGate[];
  steps: StepStats;
  /** The chain this request is in, the ensemble last. */
  chain: readonly string[];
}

/** Runs one request; resolves with the ensemble outputs asked for. */
export function runEnsemble(rc: RunContext, inputs: InferInputs, options: ServableInferOptions): Promise<InferOutputs> {
  const { plan } = rc;
  const started = nowNs();
  const timeoutUs = options.timeoutUs ?? (options.timeoutMs !== undefined ? options.timeoutMs * 1000 : 0);
  const deadlineNs = timeoutUs > 0 ? started + timeoutUs * 1000 : 0;
  const tensors = new Map<string, InputTensor | InferOutputs[string]>();
  for (const name in inputs) tensors.set(name, inputs[name]!);
  // Inputs each step still waits for (the ensemble's own inputs are there from the start).
  const missing = plan.steps.map((s) => s.inputs.filter(([, tensor]) => !tensors.has(tensor)).length);
  // Steps that run side by side are cancelled together when one fails; a chain runs one step at a
  // time, so the caller's own signal is all its steps need (and no controller is paid for).
  const callerSignal = options.signal;
  const controller = plan.parallel ? new AbortController() : undefined;
  const onCallerAbort = (): void => controller!.abort(callerSignal?.reason);
  if (controller) callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
  const signal = controller?.signal ?? callerSignal;
  const stopped = (): boolean => settled || signal?.aborted === true;
  const timings = options.timings;
  let pending = plan.steps.length;
  let settled = false;

  return new Promise<InferOutputs>((resolve, reject) => {
    const finish = (error: unknown): void => {
      if (settled) return;
      settled = true;
      if (controller) callerSignal?.removeEventListener('abort', onCallerAbort);
      if (error !== undefined) {
        controller?.abort(error);
        reject(error);
        return;
      }
      const out: InferOutputs = {};
      for (const name of options.outputs ?? plan.outputs.map((o) => o.name)) out[name] = tensors.get(name) as InferOutputs[string];
      resolve(out);
    };

    const start = (step: PlanStep): void => {
      void runStep(step).then(
        () => {
          if (settled) return;
          for (const [, tensor] of step.outputs) {
            for (const consumer of plan.consumers.get(tensor) ?? []) {
              if (--missing[consumer]! === 0) start(plan.steps[consumer]!);
            }
          }
          if (--pending === 0) finish(undefined);
        },
        (err: unknown) => finish(withContext(err, `ensemble '${plan.name}' ${`step[${step.index}] (model '${step.model}')`}`)),
      );
    };

    const runStep = async (step: PlanStep): Promise<void> => {
      const gate = rc.gates[step.index]!;
      const entering = gate.enter(signal);
      if (entering) await entering;
      if (settled) {
        gate.leave();
        return;
      }
      let served: ServedVersion | undefined;
      const t0 = nowNs();
      const stepTimings: InferTimings = { queueNs: 0, computeNs: 0, batchSize: 0 };
      try {
        let remainingUs = 0;
        if (deadlineNs !== 0) {
          remainingUs = Math.floor((deadlineNs - t0) / 1000);
          if (remainingUs <= 0) throw new TensorgateError('TIMEOUT', "the request's deadline passed before this step could start");
        }
        const leased = rc.models.acquire(step.model, step.version);
        served = leased instanceof Promise ? await leased : leased;
        if (stopped()) throw new TensorgateError('ABORTED', 'inference aborted');
        const stepInputs: Record<string, InputTensor> = {};
        let donate = true;
        for (const [input, tensor] of step.inputs) {
          stepInputs[input] = tensors.get(tensor) as InputTensor;
          if (!step.donatable.has(tensor)) donate = false;
        }
        // Asking for every output is asking for none in particular (the engine then skips the selection).
        const all = served.model.metadata.outputs.length === step.requested.length;
        const stepOptions: ServableInferOptions = {
          outputs: all ? undefined : step.requested,
          priority: options.priority,
          timeoutUs: remainingUs,
          signal,
          timings: stepTimings,
          trace: options.trace,
          chain: rc.chain,
          waiter: options.waiter,
          parameters: options.parameters,
          id: options.id,
          donateInputs: donate,
        };
        // A route answers through the inference stages (its choice of target, its fallback chain).
        const outputs = served.model.throughService
          ? await rc.models.call(step.model, step.version, stepInputs, stepOptions)
          : await served.model.infer(stepInputs, stepOptions);
        for (const [output, tensor] of step.outputs) tensors.set(tensor, outputs[output]!);
        rc.steps.succeeded(step.index, step.model, served.versionLabel, nowNs() - t0, stepTimings.queueNs, stepTimings.computeNs);
        if (timings) {
          timings.queueNs += stepTimings.queueNs;
          timings.computeNs += stepTimings.computeNs;
          timings.batchSize = Math.max(timings.batchSize, stepTimings.batchSize);
        }
      } catch (err) {
        rc.steps.failed(step.index, step.model, served?.versionLabel ?? '', nowNs() - t0);
        throw err;
      } finally {
        if (served) rc.models.release(served);
        gate.leave();
      }
    };

    if (timings) {
      timings.queueNs = 0;
      timings.computeNs = 0;
      timings.batchSize = 0;
    }
    for (const step of plan.steps) if (missing[step.index] === 0) start(step);
  });
}
