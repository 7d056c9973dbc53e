// A short live fuzz (the CI cut of scripts/fuzz-live.ts): `tensorgate serve` as a child process, on
// each transport, takes 800 fuzzed HTTP requests and 400 fuzzed gRPC messages (seeded) mixed with
// valid ones: every answer is a deliberate status (no 5xx but the server's own 503s), no connection
// is dropped without an answer, and the process is alive and still serving afterwards.
import { Agent, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ElemType } from '../src/onnx/builder.js';
import { identityModel, mlpModel, tinyModel } from '../src/onnx/models.js';
import { freePort, makeRepository } from './helpers/fixtures.js';
import { fuzzLive } from './helpers/fuzz-live.js';
import { spawnServe, type ChildServer } from './helpers/http-child.js';
import { ENGINES, serve } from './helpers/http-server.js';

const root = makeRepository({
  mlp: { bytes: mlpModel() },
  tiny: { bytes: tinyModel() },
  strings: { bytes: identityModel(ElemType.STRING, ['batch', 2]) },
});

describe.each(ENGINES)('live fuzz over %s', (engine) => {
  let child: ChildServer | undefined;
  afterEach(() => child?.kill());

  it('800 HTTP requests and 400 gRPC messages: no 5xx, no dropped connection, still serving', async () => {
    const grpcPort = await freePort();
    child = await spawnServe(['--model-repository', root, '--http-engine', engine, '--grpc-port', String(grpcPort), '--max-body-bytes', '1MiB']);
    await child.waitLog(/^gRPC listening$/).catch(() => undefined);
    const report = await fuzzLive({ httpPort: child.port, grpcPort, httpRequests: 800, grpcRequests: 400, concurrency: 8, seed: engine === 'uws' ? 11 : 12 });
    expect(report.http.sent).toBe(800);
    expect(report.http.examples).toEqual([]);
    expect(report.http.serverErrors).toBe(0);
    expect(report.http.dropped).toBe(0);
    expect(report.grpc.sent).toBe(400);
    expect(report.grpc.examples).toEqual([]);
    // Most fuzzed requests are refused (4xx); valid ones among them ran.
    expect(report.http.byStatus['200']).toBeGreaterThan(10);
    expect(report.grpc.byCode['3']).toBeGreaterThan(50);
    expect(child.child.exitCode).toBeNull();
    const live = await fetch(`http://127.0.0.1:${child.port}/v2/health/ready`);
    expect(live.status).toBe(200);
  }, 120_000);
});

// What the live fuzz found: uWS's endWithoutBody(n) left a HEAD response pending, so the next request
// on that keep-alive connection was answered with a reset.
describe.each(ENGINES)('HEAD over %s', (engine) => {
  it('keeps the connection usable for the next request', async () => {
    const server = await serve(engine, { modelRepository: root });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: string) =>
      new Promise<{ status: number; length: string | undefined; body: number; socket: unknown }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: server.port, method, path: '/v2/health/ready', agent }, (res) => {
          let body = 0;
          res.on('data', (d: Buffer) => (body += d.length));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, length: res.headers['content-length'], body, socket: req.socket }));
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const head = await send('HEAD');
      expect(head).toMatchObject({ status: 200, length: String(JSON.stringify({ ready: true }).length), body: 0 });
      const get = await send('GET'); // on the same connection: it used to be reset
      expect(get.status).toBe(200);
      expect(get.socket).toBe(head.socket);
    } finally {
      agent.destroy();
      await server.stop();
    }
  });
});
