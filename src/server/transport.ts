// The HTTP transport interface. The protocol and handlers are shared; a transport only moves bytes:
// uWebSockets.js (fast path) or node:http (fallback, and --http-engine node).
import { STATUS_CODES } from 'node:http';
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

export interface TransportOptions {
  host: string;
  port: number;
  /** Bodies larger than this are refused with 413 before they are buffered. */
  maxBodyBytes: number;
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

export function bodyTooLarge(limit: number): OutgoingResponse {
  return {
    status: 413,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ error: `request body exceeds the limit of ${limit} bytes` }),
    close: true,
  };
}

export function toBuffer(body: OutgoingResponse['body']): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (Buffer.isBuffer(body)) return body;
  return body.length === 1 ? body[0]! : Buffer.concat(body);
}
