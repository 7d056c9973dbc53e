// Helpers for the response-cache end-to-end tests (test/cache-http.test.ts): temp repositories, servers
// started in-process through startServer() (the `tensorgate serve` code path), a keep-alive HTTP client,
// and readers for /metrics and /stats. Self-contained on purpose: only src/ and redis-server.ts.
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { pino } from 'pino';
import { serveOptionsSchema, type ServeOptions } from '../../src/cli/options.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import type { ServedVersion } from '../../src/repository/repository.js';
import { ElemType, GraphBuilder } from '../../src/onnx/builder.js';
import { putConfig, putModel, tempRepo } from './fixtures.js';

// ---------------------------------------------------------------------------------------------
// Models and repositories

export const WIDTH = 16;

/** x FP32 ['batch', 16] -> y = x + c (c = 1 computes what tinyModel() computes). */
export function addConst16(c: number): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', ElemType.FLOAT, ['batch', WIDTH]);
  const k = g.initializer('k', ElemType.FLOAT, [WIDTH], new Float32Array(WIDTH).fill(c));
  g.node('Add', ['x', k], ['y']);
  g.output('y', ElemType.FLOAT, ['batch', WIDTH]);
  return g.build();
}

export interface ModelSpec {
  versions: Record<number, Uint8Array>;
  config?: Record<string, unknown>;
}

export interface TempRepo {
  root: string;
  /** Replaces (or adds) <root>/<name>/<version>/model.onnx by rename: a poll never sees half a file. */
  put(name: string, version: number, bytes: Uint8Array): void;
  cleanup(): void;
}

export function tempRepository(models: Record<string, ModelSpec>): TempRepo {
  const { root, cleanup } = tempRepo();
  const put = (name: string, version: number, bytes: Uint8Array): void => void putModel(root, name, version, bytes);
  for (const [name, spec] of Object.entries(models)) {
    for (const [version, bytes] of Object.entries(spec.versions)) put(name, Number(version), bytes);
    if (spec.config) putConfig(root, name, spec.config);
  }
  return { root, put, cleanup };
}

// ---------------------------------------------------------------------------------------------
// Servers

export interface CacheTestServer {
  running: RunningServer;
  port: number;
  /** The served instance of `name` (highest version). */
  instance(name: string): ServedVersion;
  /** The engine's inference_count (rows) of the served instance of `name`. */
  inferences(name: string): number;
  stop(): Promise<void>;
}

export interface LogSink {
  lines: Array<Record<string, unknown>>;
}

export async function startCacheServer(
  options: Partial<ServeOptions> & { modelRepository: string },
  log?: LogSink,
): Promise<CacheTestServer> {
  const parsed = serveOptionsSchema.parse({ httpPort: 0, grpcPort: 0, logLevel: 'silent', shutdownTimeout: 5, defaultRequestTimeout: 0, ...options });
  const logger = log
    ? pino({ level: 'info' }, { write: (s: string) => void log.lines.push(JSON.parse(s) as Record<string, unknown>) })
    : undefined;
  const running = await startServer(parsed, logger);
  let stopped: Promise<void> | undefined;
  const instance = (name: string): ServedVersion => {
    const i = running.repository.served(name)[0];
    if (!i) throw new Error(`model '${name}' is not served`);
    return i;
  };
  return {
    running,
    port: running.port,
    instance,
    inferences: (name) => instance(name).model.stats().inferenceCount,
    stop: () => {
      // Bounded: a failed test must not turn into a hook timeout.
      stopped ??= Promise.race([running.stop().then(() => undefined), new Promise<void>((r) => setTimeout(r, 8000).unref())]);
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  json(): any;
}

/** Keep-alive agents (one per test that needs many sockets); fresh connections without one. */
export function keepAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

export function send(
  port: number,
  method: string,
  path: string,
  body?: string | Buffer,
  agent?: Agent,
  extraHeaders: Record<string, string | number> = {},
  timeoutMs = 30_000,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: agent ?? false,
        headers: { ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}), ...extraHeaders },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (!res.complete) return reject(new Error(`${method} ${path}: response truncated`));
          const buf = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, json: () => JSON.parse(buf.toString('utf8')) });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no response within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** A JSON infer request: one row. */
export function inferBody(row: readonly number[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, row.length], data: row }] });
}

/** A row of 16 distinct floats, exact in FP32 (and after + small integers), distinct per seed. */
export function row16(seed: number): number[] {
  return Array.from({ length: WIDTH }, (_, i) => seed * 32 + i * 0.25);
}

/** The same one-row request with x as binary data (Triton's binary tensor extension). */
export function binaryInferBody(row: readonly number[]): { body: Buffer; headers: Record<string, number> } {
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, row.length], parameters: { binary_data_size: row.length * 4 } }] }));
  const data = Buffer.from(Float32Array.from(row).buffer);
  return { body: Buffer.concat([header, data]), headers: { 'inference-header-content-length': header.length } };
}

export async function infer(port: number, model: string, row: readonly number[], extra?: Record<string, unknown>, agent?: Agent): Promise<Reply> {
  return send(port, 'POST', `/v2/models/${model}/infer`, inferBody(row, extra), agent);
}

/** The data of output `y` of a JSON response (throws, with the body, on anything else). */
export function outputY(reply: Reply): number[] {
  if (reply.status !== 200) throw new Error(`status ${reply.status}: ${reply.body.toString('utf8').slice(0, 500)}`);
  const body = reply.json();
  const y = (body.outputs as Array<{ name: string; data: number[] }>).find((o) => o.name === 'y');
  if (!y) throw new Error(`no output y: ${reply.body.toString('utf8').slice(0, 500)}`);
  return y.data;
}

export const plus = (row: readonly number[], c: number): number[] => row.map((v) => v + c);

// ---------------------------------------------------------------------------------------------
// /metrics and /stats

export async function scrape(port: number): Promise<string> {
  const r = await send(port, 'GET', '/metrics');
  if (r.status !== 200) throw new Error(`/metrics: ${r.status}`);
  return r.body.toString('utf8');
}

function parseLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/** Samples of `name` whose labels include `labels`. */
export function samples(text: string, name: string, labels: Record<string, string> = {}): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const l = parseLabels(m[3] ?? '');
    if (Object.entries(labels).every(([k, v]) => l[k] === v)) out.push({ labels: l, value: Number(m[4]) });
  }
  return out;
}

/** The sum of the matching samples; undefined when there is none. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const s = samples(text, name, labels);
  return s.length ? s.reduce((a, b) => a + b.value, 0) : undefined;
}

export interface ModelStat {
  inference_count: number;
  execution_count: number;
  inference_stats: Record<'success' | 'fail' | 'queue' | 'cache_hit' | 'cache_miss', { count: number; ns: number }>;
}

export async function modelStats(port: number, model: string): Promise<ModelStat> {
  const r = await send(port, 'GET', `/v2/models/${model}/stats`);
  if (r.status !== 200) throw new Error(`stats ${model}: ${r.status} ${r.body.toString('utf8')}`);
  const stats = r.json().model_stats as ModelStat[];
  if (stats.length !== 1) throw new Error(`stats ${model}: ${stats.length} entries`);
  return stats[0]!;
}

// ---------------------------------------------------------------------------------------------
// Waiting

export { sleep, until } from './fixtures.js';
