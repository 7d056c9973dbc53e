// Where an inference request goes: the model instance that serves it (a lease from the repository),
// through the response cache when the model enables it (later), into the engine. The one place to
// add traffic splitting (canary, shadow, bandits) later.
import type { InferInputs, InferOutputs } from '../engine/index.js';
import type { ModelRepository, ServedInstance } from '../repository/repository.js';

export interface RouteRequest {
  inputs: InferInputs;
  outputs?: readonly string[];
  priority?: number;
  timeoutUs?: number;
  signal?: AbortSignal;
}

export class InferenceRouter {
  readonly #repository: ModelRepository;

  constructor(repository: ModelRepository) {
    this.#repository = repository;
  }

  /** The instance to serve `name`/`version`, leased: pass it to release() when done. */
  resolve(name: string, version?: string): ServedInstance | Promise<ServedInstance> {
    return this.#repository.acquire(name, version);
  }

  release(target: ServedInstance): void {
    this.#repository.release(target);
  }

  infer(target: ServedInstance, request: RouteRequest): Promise<InferOutputs> {
    return target.model.infer(request.inputs, {
      ...(request.outputs ? { outputs: request.outputs } : {}),
      ...(request.priority !== undefined ? { priority: request.priority } : {}),
      ...(request.timeoutUs !== undefined ? { timeoutUs: request.timeoutUs } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
  }
}
