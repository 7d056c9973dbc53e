// node:http transport: the fallback when uWebSockets.js cannot load, and --http-engine node.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import { ClientAbort } from './client-abort.js';
import { bodyTooLarge, waitFor, type IncomingRequest, type OutgoingResponse, type Transport, type TransportOptions } from './transport.js';

export class NodeTransport implements Transport {
  readonly kind = 'node' as const;
  readonly #options: TransportOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Requests dispatched whose response is not sent yet, plus responses not yet fully flushed. */
  #writing = 0;

  constructor(options: TransportOptions) {
    this.#options = options;
    this.#server = createServer({ keepAlive: true, requestTimeout: 0, headersTimeout: 60_000 }, (req, res) => this.#onRequest(req, res));
    this.#server.keepAliveTimeout = 65_000;
    this.#server.on('connection', (socket: Socket) => {
      socket.setNoDelay(true);
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
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

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const limit = this.#options.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > limit) {
      this.#send(res, bodyTooLarge(limit));
      req.resume();
      return;
    }
    const controller = new ClientAbort();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        this.#send(res, bodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (refused || controller.aborted) return;
      const pad = this.#options.bodyPad?.(req.headers as Record<string, string>) ?? 0;
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
        .then(() => this.#options.handler(request, controller))
        .then(
          (response) => {
            if (!controller.aborted) this.#send(res, response);
          },
          () => {
            if (!controller.aborted) this.#send(res, { status: 500, body: '{"error":"internal error"}' });
          },
        )
        .finally(() => this.#writing--);
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
