// The HTTP transport interface. The protocol and handlers are shared; a transport only moves bytes:
// uWebSockets.js (fast path) or node:http (fallback, and --http-engine node).
import { STATUS_CODES } from 'node:http';
import { ERROR_STATUS, errorBody } from '../protocol/errors.js';
import type { BodyBudget } from './body-budget.js';
import type { ClientAbort } from './client-abort.js';

/** Resolves when `count()` reaches 0 or after `timeoutMs`. */
export async function waitFor(count: () => number, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (count() > 0) {
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

export interface IncomingRequest {
  /** Upper-case method. */
  method: string;
  /** URL path, percent-decoding left to the router. */
  path: string;
  query: string;
  /** Lower-case header names (copied before any await: uWS requests die with the handler). */
  headers: Record<string, string>;
  body: Buffer;
}

export interface OutgoingResponse {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string | Buffer[];
  /** Close the connection after this response (shutdown, unread request bodies). */
  close?: boolean;
}

/** Handles one request; `signal` aborts when the client goes away. */
export type RequestHandler = (req: IncomingRequest, signal: ClientAbort) => Promise<OutgoingResponse> | OutgoingResponse;

/** What a connection may cost the server, and how long it may take: the defaults of the CLI flags. */
export interface TransportLimits {
  /** Bodies larger than this are refused with 413 before they are buffered. */
  maxBodyBytes: number;
  /** A connection must send its request head within this (node:http; uWS has its own fixed 10 s). */
  headerTimeoutMs: number;
  /** A request's body must arrive within this once its head has (0: no limit). */
  requestTimeoutMs: number;
  /**
   * A refused upload (413, or 503 when the body budget is spent) is read and discarded for up to this
   * long and this many bytes before the answer is sent and the connection closed: a client still
   * uploading would otherwise get a reset (EPIPE) instead of the answer (nginx's lingering close).
   */
  lingerTimeoutMs: number;
  lingerBytes: number;
}

export const DEFAULT_TRANSPORT_LIMITS = Object.freeze({
  headerTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  lingerTimeoutMs: 5_000,
  lingerBytes: 64 * 1024 * 1024,
});

export interface TransportOptions extends TransportLimits {
  host: string;
  port: number;
  /** Request bodies held at once, all connections together (shared with the gRPC front). */
  budget: BodyBudget;
  handler: RequestHandler;
  /**
   * Spare bytes to leave before the body, decided from the headers: the body is received at that
   * offset so that binary tensors inside it are aligned (and decode as views, not copies).
   */
  bodyPad?: (headers: Record<string, string>) => number;
}

export interface Transport {
  readonly kind: 'uws' | 'node';
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  /** Closes the listening socket: new connections are refused, open ones continue. */
  stopAccepting(): void;
  /**
   * Waits (up to `timeoutMs`) until every response handed to the transport is fully written, then
   * closes every connection.
   */
  close(timeoutMs: number): Promise<void>;
}

export function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Unknown'}`;
}

const JSON_TYPE = 'application/json';

export function bodyTooLarge(limit: number): OutgoingResponse {
  return {
    status: ERROR_STATUS.PAYLOAD_TOO_LARGE.http,
    headers: { 'content-type': JSON_TYPE },
    body: errorBody(`request body exceeds the limit of ${limit} bytes`),
    close: true,
  };
}

/** The refusal of a body while the server holds --max-inflight-body-bytes of them already. */
export function bodyBudgetSpent(limit: number): OutgoingResponse {
  return {
    status: ERROR_STATUS.OVERLOADED.http,
    headers: { 'content-type': JSON_TYPE, 'retry-after': '1' },
    body: errorBody(`the server holds ${limit} bytes of request bodies already (--max-inflight-body-bytes); retry later`),
    close: true,
  };
}

/** A body that did not arrive within --http-request-timeout. */
export function bodyTimedOut(timeoutMs: number): OutgoingResponse {
  return {
    status: ERROR_STATUS.REQUEST_TIMEOUT.http,
    headers: { 'content-type': JSON_TYPE },
    body: errorBody(`the request body did not arrive within ${timeoutMs} ms`),
    close: true,
  };
}

export function toBuffer(body: OutgoingResponse['body']): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (Buffer.isBuffer(body)) return body;
  return body.length === 1 ? body[0]! : Buffer.concat(body);
}
