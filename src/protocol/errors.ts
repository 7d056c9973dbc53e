// Every error the server can answer with, and its status on each front: one table, read by the HTTP
// front (status code) and the gRPC front (status code). Bodies follow the v2 protocol:
// `{"error": "<message>"}` over HTTP, the status details over gRPC.
import { TensorgateError } from '../engine/errors.js';
import { RepositoryError } from '../repository/errors.js';

/** gRPC status codes (grpc/doc/statuscodes.md), the subset the server answers with. */
export const GrpcStatus = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcStatusCode = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/**
 * The kinds of failure, with Triton's choices where it has one (HttpCodeFromError, and the gRPC codes
 * of its server):
 * - QUEUE_FULL: 503, RESOURCE_EXHAUSTED — retryable.
 * - OVERLOADED: admission control refused a request that could not start before its deadline, or the
 *   server holds as many request bodies as it may (503 + Retry-After, UNAVAILABLE: retry elsewhere or
 *   later; gRPC clients retry UNAVAILABLE by default policy, not RESOURCE_EXHAUSTED).
 * - TIMEOUT: the request's queue timeout (or gRPC deadline) ran out before it was scheduled. Triton
 *   answers UNAVAILABLE ("Request timeout expired") over HTTP, hence 503 rather than 504 (which would
 *   suggest a gateway problem); over gRPC the deadline's own DEADLINE_EXCEEDED.
 * - REQUEST_TIMEOUT: the client did not send its request (head or body) in time: 408, and the
 *   connection closes.
 * - CANCELLED: 400 as Triton's CANCELLED over HTTP (the client that cancelled is usually gone anyway).
 * - MODEL_LOAD_FAILED: reaches a client through the repository load API, where Triton answers a
 *   failed load with 400 / INVALID_ARGUMENT (the model asked for is unusable as given).
 */
export const ERROR_STATUS = {
  INVALID_ARGUMENT: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND },
  UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED },
  METHOD_NOT_ALLOWED: { http: 405, grpc: GrpcStatus.UNIMPLEMENTED },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  HEADERS_TOO_LARGE: { http: 431, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, grpc: GrpcStatus.INVALID_ARGUMENT },
  /** The request is valid but does not apply in the current state (a management action such as resuming a rollout that is not paused). */
  FAILED_PRECONDITION: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION },
  QUEUE_FULL: { http: 503, grpc: GrpcStatus.RESOURCE_EXHAUSTED },
  OVERLOADED: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE },
  TIMEOUT: { http: 503, grpc: GrpcStatus.DEADLINE_EXCEEDED },
  CANCELLED: { http: 400, grpc: GrpcStatus.CANCELLED },
  REQUEST_TIMEOUT: { http: 408, grpc: GrpcStatus.DEADLINE_EXCEEDED },
  MODEL_LOAD_FAILED: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL },
} as const satisfies Record<string, { http: number; grpc: GrpcStatusCode }>;

export type ErrorKind = keyof typeof ERROR_STATUS;

/** The kind a protocol error given as an HTTP status stands for. */
const KIND_OF_HTTP_STATUS: Readonly<Record<number, ErrorKind>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'FAILED_PRECONDITION',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  503: 'UNAVAILABLE',
};

/** An error the protocol layer or a front raises itself. */
export class ProtocolError extends Error {
  readonly kind: ErrorKind;
  /** When to retry, in whole seconds (HTTP Retry-After, gRPC retry-after metadata); 503s default to 1. */
  retryAfterSeconds: number | undefined = undefined;

  constructor(kind: ErrorKind | number, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.kind = typeof kind === 'number' ? (KIND_OF_HTTP_STATUS[kind] ?? 'INTERNAL') : kind;
  }

  /** The HTTP status to answer with. */
  get status(): number {
    return ERROR_STATUS[this.kind].http;
  }
}

/** An INVALID_ARGUMENT ProtocolError (the common case while decoding requests). */
export function badRequest(message: string): ProtocolError {
  return new ProtocolError('INVALID_ARGUMENT', message);
}

const ENGINE_KIND: Readonly<Record<TensorgateError['code'], ErrorKind>> = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  QUEUE_FULL: 'QUEUE_FULL',
  TIMEOUT: 'TIMEOUT',
  ABORTED: 'CANCELLED',
  UNAVAILABLE: 'UNAVAILABLE',
  MODEL_LOAD_FAILED: 'MODEL_LOAD_FAILED',
  ORT_ERROR: 'INTERNAL',
  INTERNAL: 'INTERNAL',
};

const REPOSITORY_KIND: Readonly<Record<RepositoryError['code'], ErrorKind>> = {
  NOT_FOUND: 'NOT_FOUND',
  INVALID: 'INVALID_ARGUMENT',
  UNAVAILABLE: 'UNAVAILABLE',
  LOAD_FAILED: 'MODEL_LOAD_FAILED',
};

/**
 * The kind of any thrown value. ONNX Runtime's own errors are INTERNAL, except those ORT itself
 * classed ORT_INVALID_ARGUMENT (inputs the graph cannot take, e.g. incompatible dims). Anything that
 * is not one of the server's errors is INTERNAL.
 */
export function errorKind(err: unknown): ErrorKind {
  if (err instanceof ProtocolError) return err.kind;
  if (err instanceof TensorgateError) {
    if (err.code === 'ORT_ERROR' && err.ortCode === 'ORT_INVALID_ARGUMENT') return 'INVALID_ARGUMENT';
    return ENGINE_KIND[err.code];
  }
  if (err instanceof RepositoryError) return REPOSITORY_KIND[err.code];
  return 'INTERNAL';
}

/** The HTTP status for an error (any thrown value). */
export function httpStatusFor(err: unknown): number {
  return ERROR_STATUS[errorKind(err)].http;
}

/** The gRPC status code for an error (any thrown value). */
export function grpcStatusFor(err: unknown): GrpcStatusCode {
  return ERROR_STATUS[errorKind(err)].grpc;
}

/** The Retry-After of an error (whole seconds): the error's own, else 1 for any 503. */
export function retryAfterFor(err: unknown): number | undefined {
  if (err instanceof ProtocolError && err.retryAfterSeconds !== undefined) return err.retryAfterSeconds;
  return httpStatusFor(err) === 503 ? 1 : undefined;
}

/** Whether an error is the server's own answer to a request (not a bug to log). */
export function isExpectedError(err: unknown): boolean {
  return err instanceof ProtocolError || err instanceof RepositoryError || (err instanceof TensorgateError && errorKind(err) !== 'INTERNAL');
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
