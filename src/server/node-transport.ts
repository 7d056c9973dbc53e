// node:http transport: the fallback when uWebSockets.js cannot load, and --http-engine node.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ClientAbort } from './client-abort.js';
import { bodyTooLarge, type IncomingRequest, type OutgoingResponse, type Transport, type TransportOptions } from './transport.js';

export class NodeTransport implements Transport {
  readonly kind = 'node' as const;
  readonly #options: TransportOptions;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

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

  stopAccepting(): void {
    this.#server.close();
  }

  async close(): Promise<void> {
    this.#server.close();
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
      Promise.resolve()
        .then(() => this.#options.handler(request, controller))
        .then(
          (response) => {
            if (!controller.aborted) this.#send(res, response);
          },
          () => {
            if (!controller.aborted) this.#send(res, { status: 500, body: '{"error":"internal error"}' });
          },
        );
    });
    req.once('error', () => controller.abort());
  }

  #send(res: ServerResponse, response: OutgoingResponse): void {
    if (res.headersSent) return;
    const body = response.body;
    const headers: Record<string, string | number> = { ...response.headers };
    if (response.close) headers.connection = 'close';
    if (Array.isArray(body)) {
      headers['content-length'] = body.reduce((n, b) => n + b.length, 0);
      res.writeHead(response.status, headers);
      for (const chunk of body) res.write(chunk);
      res.end();
    } else {
      res.writeHead(response.status, headers);
      res.end(body);
    }
  }
}
