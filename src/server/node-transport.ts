// node:http transport: the fallback when uWebSockets.js cannot load, and --http-engine node.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { ERROR_STATUS, type ErrorKind } from '../protocol/errors.js';
import { ClientAbort } from './client-abort.js';
import {
  bodyBudgetSpent,
  bodyTooLarge,
  statusLine,
  waitFor,
  type IncomingRequest,
  type OutgoingResponse,
  type Transport,
  type TransportOptions,
} from './transport.js';

export class NodeTransport implements Transport {
  readonly kind = 'node' as const;
  readonly #options: TransportOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Requests dispatched whose response is not sent yet, plus responses not yet fully flushed. */
  #writing = 0;

  constructor(options: TransportOptions) {
    this.#options = options;
    // Node's requestTimeout counts from the connection's first byte to the end of the body: the head's
    // time plus the body's. Its checks run every connectionsCheckingInterval (30 s by default, which
    // would let a slow client linger that much longer).
    const { headerTimeoutMs, requestTimeoutMs } = options;
    this.#server = createServer(
      {
        keepAlive: true,
        headersTimeout: headerTimeoutMs,
        requestTimeout: requestTimeoutMs > 0 ? headerTimeoutMs + requestTimeoutMs : 0,
        connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(headerTimeoutMs / 4))),
      },
      (req, res) => this.#onRequest(req, res),
    );
    this.#server.keepAliveTimeout = 65_000;
    // Expect: 100-continue: a body that will be refused is refused before the client sends it.
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      const refusal = this.#refusalOf(req);
      if (refusal) {
        this.#send(res, refusal);
        return;
      }
      res.writeContinue();
      this.#onRequest(req, res);
    });
    this.#server.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    // A request node:http could not read: its deadline passed (408), its head was too large (431), or
    // it was malformed (400). Answered as every error is, with a JSON body, then closed.
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable) return;
      const [kind, message]: [ErrorKind, string] =
        err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? ['REQUEST_TIMEOUT', `the request did not arrive within ${requestTimeoutMs > 0 ? headerTimeoutMs + requestTimeoutMs : headerTimeoutMs} ms`]
          : err.code === 'HPE_HEADER_OVERFLOW'
            ? ['HEADERS_TOO_LARGE', 'the request head is too large']
            : ['INVALID_ARGUMENT', 'malformed HTTP request'];
      const status = ERROR_STATUS[kind].http;
      const body = JSON.stringify({ error: message });
      socket.end(`HTTP/1.1 ${statusLine(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        const address = this.#server.address();
        resolve(typeof address === 'object' && address ? address.port : this.#options.port);
      });
    });
  }

  // Only the listening socket: http.Server#close() would also destroy "idle" connections, and Node
  // counts a connection as idle once res.end() was called, even with megabytes still unflushed.
  stopAccepting(): void {
    if (this.#server.listening) NetServer.prototype.close.call(this.#server);
  }

  async close(timeoutMs: number): Promise<void> {
    this.stopAccepting();
    // A finished response may still sit in its socket's userland buffer: wait for those bytes to
    // reach the kernel, then end the sockets (FIN after the data), and destroy stragglers last.
    const unflushed = () => {
      let n = this.#writing;
      for (const s of this.#sockets) if (s.writableLength > 0) n++;
      return n;
    };
    await waitFor(unflushed, timeoutMs);
    for (const socket of this.#sockets) socket.end();
    await waitFor(() => this.#sockets.size, 1000);
    for (const socket of this.#sockets) socket.destroy();
  }

  /** The answer to a request whose declared body cannot be taken (too large, or the budget is spent). */
  #refusalOf(req: IncomingMessage): OutgoingResponse | undefined {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > this.#options.maxBodyBytes) return bodyTooLarge(this.#options.maxBodyBytes);
    if (declared > 0 && this.#options.budget.held + declared > this.#options.budget.limit) return bodyBudgetSpent(this.#options.budget.limit);
    return undefined;
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const options = this.#options;
    const limit = options.maxBodyBytes;
    const budget = options.budget;
    const declared = Number(req.headers['content-length'] ?? NaN);
    const controller = new ClientAbort();
    let held = 0;
    const giveBack = (): void => {
      budget.give(held);
      held = 0;
    };
    res.once('close', () => {
      giveBack();
      if (!res.writableFinished) controller.abort();
    });
    // A refused body is still read (and discarded), within bounds, before the answer goes: closing on
    // a client that is still uploading resets its connection before it reads the answer.
    let refusal: OutgoingResponse | undefined;
    let discarded = 0;
    let lingerTimer: NodeJS.Timeout | undefined;
    const answerRefusal = (): void => {
      clearTimeout(lingerTimer);
      this.#send(res, refusal!);
    };
    const refuse = (response: OutgoingResponse, remaining: number): void => {
      refusal = response;
      giveBack();
      if (remaining > options.lingerBytes) {
        answerRefusal();
        return;
      }
      lingerTimer = setTimeout(answerRefusal, options.lingerTimeoutMs);
      lingerTimer.unref();
    };
    if (declared > limit) refuse(bodyTooLarge(limit), declared);
    else if (declared > 0) {
      if (budget.take(declared)) held = declared;
      else refuse(bodyBudgetSpent(budget.limit), declared);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (refusal !== undefined) {
        discarded += chunk.length;
        if (discarded > options.lingerBytes) answerRefusal();
        return;
      }
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        refuse(bodyTooLarge(limit), 0);
        return;
      }
      if (!(declared >= 0)) {
        // Chunked: the budget is taken as the bytes come.
        if (!budget.take(chunk.length)) {
          chunks.length = 0;
          refuse(bodyBudgetSpent(budget.limit), 0);
          return;
        }
        held += chunk.length;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (refusal !== undefined) {
        answerRefusal();
        return;
      }
      if (controller.aborted) return;
      const pad = options.bodyPad?.(req.headers as Record<string, string>) ?? 0;
      let body: Buffer;
      if (pad === 0) {
        body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      } else {
        const padded = Buffer.allocUnsafe(pad + size);
        let at = pad;
        for (const c of chunks) at += c.copy(padded, at);
        body = padded.subarray(pad);
      }
      const request: IncomingRequest = {
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?', 1)[0]!,
        query: req.url?.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '',
        headers: req.headers as Record<string, string>,
        body,
      };
      this.#writing++; // until the response is handed over (then #send counts it until flushed)
      Promise.resolve()
        .then(() => options.handler(request, controller))
        .then(
          (response) => {
            if (!controller.aborted) this.#send(res, response);
          },
          () => {
            if (!controller.aborted) this.#send(res, { status: 500, body: '{"error":"internal error"}' });
          },
        )
        .finally(() => {
          giveBack();
          this.#writing--;
        });
    });
    req.once('error', () => controller.abort());
  }

  #send(res: ServerResponse, response: OutgoingResponse): void {
    if (res.headersSent) return;
    const body = response.body;
    const headers: Record<string, string | number> = { ...response.headers };
    if (response.close) headers.connection = 'close';
    this.#writing++;
    res.once('close', () => this.#writing--); // after 'finish', or when the socket dies
    if (Array.isArray(body)) {
      headers['content-length'] = body.reduce((n, b) => n + b.length, 0);
      res.writeHead(response.status, headers);
      for (const chunk of body) res.write(chunk);
      res.end();
    } else {
      headers['content-length'] = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
      res.writeHead(response.status, headers);
      res.end(body);
    }
  }
}
