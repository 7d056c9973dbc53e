// The admin token on the repository API: compared as fixed-length SHA-256 digests, so a header of any
// length or bytes (non-ASCII included, which once made timingSafeEqual throw: a 500) is a plain 401,
// and nothing about the token's length leaks; and the warnings at start: the repository API (explicit
// mode: load/unload with configs given in the request) open without a token, and a head timeout uWS
// cannot honour.
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveOptionsSchema } from '../src/cli/options.js';
import { startServer } from '../src/cli/serve.js';
import { EXTENSIONS, ServerControl } from '../src/inference/index.js';
import { ProtocolError } from '../src/protocol/errors.js';
import { tinyModel } from '../src/onnx/models.js';
import { ENGINES, get, makeRepository, post, RawClient, serve, type TestServer } from './helpers/http-server.js';

const TOKEN = 'sécret-tökén';
const root = makeRepository({ tiny: { bytes: tinyModel() } });

describe('ServerControl.authorize', () => {
  const control = new ServerControl({ repository: {} as never, version: '0', adminToken: TOKEN });

  it('accepts exactly "Bearer <token>"', () => {
    expect(() => control.authorize(`Bearer ${TOKEN}`)).not.toThrow();
  });

  it('refuses anything else with UNAUTHENTICATED, whatever its length or characters (20,000 cases)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom(`Bearer ${TOKEN} `, `bearer ${TOKEN}`, 'Bearer sécret', `Bearer ${TOKEN}x`)), (header) => {
        if (header === `Bearer ${TOKEN}`) return;
        try {
          control.authorize(header);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
          expect((err as ProtocolError).kind).toBe('UNAUTHENTICATED');
          return;
        }
        throw new Error(`accepted ${JSON.stringify(header)}`);
      }),
      { numRuns: 20_000, seed: 7 },
    );
  });
});

describe.each(ENGINES)('the admin token over %s', (engine) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await serve(engine, { modelRepository: root, modelControlMode: 'explicit', adminToken: TOKEN });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('a non-ASCII (UTF-8) Authorization header is a 401, not a 500', async () => {
    for (const value of [Buffer.from('Bearer sécret-tökén-wrong'), Buffer.from('Bearer 秘密'), Buffer.from([0x42, 0x65, 0xff, 0xfe])]) {
      const client = new RawClient(server.port);
      try {
        await client.write(Buffer.concat([Buffer.from('POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nAuthorization: '), value, Buffer.from('\r\n\r\n')]));
        const r = await client.response(5000);
        expect(r.status).toBe(401);
        expect(JSON.parse(r.body.toString()).error).toMatch(/admin token/);
      } finally {
        client.destroy();
      }
    }
  });

  it('repository API bodies and load configs are bounded like inference bodies: deep nesting is a 400', async () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const plain = await serve(engine, { modelRepository: root, modelControlMode: 'explicit', adminToken: 'ascii-token' });
    try {
      const headers = { authorization: 'Bearer ascii-token' };
      const index = await post(plain.port, '/v2/repository/index', `{"ready": ${deep}}`, headers);
      expect(index.status).toBe(400);
      expect(index.json().error).toMatch(/nested deeper than 64 levels/);
      const load = await post(plain.port, '/v2/repository/models/tiny/load', { parameters: { config: `{"input": ${deep}}` } }, headers);
      expect(load.status).toBe(400);
      expect(load.json().error).toMatch(/nested deeper than 64 levels/);
    } finally {
      await plain.stop();
    }
  });

  it('the server no longer advertises model_repository(unload_dependents)', async () => {
    const extensions = (await get(server.port, '/v2')).json().extensions as string[];
    expect(extensions).toEqual(EXTENSIONS);
    expect(extensions).not.toContain('model_repository(unload_dependents)');
  });
});

describe('the warning at start', () => {
  async function warningsOf(options: Record<string, unknown>): Promise<string[]> {
    const lines: Array<{ level: number; msg: string }> = [];
    const logger = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as { level: number; msg: string }) });
    const running = await startServer(serveOptionsSchema.parse({ modelRepository: root, httpPort: 0, grpcPort: 0, httpEngine: 'node', ...options }), logger);
    await running.stop();
    return lines.filter((l) => l.level === 40).map((l) => l.msg);
  }

  it('when the repository API is open (explicit mode) without a token', async () => {
    expect((await warningsOf({ modelControlMode: 'explicit' })).some((m) => /repository API .* open to anyone/.test(m))).toBe(true);
    expect((await warningsOf({ modelControlMode: 'explicit', adminToken: 'x' })).some((m) => /open to anyone/.test(m))).toBe(false);
    expect((await warningsOf({ modelControlMode: 'none' })).some((m) => /open to anyone/.test(m))).toBe(false);
  });

  it.skipIf(!ENGINES.includes('uws'))('when --http-header-timeout is set with uWS, whose head timeout is its own', async () => {
    const uws = await warningsOf({ httpEngine: 'uws', httpHeaderTimeout: 400 });
    expect(uws.some((m) => /uWebSockets\.js has its own fixed request-head timeout/.test(m))).toBe(true);
    expect((await warningsOf({ httpEngine: 'uws' })).some((m) => /request-head timeout/.test(m))).toBe(false);
  });
});
