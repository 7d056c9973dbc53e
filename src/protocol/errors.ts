// Protocol errors and the HTTP status of every error the server can meet. Bodies follow the v2
// protocol: `{"error": "<message>"}`.
import { TensorgateError } from '../engine/errors.js';

/** An error the protocol layer raises itself, with the HTTP status to answer with. */
export class ProtocolError extends Error {
  /** HTTP status: 400 malformed input, 404 not found, 413 too large, 503 unavailable, 504 timeout... */
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.status = status;
  }
}

/** A 400 ProtocolError (the common case while decoding requests). */
export function badRequest(message: string): ProtocolError {
  return new ProtocolError(400, message);
}

/**
 * The HTTP status for an error, following Triton's HttpCodeFromError where the engine's codes have a
 * Triton counterpart:
 *
 * - INVALID_ARGUMENT → 400.
 * - QUEUE_FULL, UNAVAILABLE → 503 (Triton: UNAVAILABLE).
 * - TIMEOUT → 503: the request's queue timeout ran out before it was scheduled. Triton reports this
 *   as UNAVAILABLE ("Request timeout expired"), hence 503 rather than 504 (which would suggest a
 *   gateway problem); clients treat it as retryable, as with a full queue.
 * - ABORTED → 400, as Triton's CANCELLED (the client that cancelled is usually gone anyway).
 * - MODEL_LOAD_FAILED → 400: it reaches HTTP through the repository load endpoint, where Triton
 *   answers a failed load with 400 (the model the caller asked for is unusable as given).
 * - ORT_ERROR → 500, except when ONNX Runtime itself classed it ORT_INVALID_ARGUMENT (inputs the
 *   graph cannot take, e.g. incompatible dims): 400.
 * - INTERNAL → 500.
 * - ProtocolError → its own status. Anything else → 500.
 */
export function httpStatusFor(err: unknown): number {
  if (err instanceof ProtocolError) return err.status;
  if (err instanceof TensorgateError) {
    switch (err.code) {
      case 'INVALID_ARGUMENT':
      case 'ABORTED':
      case 'MODEL_LOAD_FAILED':
        return 400;
      case 'QUEUE_FULL':
      case 'UNAVAILABLE':
      case 'TIMEOUT':
        return 503;
      case 'ORT_ERROR':
        return err.ortCode === 'ORT_INVALID_ARGUMENT' ? 400 : 500;
      case 'INTERNAL':
        return 500;
    }
  }
  return 500;
}

/** The message to send for an error (any thrown value). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The v2 error body: `{"error": "<message>"}`. */
export function errorBody(message: string): Buffer {
  return Buffer.from(JSON.stringify({ error: message }), 'utf8');
}
