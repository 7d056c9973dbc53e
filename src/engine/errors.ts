// One error class for everything the engine rejects, with a stable `code` for programs. The native
// addon builds its errors through this class too (registered as its error factory).

export type ErrorCode =
  | 'INVALID_ARGUMENT' // bad input or options: names, datatypes, shapes, element counts
  | 'QUEUE_FULL' // the priority level's max_queue_size is reached
  | 'TIMEOUT' // the request's queue timeout ran out (timeout_action REJECT)
  | 'ABORTED' // the caller's AbortSignal fired
  | 'UNAVAILABLE' // the model is unloading or unloaded
  | 'MODEL_LOAD_FAILED' // missing, truncated or corrupt model, or unsupported content
  | 'ORT_ERROR' // ONNX Runtime failed while running
  | 'INTERNAL';

export class TensorgateError extends Error {
  readonly code: ErrorCode;
  /** ONNX Runtime's own error code name (ORT_INVALID_ARGUMENT, ...) when ORT produced the error. */
  readonly ortCode: string | undefined;

  constructor(code: ErrorCode, message: string, ortCode?: string) {
    super(message);
    this.name = 'TensorgateError';
    this.code = code;
    this.ortCode = ortCode;
  }
}

export function isTensorgateError(err: unknown, code?: ErrorCode): err is TensorgateError {
  return err instanceof TensorgateError && (code === undefined || err.code === code);
}
