// Helpers for the HTTP tests: a temp model repository, a server started in-process on port 0 with
// either transport, and HTTP clients with full control over the bytes (node:http and raw sockets).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveOptionsSchema, type ServeOptions } from '../../src/cli/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import type { Model } from '../../src/engine/index.js';
import { ElemType, GraphBuilder } from '../../src/onnx/builder.js';
import { slowBatchModel } from '../../src/onnx/models.js';
import { uwsStatus } from '../../src/server/uws-load.js';
import { SLOW_SIZE, until } from './fixtures.js';
import { expect } from 'vitest';

export type HttpEngine = 'uws' | 'node';
/**
 * For describe.each: every test file runs against both transports, or against node:http alone on a
 * Node whose ABI uWebSockets.js ships no binary for (test/http-uws-load.test.ts pins that reason).
 */
export const ENGINES: HttpEngine[] = uwsStatus().ok ? ['uws', 'node'] : ['node'];

/** The transport a server gets when the test is not about transports: uWS where it loads. */
export const DEFAULT_ENGINE: HttpEngine = ENGINES[0]!;

// ---------------------------------------------------------------------------------------------
// Repository

export { makeRepository, ONE_THREAD, SLOW_SIZE, until, type RepoModel } from './fixtures.js';

/** A slowBatchModel (y = x exactly, ~ms per run whatever the batch) for the repository. */
export function slowModelBytes(ms: number): Uint8Array {
  return slowBatchModel({ ms, size: SLOW_SIZE });
}

/** a, b FP32 [batch, 3] -> sum = a + b, diff = a - b: two inputs, two outputs. */
export function sumDiffModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input('a', ElemType.FLOAT, ['batch', 3]);
  g.input('b', ElemType.FLOAT, ['batch', 3]);
  g.node('Add', ['a', 'b'], ['sum']);
  g.node('Sub', ['a', 'b'], ['diff']);
  g.output('sum', ElemType.FLOAT, ['batch', 3]);
  g.output('diff', ElemType.FLOAT, ['batch', 3]);
  return g.build();
}

// ---------------------------------------------------------------------------------------------
// Server

export interface TestServer {
  running: RunningServer;
  port: number;
  engine: HttpEngine;
  /** The engine model serving `name` (highest version unless given). */
  model(name: string, version?: string): Model;
  stop(): Promise<boolean>;
}

export async function serve(
  engine: HttpEngine,
  options: Partial<Omit<ServeOptions, 'httpEngine'>> & { modelRepository: string },
): Promise<TestServer> {
  // uWS servers run with two HTTP threads unless a test says otherwise (whatever the machine's cores):
  // every HTTP test then also checks that the threads behave as one server. Tests of queueing, batching
  // and draining hold requests in slow models' queues on purpose: they run without the server's default
  // admission deadline (test/http-admission.test.ts pins that default).
  const parsed = serveOptionsSchema.parse({ httpPort: 0, grpcPort: 0, logLevel: 'silent', defaultRequestTimeout: 0, httpThreads: engine === 'uws' ? 2 : 1, ...options, httpEngine: engine });
  const running = await startServer(parsed);
  expect(running.server.transportKind).toBe(engine);
  let stopped: Promise<boolean> | undefined;
  return {
    running,
    port: running.port,
    engine,
    model(name, version) {
      const served = running.repository.served(name, version);
      if (!served[0]) throw new Error(`model ${name} is not served`);
      return served[0].model as Model; // an ONNX version
    },
    stop: () => (stopped ??= running.stop()),
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP clients

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text(): string;
  json(): any;
}

function result(status: number, headers: IncomingHttpHeaders, body: Buffer): HttpResult {
  return {
    status,
    headers,
    body,
    text: () => body.toString('utf8'),
    json: () => JSON.parse(body.toString('utf8')),
  };
}

export interface RequestOptions {
  body?: Buffer | string | Uint8Array;
  headers?: Record<string, string | number>;
  signal?: AbortSignal;
}

/**
 * One request on a fresh connection (node:http, agent: false). No header is added beyond Host,
 * Connection and Content-Length (no Content-Type, as tritonclient sends none). Rejects on a
 * connection error; a response cut short rejects too (node:http reports 'aborted').
 */
export function request(port: number, method: string, path: string, options: RequestOptions = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? Buffer.from(options.body) : Buffer.from(options.body);
    const headers: Record<string, string | number> = { ...options.headers };
    if (body !== undefined && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
      headers['content-length'] = body.length;
    }
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path, headers, agent: false, ...(options.signal ? { signal: options.signal } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (!res.complete) reject(Object.assign(new Error('response truncated'), { code: 'TRUNCATED' }));
          else resolve(result(res.statusCode ?? 0, res.headers, Buffer.concat(chunks)));
        });
        res.on('error', reject);
        res.on('aborted', () => reject(Object.assign(new Error('response truncated'), { code: 'TRUNCATED' })));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const get = (port: number, path: string, headers?: Record<string, string>) => request(port, 'GET', path, headers ? { headers } : {});
export const post = (port: number, path: string, body?: unknown, headers?: Record<string, string | number>) =>
  request(port, 'POST', path, {
    ...(body === undefined ? {} : { body: Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body) }),
    ...(headers ? { headers } : {}),
  });

/** The parts of a response read off a raw socket. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * A raw TCP connection: write exactly the bytes you want, read one response (Content-Length or
 * chunked body), see whether the server closed the connection.
 */
export class RawClient {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  closed = false;
  error: Error | undefined;
  readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('error', reject);
    });
    this.connected.catch(() => undefined);
    this.socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    this.socket.on('error', (err) => {
      this.error = err;
      this.#wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Bytes received so far (not yet consumed by response()). */
  get received(): Buffer {
    return this.#buffer;
  }

  async write(data: string | Buffer): Promise<void> {
    await this.connected;
    await new Promise<void>((resolve, reject) => this.socket.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Reads one complete response; rejects if the connection ends first or after `ms`. */
  async response(ms = 10_000): Promise<RawResponse> {
    const deadline = Date.now() + ms;
    for (;;) {
      const parsed = parseResponse(this.#buffer);
      if (parsed) {
        this.#buffer = this.#buffer.subarray(parsed.consumed);
        return parsed.response;
      }
      if (this.closed || this.error) {
        throw new Error(`connection ended before a complete response (${this.#buffer.length} bytes received): ${this.error?.message ?? 'closed'}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete response within ${ms} ms (${this.#buffer.length} bytes received)`);
      await Promise.race([this.#changed(), new Promise((r) => setTimeout(r, Math.min(left, 50)))]);
    }
  }

  /** Resolves once the server has closed the connection (or after `ms`, resolving false). */
  async waitClosed(ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) {
      await Promise.race([this.#changed(), new Promise((r) => setTimeout(r, 50))]);
    }
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function parseResponse(buf: Buffer): { response: RawResponse; consumed: number } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? NaN);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let at = end + 4;
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', at);
      if (lineEnd < 0) return null;
      const size = parseInt(buf.toString('latin1', at, lineEnd), 16);
      at = lineEnd + 2;
      if (buf.length < at + size + 2) return null;
      if (size === 0) return { response: { status, headers, body: Buffer.concat(parts) }, consumed: at + 2 };
      parts.push(buf.subarray(at, at + size));
      at += size + 2;
    }
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < at + length) return null;
  return { response: { status, headers, body: Buffer.from(buf.subarray(at, at + length)) }, consumed: at + length };
}

// ---------------------------------------------------------------------------------------------
// The v2 binary tensor extension

/** BYTES elements in binary form: each a 4-byte little-endian length and its bytes. */
export function encodeBytes(elements: ReadonlyArray<string | Uint8Array>): Buffer {
  return Buffer.concat(
    elements.flatMap((e) => {
      const bytes = typeof e === 'string' ? Buffer.from(e, 'utf8') : Buffer.from(e);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(bytes.length);
      return [len, bytes];
    }),
  );
}

export function decodeBytes(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < buf.length; ) {
    const n = buf.readUInt32LE(at);
    out.push(buf.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** A binary request body: the JSON header, then the tensors; returns the header length too. */
export function binaryBody(header: unknown, tensors: Buffer[]): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...tensors]), headerLength: json.length };
}

export interface DecodedResponse {
  json: any;
  /** Binary outputs' bytes by name. */
  binary: Record<string, Buffer>;
}

/** Splits a (possibly binary) infer response into its JSON header and the outputs' bytes. */
export function decodeInferResponse(headers: Record<string, string | string[] | undefined>, body: Buffer): DecodedResponse {
  const raw = headers['inference-header-content-length'];
  if (raw === undefined) return { json: JSON.parse(body.toString('utf8')), binary: {} };
  const headerLength = Number(raw);
  const json = JSON.parse(body.toString('utf8', 0, headerLength));
  const binary: Record<string, Buffer> = {};
  let at = headerLength;
  for (const o of json.outputs as Array<{ name: string; parameters?: { binary_data_size?: number } }>) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary[o.name] = body.subarray(at, at + size);
    at += size;
  }
  expect(at).toBe(body.length);
  return { json, binary };
}

/** Bytes of a typed array (a copy-free view). */
export function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** A JSON infer request for a slow model: one row of `fill`. */
export function slowRequest(fill: number, parameters?: Record<string, unknown>, id?: string): string {
  return JSON.stringify({
    ...(id !== undefined ? { id } : {}),
    inputs: [{ name: 'x', datatype: 'FP32', shape: [1, SLOW_SIZE], data: new Array(SLOW_SIZE).fill(fill) }],
    ...(parameters ? { parameters } : {}),
  });
}

/**
 * Sends one request to a slow model and waits until its runner has taken it (queue.count grew), so
 * whatever is sent next queues behind it. Boxed: an async function returning a promise awaits it.
 */
export async function occupy(server: TestServer, name: string): Promise<{ running: Promise<HttpResult> }> {
  const model = server.model(name);
  const taken = model.stats().queue.count;
  const running = post(server.port, `/v2/models/${name}/infer`, slowRequest(-1));
  running.catch(() => undefined);
  await until(() => model.stats().queue.count > taken, `${name}: the runner takes the blocker`, 10_000);
  return { running };
}
