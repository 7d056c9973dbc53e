// A failed request as an HTTP response: the status from the error table (src/protocol/errors.ts), a
// JSON `{"error": ...}` body, the headers the status calls for, and a log line when the failure is
// not one the protocol expects (a bug or a backend failure rather than a client's mistake).
import { errorBody, errorMessage, httpStatusFor, isExpectedError, retryAfterFor } from '../protocol/errors.js';
import type { RouteMatch } from './routes.js';
import type { OutgoingResponse } from './transport.js';

export interface ServerLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

export function errorResponse(err: unknown, match: RouteMatch | null, log: ServerLogger): OutgoingResponse {
  const status = httpStatusFor(err);
  if (!isExpectedError(err)) log.error({ route: match?.route, err: errorMessage(err) }, 'request failed');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const retryAfter = retryAfterFor(err);
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  if (status === 401) headers['www-authenticate'] = 'Bearer';
  return { status, headers, body: errorBody(errorMessage(err)) };
}
