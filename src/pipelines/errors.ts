// Errors crossing threads and model boundaries keep their kind (the one error table of
// src/protocol/errors.ts decides the status): a call's QUEUE_FULL stays a 503 after it went through a
// worker thread, an ensemble step or a model's own code.
import { TensorgateError, type ErrorCode } from '../engine/errors.js';
import { ERROR_STATUS, errorKind, errorMessage, ProtocolError, type ErrorKind } from '../protocol/errors.js';
import { RepositoryError } from '../repository/errors.js';

/** An error as it travels between threads (structured clone keeps no class). */
export interface WireError {
  kind: ErrorKind;
  message: string;
}

const ENGINE_CODE: Partial<Record<ErrorKind, ErrorCode>> = {
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  QUEUE_FULL: 'QUEUE_FULL',
  TIMEOUT: 'TIMEOUT',
  CANCELLED: 'ABORTED',
  UNAVAILABLE: 'UNAVAILABLE',
  MODEL_LOAD_FAILED: 'MODEL_LOAD_FAILED',
  INTERNAL: 'INTERNAL',
};

export function toWireError(err: unknown): WireError {
  return { kind: errorKind(err), message: errorMessage(err) };
}

/** The error a wire error stands for, as the class that carries its kind. */
export function fromWireError(w: WireError): Error {
  const code = ENGINE_CODE[w.kind];
  if (code !== undefined) return new TensorgateError(code, w.message);
  if (w.kind === 'NOT_FOUND') return new RepositoryError('NOT_FOUND', w.message);
  return new ProtocolError(w.kind, w.message);
}

/** The same kind of error, its message prefixed with where it happened. */
export function withContext(err: unknown, prefix: string): Error {
  return fromWireError({ kind: errorKind(err), message: `${prefix}: ${errorMessage(err)}` });
}

/** Engine codes a model may name as well as the error table's kinds. */
const CODE_ALIASES: Record<string, ErrorKind> = { ABORTED: 'CANCELLED', ORT_ERROR: 'INTERNAL' };

/**
 * What an error thrown or returned by model code means: an error the server made (a call to another
 * model that failed) keeps its kind; a plain error may name one in `code` ('INVALID_ARGUMENT' answers
 * 400, 'UNAVAILABLE' 503...); anything else is INTERNAL (500) with the model's message.
 */
export function modelWireError(value: unknown): WireError {
  if (value instanceof TensorgateError || value instanceof RepositoryError || value instanceof ProtocolError) return toWireError(value);
  const message = value instanceof Error ? value.message : typeof value === 'string' ? value : `non-Error value thrown: ${safeString(value)}`;
  const code = value !== null && typeof value === 'object' ? (value as { code?: unknown }).code : undefined;
  if (typeof code === 'string') {
    const kind = CODE_ALIASES[code] ?? (Object.hasOwn(ERROR_STATUS, code) ? (code as ErrorKind) : undefined);
    if (kind !== undefined) return { kind, message };
  }
  return { kind: 'INTERNAL', message };
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
