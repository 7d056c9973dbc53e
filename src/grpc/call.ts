// A grpc-js call as the front reads and answers it: its metadata and deadline; errors as gRPC statuses
// (code from the one table in src/protocol/errors.ts, details = the message HTTP puts in {"error"});
// and how a call ended, for the metrics: a call the client cancelled, or whose deadline grpc-js
// enforced, ended with that status whatever the handler said afterwards.
import { Metadata, status, type Deadline, type ServerUnaryCall, type StatusObject } from '@grpc/grpc-js';
import { errorMessage, grpcStatusFor, ProtocolError, retryAfterFor } from '../protocol/errors.js';

/** What the front reads of any call, unary or stream. */
export type CallInfo = Pick<ServerUnaryCall<unknown, unknown>, 'metadata' | 'cancelled' | 'getDeadline'>;

/** The first value of a text metadata key (grpc-js lower-cases keys; binary keys end in -bin). */
export function metadataText(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : undefined;
}

/** The status of an error; a retryable refusal carries `retry-after` (seconds, as HTTP's header) in its trailers. */
export function toStatus(err: unknown): Partial<StatusObject> {
  const answer: Partial<StatusObject> = { code: grpcStatusFor(err), details: errorMessage(err) };
  const retryAfter = retryAfterFor(err);
  if (retryAfter !== undefined) {
    const metadata = new Metadata();
    metadata.set('retry-after', String(retryAfter));
    answer.metadata = metadata;
  }
  return answer;
}

/** The refusal of new work while the server drains (as HTTP's 503). */
export function shuttingDown(): ProtocolError {
  return new ProtocolError('UNAVAILABLE', 'the server is shutting down');
}

/** Ends a server stream with the status of `err` (grpc-js's way: an 'error' event carrying it). */
export function endStream(call: NodeJS.EventEmitter, err: unknown): void {
  const { code, details } = toStatus(err);
  call.emit('error', Object.assign(new Error(details), { code, details }));
}

/** Milliseconds since the epoch, Infinity when the call has no deadline. */
function deadlineMs(deadline: Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/** A deadline as the queue timeout of a request: remaining µs, at least 1; 0 (none) for no deadline. */
export function deadlineUs(deadline: Deadline): number {
  const ms = deadlineMs(deadline);
  if (ms === Infinity) return 0;
  return Math.max(1, Math.round((ms - Date.now()) * 1000));
}

/** The status code name a call ended with, for the metrics ('OK', 'NOT_FOUND', ...). */
export function outcome(call: CallInfo, code: status): string {
  if (call.cancelled) return Date.now() >= deadlineMs(call.getDeadline()) ? 'DEADLINE_EXCEEDED' : 'CANCELLED';
  return codeName(code);
}

export function codeName(code: status): string {
  return status[code] ?? String(code);
}
