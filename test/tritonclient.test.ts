// Triton's own Python clients, unchanged, against both fronts (scripts/tritonclient-check.py). The
// tritonclient package is in neither Debian nor the npm registry, so this runs only where the
// environment points TRITONCLIENT_PYTHONPATH at a copy (its grpc stubs generated with grpc_tools);
// numpy and grpcio come from Debian (python3-numpy, python3-grpcio).
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, EXAMPLES } from './helpers/engine.js';
import { freePort } from './helpers/fixtures.js';
import { ENGINES, serve, type TestServer } from './helpers/http-server.js';

const run = promisify(execFile);
const PYTHONPATH = process.env.TRITONCLIENT_PYTHONPATH;
const PYTHON = process.env.TRITONCLIENT_PYTHON ?? '/usr/bin/python3';
const available =
  PYTHONPATH !== undefined && spawnSync(PYTHON, ['-c', 'import tritonclient.http, tritonclient.grpc'], { env: { ...process.env, PYTHONPATH } }).status === 0;
if (!available) console.warn('tritonclient is not available (set TRITONCLIENT_PYTHONPATH): the tritonclient checks are skipped');

describe.skipIf(!available)("Triton's Python clients against tensorgate", () => {
  let server: TestServer;
  let grpcPort: number;

  beforeAll(async () => {
    grpcPort = await freePort();
    server = await serve(ENGINES[0]!, { modelRepository: EXAMPLES, grpcPort });
  });
  afterAll(() => server?.stop());

  it('tritonclient.http and tritonclient.grpc pass every check (health, metadata, config, stats, index, infer, streaming)', async () => {
    // Asynchronously: the server answering the script runs in this process.
    const { stdout } = await run(PYTHON, [join(ROOT, 'scripts/tritonclient-check.py'), `127.0.0.1:${server.port}`, `127.0.0.1:${grpcPort}`], {
      env: { ...process.env, PYTHONPATH },
      timeout: 60_000,
    });
    expect(stdout).toContain('tritonclient: all checks passed');
  });
});
