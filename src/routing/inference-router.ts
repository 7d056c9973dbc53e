// Where an inference request goes: the model instance that serves it (a lease from the repository),
// through the response cache when the model enables it (later), into the engine. The one place to
// add traffic splitting (canary, shadow, bandits) later.
import type { AbortSignalLike, InferInputs, InferOutputs } from '../engine/index.js';
import type { ModelRepository, ServedInstance } from '../repository/repository.js';

export interface RouteRequest {
  inputs: InferInputs;
  outputs: readonly string[] | undefined;
  priority: number | undefined;
  timeoutUs: number | undefined;
  signal: AbortSignalLike | undefined;
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
    return target.model.infer(request.inputs, request);
  }
}
