// uWebSockets.js transport (through @trufflesuite/uws-js-unofficial, which loads on Node 20 and
// glibc 2.36; see uws-load.ts for where it does not). The habits that matter: copy headers before any await (a uWS request lives only in
// the handler), attach onAborted before the first await, pre-size the body buffer from
// Content-Length, and cork the response writes into one syscall.
import { performance } from 'node:perf_hooks';
import { ClientAbort } from './client-abort.js';
import {
  bodyBudgetSpent,
  bodyTimedOut,
  bodyTooLarge,
  statusLine,
  toBuffer,
  waitFor,
  type IncomingRequest,
  type OutgoingResponse,
  type Transport,
  type TransportOptions,
} from './transport.js';
import { loadUws } from './uws-load.js';

export { loadUws };

// The subset of the uWS API used here.
interface UwsResponse {
  onAborted(handler: () => void): UwsResponse;
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): UwsResponse;
  cork(cb: () => void): UwsResponse;
  writeStatus(status: string): UwsResponse;
  writeHeader(key: string, value: string): UwsResponse;
  end(body?: Uint8Array | string, closeConnection?: boolean): UwsResponse;
  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): UwsResponse;
  tryEnd(body: Uint8Array, totalSize: number): [boolean, boolean];
  getWriteOffset(): number;
  onWritable(handler: (offset: number) => boolean): UwsResponse;
  close(): UwsResponse;
}
interface UwsRequest {
  getMethod(): string;
  getUrl(): string;
  getQuery(): string | undefined;
  forEach(cb: (key: string, value: string) => void): void;
}
interface UwsApp {
  any(pattern: string, handler: (res: UwsResponse, req: UwsRequest) => void): UwsApp;
  listen(host: string, port: number, cb: (socket: unknown) => void): UwsApp;
  close?(): void;
}
export interface Uws {
  App(options?: object): UwsApp;
  us_listen_socket_close(socket: unknown): void;
  us_socket_local_port(socket: unknown): number;
}

interface Pending {
  aborted: boolean;
  res: UwsResponse;
  head: boolean;
  /** Bytes of the body budget this request holds (given back when it is answered or aborted). */
  held: number;
  /** While its body is arriving (or a refused upload lingers): when that must end, and what to answer then. */
  deadline: number;
  onExpiry: OutgoingResponse | undefined;
}

/** Bodies declared larger than this are not pre-allocated in full before their bytes arrive. */
const MAX_PREALLOCATION = 1 << 20;

/**
 * uWS's own slow-client rules (its HttpContext.h): a connection must complete its request head within
 * 10 s of opening (or of its last answer), and a body must arrive at 16 KB/s at least; neither can be
 * changed from JS. This transport adds the whole-body deadline (--http-request-timeout) and lingering.
 */
export const UWS_HEADER_TIMEOUT_MS = 10_000;

export class UwsTransport implements Transport {
  readonly kind = 'uws' as const;
  readonly #uws: Uws;
  readonly #options: TransportOptions;
  readonly #app: UwsApp;
  #listenSocket: unknown;
  readonly #open = new Set<Pending>();
  /** Responses whose bytes are still being written (backpressure). */
  readonly #writing = new Set<Pending>();
  /** Requests whose body is arriving, or whose refused upload lingers: checked by the sweep. */
  readonly #timed = new Set<Pending>();
  #sweep: NodeJS.Timeout | undefined;

  constructor(options: TransportOptions, uws: Uws = loadUws()) {
    this.#uws = uws;
    this.#options = options;
    this.#app = uws.App().any('/*', (res, req) => this.#onRequest(res, req));
  }

  /** One timer for every request's body deadline (uWS has none of its own): coarse, cheap per request. */
  #startSweep(): void {
    const { requestTimeoutMs, lingerTimeoutMs } = this.#options;
    const finest = Math.min(requestTimeoutMs > 0 ? requestTimeoutMs : Infinity, lingerTimeoutMs);
    const every = Math.max(10, Math.min(1000, Math.floor(finest / 4)));
    this.#sweep = setInterval(() => {
      const now = performance.now();
      for (const p of this.#timed) {
        if (p.deadline <= now) this.#refuse(p, p.onExpiry!);
      }
    }, every);
    this.#sweep.unref();
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#app.listen(this.#options.host, this.#options.port, (socket) => {
        if (!socket) {
          reject(new Error(`uWebSockets.js cannot listen on ${this.#options.host}:${this.#options.port}`));
          return;
        }
        this.#listenSocket = socket;
        this.#startSweep();
        resolve(this.#uws.us_socket_local_port(socket));
      });
    });
  }

  stopAccepting(): void {
    if (this.#listenSocket) {
      this.#uws.us_listen_socket_close(this.#listenSocket);
      this.#listenSocket = undefined;
    }
  }

  async close(timeoutMs: number): Promise<void> {
    this.stopAccepting();
    // Requests whose response is on its way (#open) and responses still being written (#writing).
    await waitFor(() => this.#open.size + this.#writing.size, timeoutMs);
    for (const p of this.#open) if (!p.aborted) p.res.close();
    for (const p of this.#timed) if (!p.aborted) p.res.close();
    clearInterval(this.#sweep);
    this.#app.close?.();
  }

  #onRequest(res: UwsResponse, req: UwsRequest): void {
    const headers: Record<string, string> = {};
    req.forEach((k, v) => {
      headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
    });
    const request: IncomingRequest = {
      method: req.getMethod().toUpperCase(),
      path: req.getUrl(),
      query: req.getQuery() ?? '',
      headers,
      body: EMPTY,
    };
    const pending: Pending = { aborted: false, res, head: request.method === 'HEAD', held: 0, deadline: 0, onExpiry: undefined };
    const controller = new ClientAbort();
    res.onAborted(() => {
      pending.aborted = true;
      this.#open.delete(pending);
      this.#writing.delete(pending);
      this.#timed.delete(pending);
      this.#giveBack(pending);
      controller.abort();
    });
    const options = this.#options;
    const limit = options.maxBodyBytes;
    const lengthHeader = headers['content-length'];
    const declared = lengthHeader === undefined ? -1 : Number(lengthHeader);
    const hasBody = declared > 0 || (declared < 0 && headers['transfer-encoding'] !== undefined);
    if (!hasBody) {
      this.#dispatch(pending, request, controller);
      return;
    }
    // A body that will be refused is still read (and discarded), within bounds, before the answer goes:
    // closing on a client that is still uploading resets its connection before it reads the answer.
    let lingering: OutgoingResponse | undefined;
    let discarded = 0;
    const linger = (response: OutgoingResponse, remaining: number): void => {
      // One with more to send than we would read is cut at once. (uWS answers Expect: 100-continue
      // itself before the handler runs, so such a client is uploading too.)
      if (remaining > options.lingerBytes) {
        this.#refuse(pending, response);
        return;
      }
      lingering = response;
      this.#giveBack(pending);
      this.#expireAt(pending, options.lingerTimeoutMs, response);
    };
    if (declared > limit) {
      linger(bodyTooLarge(limit), declared);
    } else if (declared > 0) {
      if (options.budget.take(declared)) pending.held = declared;
      else linger(bodyBudgetSpent(options.budget.limit), declared);
    }
    if (lingering === undefined && !pending.aborted && options.requestTimeoutMs > 0) {
      this.#expireAt(pending, options.requestTimeoutMs, bodyTimedOut(options.requestTimeoutMs));
    }
    if (pending.aborted) return;
    // Pre-size from Content-Length; grow only for chunked bodies. Chunks are neutered after the
    // callback returns, so they are always copied.
    const pad = options.bodyPad?.(headers) ?? 0;
    let body = lingering ? EMPTY : Buffer.allocUnsafe(pad + (declared > 0 ? Math.min(declared, MAX_PREALLOCATION) : 16 * 1024));
    let used = pad;
    res.onData((chunk, isLast) => {
      if (pending.aborted) return;
      const length = chunk.byteLength;
      if (lingering !== undefined) {
        discarded += length;
        if (isLast || discarded > options.lingerBytes) this.#refuse(pending, lingering);
        return;
      }
      if (used - pad + length > limit) {
        body = EMPTY;
        linger(bodyTooLarge(limit), declared > 0 ? declared - (used - pad) : 0);
        if (lingering !== undefined && isLast) this.#refuse(pending, lingering);
        return;
      }
      if (declared < 0) {
        // Chunked: the budget is taken as the bytes come.
        if (!options.budget.take(length)) {
          body = EMPTY;
          linger(bodyBudgetSpent(options.budget.limit), 0);
          if (lingering !== undefined && isLast) this.#refuse(pending, lingering);
          return;
        }
        pending.held += length;
      }
      if (used + length > body.length) {
        const grown = Buffer.allocUnsafe(Math.max(body.length * 2, used + length));
        body.copy(grown, 0, 0, used);
        body = grown;
      }
      body.set(new Uint8Array(chunk), used);
      used += length;
      if (isLast) {
        this.#timed.delete(pending);
        request.body = pad === 0 && used === body.length ? body : body.subarray(pad, used);
        this.#dispatch(pending, request, controller);
      }
    });
  }

  /** Tracks a request for the sweep: at `ms` from now it is answered with `response` and closed. */
  #expireAt(pending: Pending, ms: number, response: OutgoingResponse): void {
    pending.deadline = performance.now() + ms;
    pending.onExpiry = response;
    this.#timed.add(pending);
  }

  #giveBack(pending: Pending): void {
    if (pending.held > 0) {
      this.#options.budget.give(pending.held);
      pending.held = 0;
    }
  }

  #dispatch(pending: Pending, request: IncomingRequest, signal: ClientAbort): void {
    this.#open.add(pending);
    let result: Promise<OutgoingResponse> | OutgoingResponse;
    try {
      result = this.#options.handler(request, signal);
    } catch {
      result = { status: 500, body: '{"error":"internal error"}' };
    }
    if (result instanceof Promise) {
      result.then(
        (response) => this.#respond(pending, response),
        () => this.#respond(pending, { status: 500, body: '{"error":"internal error"}' }),
      );
    } else {
      this.#respond(pending, result);
    }
  }

  #respond(pending: Pending, response: OutgoingResponse): void {
    this.#open.delete(pending);
    this.#giveBack(pending);
    if (pending.aborted) return;
    const res = pending.res;
    // A body in pieces (a binary reply: JSON header, then each tensor) is streamed as it is, not joined.
    const body = response.body;
    const chunks = body === undefined ? [] : typeof body === 'string' ? [Buffer.from(body)] : Buffer.isBuffer(body) ? [body] : body;
    let total = 0;
    for (const c of chunks) total += c.length;
    res.cork(() => {
      res.writeStatus(statusLine(response.status));
      if (response.headers) for (const k in response.headers) res.writeHeader(k, response.headers[k]!);
      // On shutdown the client is told to close; the transport closes what is left once every
      // tracked response is fully written (close()), so no response is cut.
      if (response.close) res.writeHeader('connection', 'close');
      if (pending.head) {
        // endWithoutBody(n) leaves this uWS's response pending (it waits for n bytes), so the next
        // request on the connection would be refused with a reset: write the length ourselves.
        res.writeHeader('content-length', String(total));
        res.endWithoutBody();
      } else {
        this.#write(pending, chunks, total);
      }
    });
  }

  /** Answers without reading (the rest of) the request body, and closes the connection after the answer. */
  #refuse(pending: Pending, response: OutgoingResponse): void {
    this.#open.delete(pending);
    this.#timed.delete(pending);
    this.#giveBack(pending);
    if (pending.aborted) return;
    pending.aborted = true;
    const res = pending.res;
    res.cork(() => {
      res.writeStatus(statusLine(response.status));
      if (response.headers) for (const k in response.headers) res.writeHeader(k, response.headers[k]!);
      res.end(toBuffer(response.body), true);
    });
  }

  // tryEnd + onWritable: the pieces go out one after the other with the total size (uWS writes one
  // Content-Length and ends the response with the last byte); a body under backpressure is tracked
  // until its last byte is written, so shutdown does not cut it off.
  #write(pending: Pending, chunks: readonly Buffer[], total: number): void {
    const res = pending.res;
    if (total === 0) {
      res.tryEnd(EMPTY, 0);
      return;
    }
    const start = res.getWriteOffset();
    // Writes from byte `sent` of the body on; false when uWS pushes back (then onWritable resumes).
    const writeFrom = (sent: number): boolean => {
      let at = 0;
      for (const chunk of chunks) {
        const end = at + chunk.length;
        if (sent < end && chunk.length > 0) {
          const [ok, done] = res.tryEnd(sent > at ? chunk.subarray(sent - at) : chunk, total);
          if (done) {
            this.#writing.delete(pending);
            return true;
          }
          if (!ok) return false;
          sent = end;
        }
        at = end;
      }
      return true;
    };
    if (writeFrom(0)) return;
    this.#writing.add(pending);
    res.onWritable((offset) => writeFrom(offset - start));
  }
}

const EMPTY = Buffer.alloc(0);
