// Fuzzing a running server over the wire: HTTP requests (paths, methods, headers, JSON / binary / raw
// bodies, compressed or not, mutated as test/helpers/fuzz-corpus.ts does) and gRPC ModelInfer messages,
// sent concurrently over keep-alive connections, with a share of valid requests so inference runs
// throughout. Counts every answer by status; a 5xx other than the server's deliberate 503 (overload,
// not ready) is a failure, and so is any connection the server drops without an answer. Used by
// scripts/fuzz-live.ts (10k+ requests, memory checked) and test/http-fuzz-live.test.ts (a short run).
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { binaryBody, grpcMessage, jsonBody, mutate, rawBody, type FuzzBody } from './fuzz-corpus.js';
import { GrpcClient } from './grpc-client.js';

export interface LiveFuzzOptions {
  httpPort: number;
  /** 0: no gRPC part. */
  grpcPort: number;
  httpRequests: number;
  grpcRequests: number;
  /** Requests in flight at once (per protocol). */
  concurrency: number;
  seed: number;
}

export interface LiveFuzzReport {
  http: { sent: number; byStatus: Record<string, number>; dropped: number; serverErrors: number; examples: string[] };
  grpc: { sent: number; byCode: Record<string, number>; dropped: number; serverErrors: number; examples: string[] };
}

interface TensorInfo {
  name: string;
  datatype: string;
  shape: number[];
}

interface HttpCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** A valid request body for a model, from its metadata (variable dims as 1..3). */
function validBody(inputs: TensorInfo[], rows: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      inputs: inputs.map((t) => {
        const shape = t.shape.map((d, i) => (d >= 0 ? d : i === 0 ? rows : 2));
        const count = shape.reduce((a, b) => a * b, 1);
        const data = t.datatype === 'BYTES' ? new Array(count).fill('fuzz') : t.datatype === 'BOOL' ? new Array(count).fill(true) : new Array(count).fill(1);
        return { name: t.name, datatype: t.datatype, shape, data };
      }),
    }),
  );
}

const JUNK_PATHS = ['/', '/v2/models', '/v2/models//infer', '/v2/models/%2e%2e/infer', '/v2/models/a%00b/infer', `/v2/models/${'x'.repeat(300)}/infer`, '/v2/models/mlp/versions/-1/infer', '/v2/models/mlp/versions/99999999999999999999/infer', '/v2/repository/models/mlp/load', '/metrics?x=%zz'];

function httpCases(models: Record<string, TensorInfo[]>, n: number, seed: number): HttpCase[] {
  const names = Object.keys(models);
  const infer = (m: string) => `/v2/models/${m}/infer`;
  const body: fc.Arbitrary<FuzzBody> = fc.oneof(
    { weight: 3, arbitrary: jsonBody },
    { weight: 2, arbitrary: binaryBody },
    { weight: 1, arbitrary: rawBody },
    {
      weight: 3,
      arbitrary: fc.tuple(fc.constantFrom(...names), fc.integer({ min: 1, max: 3 })).chain(([m, rows]) => mutate(validBody(models[m]!, rows)).map((b) => ({ body: b, headerLength: undefined }))),
    },
  );
  const path = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...names, 'nope').map(infer) },
    { weight: 1, arbitrary: fc.constantFrom(...names).map((m) => `/v2/models/${m}/versions/1/infer`) },
    { weight: 1, arbitrary: fc.constantFrom('/v2', '/v2/health/ready', '/v2/health/live', `/v2/models/${names[0]}`, `/v2/models/${names[0]}/config`, `/v2/models/${names[0]}/stats`, '/v2/repository/index', '/metrics') },
    { weight: 1, arbitrary: fc.constantFrom(...JUNK_PATHS) },
  );
  const arb = fc.record({
    method: fc.oneof({ weight: 9, arbitrary: fc.constant('POST') }, fc.constantFrom('GET', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH')),
    path,
    body,
    encoding: fc.oneof({ weight: 8, arbitrary: fc.constant<string | undefined>(undefined) }, fc.constantFrom('gzip', 'gzip-garbage', 'br', 'deflate')),
    accept: fc.boolean(),
    auth: fc.option(fc.constantFrom('Bearer x', 'Basic abc', 'Bearer ' + 'a'.repeat(2000))),
    type: fc.option(fc.constantFrom('application/json', 'application/octet-stream', 'text/plain')),
  });
  return fc.sample(arb, { numRuns: n, seed }).map((c) => {
    const headers: Record<string, string> = {};
    let bytes = c.body.body;
    if (c.body.headerLength !== undefined) headers['inference-header-content-length'] = c.body.headerLength;
    if (c.encoding === 'gzip') {
      headers['content-encoding'] = 'gzip';
      bytes = gzipSync(bytes);
    } else if (c.encoding === 'gzip-garbage') {
      headers['content-encoding'] = 'gzip';
    } else if (c.encoding !== undefined) {
      headers['content-encoding'] = c.encoding;
    }
    if (c.accept) headers['accept-encoding'] = 'gzip, deflate';
    if (c.auth !== null) headers.authorization = c.auth;
    if (c.type !== null) headers['content-type'] = c.type;
    return { method: c.method, path: c.path, headers, body: c.method === 'GET' || c.method === 'HEAD' ? Buffer.alloc(0) : bytes };
  });
}

/** The metadata of every model the server serves (name -> inputs). */
export async function servedModels(port: number): Promise<Record<string, TensorInfo[]>> {
  const index = (await (await fetch(`http://127.0.0.1:${port}/v2/repository/index`, { method: 'POST', body: '{"ready":true}' })).json()) as Array<{ name: string }>;
  const out: Record<string, TensorInfo[]> = {};
  for (const { name } of index) {
    const meta = (await (await fetch(`http://127.0.0.1:${port}/v2/models/${name}`)).json()) as { inputs: TensorInfo[] };
    out[name] = meta.inputs;
  }
  return out;
}

/** What a 5xx may be: the server's deliberate, retryable 503s. */
function deliberate503(status: number, body: string): boolean {
  return status === 503 && /overloaded|in flight|--max-inflight-body-bytes|not loaded|shutting down|timed out in the queue/.test(body);
}

async function pool<T>(items: T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

function sendHttp(port: number, agent: Agent, c: HttpCase): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method: c.method, path: c.path, headers: { ...c.headers, 'content-length': String(c.body.length) }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1').slice(0, 300) }));
      res.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
    });
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end(c.body);
  });
}

/** Runs the fuzz; the report says what came back. */
export async function fuzzLive(options: LiveFuzzOptions): Promise<LiveFuzzReport> {
  const models = await servedModels(options.httpPort);
  const report: LiveFuzzReport = {
    http: { sent: 0, byStatus: {}, dropped: 0, serverErrors: 0, examples: [] },
    grpc: { sent: 0, byCode: {}, dropped: 0, serverErrors: 0, examples: [] },
  };
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const cases = httpCases(models, options.httpRequests, options.seed);
  const httpRun = pool(cases, options.concurrency, async (c) => {
    const r = await sendHttp(options.httpPort, agent, c);
    report.http.sent++;
    if ('error' in r) {
      report.http.dropped++;
      if (report.http.examples.length < 10) report.http.examples.push(`${c.method} ${c.path}: ${r.error}`);
      return;
    }
    report.http.byStatus[r.status] = (report.http.byStatus[r.status] ?? 0) + 1;
    if (r.status >= 500 && !deliberate503(r.status, r.body)) {
      report.http.serverErrors++;
      if (report.http.examples.length < 10) report.http.examples.push(`${c.method} ${c.path}: ${r.status} ${r.body}`);
    }
  });
  const grpcRun = (async () => {
    if (options.grpcPort === 0 || options.grpcRequests === 0) return;
    const client = new GrpcClient(options.grpcPort);
    const messages = fc.sample(grpcMessage(fc.constantFrom(...Object.keys(models), 'nope', '')), { numRuns: options.grpcRequests, seed: options.seed + 1 });
    try {
      await pool(messages, options.concurrency, async (m) => {
        report.grpc.sent++;
        let code = 0;
        let details = '';
        try {
          await client.raw('ModelInfer', m);
        } catch (err) {
          code = (err as { code: number }).code;
          details = (err as { details: string }).details ?? '';
        }
        report.grpc.byCode[code] = (report.grpc.byCode[code] ?? 0) + 1;
        // 13 INTERNAL / 2 UNKNOWN are bugs; 14 UNAVAILABLE is fine only as the server's own refusal.
        const dropped = code === 14 && !deliberate503(503, details);
        if (dropped) report.grpc.dropped++;
        if (code === 13 || code === 2) report.grpc.serverErrors++;
        if ((dropped || code === 13 || code === 2) && report.grpc.examples.length < 10) report.grpc.examples.push(`${code} ${details}`);
      });
    } finally {
      client.close();
    }
  })();
  await Promise.all([httpRun, grpcRun]);
  agent.destroy();
  return report;
}
