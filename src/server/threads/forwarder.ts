// Both ends of a request that an HTTP worker thread hands to the main thread: the worker posts it
// whole (its body moved, not copied, when it owns its memory) and writes the main thread's answer
// as it comes; a client that disconnects meanwhile aborts it on the main thread too.
import type { MessagePort } from 'node:worker_threads';
import type { ClientAbort } from '../client-abort.js';
import type { IncomingRequest, OutgoingResponse } from '../transport.js';
import { toBuffer } from '../transport.js';
import type { FromWorker, WireRequest, WireResponse } from './protocol.js';

/** `bytes` as an array that owns exactly its bytes (structured clone copies a view's whole buffer). */
export function exact(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/** The worker's end: forward() posts the request and resolves with the main thread's response. */
export class Forwarder {
  readonly #port: MessagePort;
  readonly #pending = new Map<number, (response: OutgoingResponse) => void>();
  #next = 0;

  constructor(port: MessagePort) {
    this.#port = port;
  }

  forward(req: IncomingRequest, signal: ClientAbort): Promise<OutgoingResponse> {
    const id = ++this.#next;
    const body = req.body.length === 0 ? new Uint8Array(0) : exact(req.body);
    const request: WireRequest = { method: req.method, path: req.path, query: req.query, headers: req.headers, body };
    // The body is this request's alone (the transport allocated it): moved, not copied. Small ones
    // come from Buffer's shared pool and were copied by exact().
    const message: FromWorker = { type: 'request', id, request };
    this.#port.postMessage(message, body.byteLength > 0 && body.buffer instanceof ArrayBuffer ? [body.buffer] : []);
    return new Promise<OutgoingResponse>((resolve) => {
      this.#pending.set(id, resolve);
      signal.addEventListener('abort', () => {
        if (this.#pending.has(id)) this.#port.postMessage({ type: 'abort', id } satisfies FromWorker);
      });
    });
  }

  answer(id: number, response: WireResponse): void {
    const resolve = this.#pending.get(id);
    if (!resolve) return;
    this.#pending.delete(id);
    const body = response.body;
    resolve({
      status: response.status,
      ...(response.headers ? { headers: response.headers } : {}),
      ...(body !== undefined ? { body: typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength) } : {}),
      ...(response.close ? { close: true } : {}),
    });
  }
}

/** The main thread's end: a worker's request as the front sees it, and the answer as the worker takes it. */
export function incoming(request: WireRequest): IncomingRequest {
  const b = request.body;
  return { method: request.method, path: request.path, query: request.query, headers: request.headers, body: Buffer.from(b.buffer, b.byteOffset, b.byteLength) };
}

export function wireResponse(response: OutgoingResponse): WireResponse {
  const body = response.body;
  return {
    status: response.status,
    headers: response.headers,
    // A response body may be shared (a cached reply): copied, never moved.
    body: body === undefined || typeof body === 'string' ? body : exact(toBuffer(body)),
    close: response.close,
  };
}
