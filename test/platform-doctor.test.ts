// `tensorgate doctor`: the report, and its exit code when something the configuration asks for is
// missing (a provider, uWS, a Redis), run as the real CLI.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDoctorArgs } from '../src/cli/doctor-command.js';
import { uwsStatus } from '../src/server/uws-load.js';
import { ROOT } from './helpers/engine.js';
import { freePort, makeRepository } from './helpers/fixtures.js';
import { RedisServer, redisServerAvailable } from './helpers/redis-server.js';
import { tinyModel } from '../src/onnx/models.js';

function doctor(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join('src', 'cli', 'main.ts'), 'doctor', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tensorgate doctor', () => {
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    if (redisServerAvailable()) redis = await RedisServer.start();
  });
  afterAll(async () => redis?.stop());

  it('reports Node, the addon and why, ONNX Runtime, providers, CPU, GPUs and uWS, and exits 0 when nothing is asked for', () => {
    const r = doctor([]);
    expect(r.status, r.stderr).toBe(0);
    for (const label of ['Node.js', 'Addon', 'ONNX Runtime', 'Providers', 'CPU', 'GPUs', 'HTTP', 'Redis']) expect(r.stdout).toContain(label);
    expect(r.stdout).toContain(`${process.versions.node} (ABI ${process.versions.modules}, N-API ${process.versions.napi})`);
    expect(r.stdout).toMatch(/✓ 1\.30\.0 \(C API 21\)/);
    expect(r.stdout).toMatch(/· cuda: /); // no GPU here: not loading, but nobody asked for it
    expect(r.stdout).toContain('Everything asked for is here.');
  });

  it('exits 1 when --providers asks for one that does not load, and says who asked', () => {
    const r = doctor(['--providers', 'cuda', '--json']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as { satisfied: boolean; providers: Array<{ name: string; ok: boolean; required: boolean; requiredBy: string[]; detail: string }> };
    expect(report.satisfied).toBe(false);
    const cuda = report.providers.find((p) => p.name === 'cuda')!;
    expect(cuda).toMatchObject({ ok: false, required: true, requiredBy: ['--providers'] });
    expect(cuda.detail).not.toContain('onnxruntime_src'); // ORT's source location is cut off
  });

  it('a model repository whose config asks for a GPU makes the CUDA provider required by that model', () => {
    const repo = makeRepository({
      gpu: { versions: { 1: tinyModel() }, config: { instance_group: [{ kind: 'KIND_GPU', count: 1 }] } },
      cpu: { versions: { 1: tinyModel() } },
    });
    const parsed = parseDoctorArgs(['--model-repository', repo], {});
    expect(parsed).not.toBe('help');
    if (parsed === 'help') return;
    expect([...parsed.request.providers]).toEqual([['cuda', ["model 'gpu'"]]]);
    const r = doctor(['--model-repository', repo]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/✗ cuda: .*\(asked for by model 'gpu'\)/);
  });

  it('--http-engine uws is satisfied exactly when uWebSockets.js loads on this Node', () => {
    const r = doctor(['--http-engine', 'uws']);
    expect(r.status).toBe(uwsStatus().ok ? 0 : 1);
    expect(r.stdout).toMatch(uwsStatus().ok ? /✓ uWebSockets\.js loads/ : /✗ uWebSockets\.js .*ABI/);
  });

  it('TENSORGATE_FLAVOUR / --flavour that the loaded addon does not match exits 1', () => {
    const r = doctor(['--flavour', 'cpu', '--json']);
    const report = JSON.parse(r.stdout) as { addon: { ok: boolean; choice?: { flavour: string } } };
    expect(r.status).toBe(report.addon.choice?.flavour === 'cpu' ? 0 : 1);
    expect(report.addon.ok).toBe(r.status === 0);
  });

  it('an unreachable Redis is missing (with the socket error); a running one answers PING', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const r = doctor(['--redis-url', dead]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`✗ ${dead}: .*ECONNREFUSED`));
    if (!redis) return; // redis-server is not installed: the reachable half is covered where it is
    const ok = doctor(['--cache', `redis,url=${redis.url}`]);
    expect(ok.status, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/✓ redis:\/\/.*PING answered in/);
  });

  it('rejects unknown flags and values with usage and exit 2', () => {
    expect(doctor(['--flavour', 'rocm']).status).toBe(2);
    expect(doctor(['--bogus']).status).toBe(2);
  });
});
