// The release as a user gets it: `npm install` of the packed tarballs (`npm run pack:release`) into an
// empty project, npm's default settings, no compiler on PATH and, where a network namespace can be
// made (root), no network at all during the install (a warm npm cache of the test's own, filled from
// the registry first, is the only source). Then `tensorgate serve` answers an inference and
// `tensorgate doctor` explains what loaded. Figures go to pack/install-report.json.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../../src/onnx/models.js';
import { freePort, until } from '../helpers/fixtures.js';
import {
  canIsolateNetwork,
  compilerFreeBin,
  duBytes,
  installedPackages,
  newProject,
  npmInstall,
  packedTarballs,
  PACK_DIR,
  removeAll,
  runInstalled,
  spawnInstalled,
  userEnv,
  type Packed,
} from './consumer.js';

/** Never in a user's runtime tree: build tools, the ONNX builder, onnxruntime-node (its install script downloads). */
const BUILD_ONLY = ['onnxruntime-node', 'cmake-js', 'node-addon-api', 'onnx-proto', 'prebuildify'];

let packed: Packed[];
let bin: string;
let env: NodeJS.ProcessEnv;
const tarball = (name: string) => packed.find((p) => p.name === name)?.file;
const cleanup: string[] = [];

beforeAll(() => {
  packed = packedTarballs();
  bin = compilerFreeBin();
  env = userEnv(bin);
  cleanup.push(bin);
  // Fill the test's npm cache from the registry (the only network the release needs).
  const warm = newProject();
  cleanup.push(warm);
  // This platform's tarballs (npm refuses another CPU's platform package, e.g. a cross-built arm64 one).
  const mine = `@tensorgate/${process.platform}-${process.arch}`;
  const all = packed.filter((p) => !p.name.startsWith('@tensorgate/') || p.name === mine || p.name.startsWith(`${mine}-`)).map((p) => p.file);
  const r = npmInstall(warm, all, env, false, ['--ignore-scripts']);
  expect(r.status, r.output).toBe(0);
});

afterAll(() => removeAll(...cleanup));

async function infer(port: number): Promise<number[]> {
  const res = await fetch(`http://127.0.0.1:${port}/v2/models/tiny/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from({ length: 16 }, (_, i) => i) }] }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { outputs: Array<{ data: number[] }> }).outputs[0]!.data;
}

/** Starts the installed CLI's `serve` and resolves with its port once it listens, and its log lines. */
async function serveInstalled(dir: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const repo = join(dir, 'models');
  mkdirSync(join(repo, 'tiny', '1'), { recursive: true });
  writeFileSync(join(repo, 'tiny', '1', 'model.onnx'), tinyModel());
  const port = await freePort();
  const child = spawnInstalled(dir, { ...env, ...extraEnv }, ['serve', '--model-repository', repo, '--http-port', String(port), '--grpc-port', '0']);
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => {
    for (const line of t.split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
  await until(() => logs.some((l) => l.msg === 'listening') || child.exitCode !== null, 'listening', 60_000);
  if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${stderr}\n${JSON.stringify(logs)}`);
  return { child, port, logs };
}

describe('npm install of the packed release', () => {
  it('runs with a PATH that has node and npm but no compiler or cmake', () => {
    for (const tool of ['g++', 'gcc', 'cc', 'c++', 'cmake', 'make']) {
      expect(runShell(`command -v ${tool}`).status, tool).not.toBe(0);
    }
    expect(runShell('command -v npm').status).toBe(0);
  });

  it('every package the published JavaScript imports is a declared dependency (none is dev-only)', () => {
    const dir = newProject();
    cleanup.push(dir);
    expect(spawnSync('tar', ['xzf', tarball('tensorgate')!, '-C', dir], { encoding: 'utf8' }).status).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'package', 'package.json'), 'utf8')) as { dependencies: object; optionalDependencies: object };
    const declared = new Set([...Object.keys(manifest.dependencies), ...Object.keys(manifest.optionalDependencies)]);
    const imported = new Map<string, string>();
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const path = join(d, e.name);
        if (e.isDirectory()) walk(path);
        else if (e.name.endsWith('.js')) {
          // Static imports/exports at the start of a line, and dynamic import()/require() calls (not
          // words such as "from '5m,15m,1h'" in comments).
          const text = readFileSync(path, 'utf8');
          const found = [
            ...text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"./][^'"]*)['"]/gm),
            ...text.matchAll(/^\s*import\s*['"]([^'"./][^'"]*)['"]/gm),
            ...text.matchAll(/\b(?:import|require)\(\s*['"]([^'"./][^'"]*)['"]/g),
          ];
          for (const m of found) {
            const spec = m[1]!;
            if (spec.startsWith('node:')) continue;
            const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
            imported.set(name, path.slice(dir.length + 1));
          }
        }
      }
    };
    walk(join(dir, 'package', 'dist'));
    const undeclared = [...imported].filter(([name]) => !declared.has(name));
    expect(undeclared, 'imported by the published dist/ but not a dependency').toEqual([]);
    expect(imported.has('onnx-proto')).toBe(false);
  });

  it('installs with no compiler and no download, then serves and answers', async () => {
    const dir = newProject();
    cleanup.push(dir);
    const started = performance.now();
    const install = npmInstall(dir, [tarball('tensorgate')!, tarball('@tensorgate/linux-x64')!], env, true);
    expect(install.status, install.output).toBe(0);
    const packages = installedPackages(dir);
    for (const name of BUILD_ONLY) expect(packages, `${name} must not be installed`).not.toContain(name);
    expect(existsSync(join(dir, 'node_modules', 'tensorgate', 'build'))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(dir, 'node_modules', 'tensorgate', 'package.json'), 'utf8')) as { scripts?: object };
    expect(manifest.scripts, 'the published package has no scripts at all').toBeUndefined();

    const server = await serveInstalled(dir);
    try {
      expect(await infer(server.port)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      const firstAnswer = (performance.now() - started) / 1000;
      const report = {
        node: process.version,
        networkIsolated: canIsolateNetwork(),
        installSeconds: Math.round(install.seconds * 10) / 10,
        firstAnswerSeconds: Math.round(firstAnswer * 10) / 10,
        packages: packages.length,
        nodeModulesBytes: duBytes(join(dir, 'node_modules')),
        tarballs: packed.map(({ name, size, unpackedSize }) => ({ name, size, unpackedSize })),
      };
      writeFileSync(join(PACK_DIR, 'install-report.json'), `${JSON.stringify(report, null, 2)}\n`);
      console.log(`packaging: ${JSON.stringify(report)}`);
      const ortLoaded = server.logs.find((l) => l.msg === 'ONNX Runtime loaded');
      expect(String(ortLoaded?.library)).toContain(join('node_modules', '@tensorgate', 'linux-x64', 'lib', 'libonnxruntime.so.1'));
    } finally {
      server.child.kill('SIGTERM');
    }

    // The engine API, imported by a user's own module.
    const api = spawnSync(
      join(bin, 'node'),
      ['--input-type=module', '-e', `import { Engine } from 'tensorgate'; const m = await Engine.create().load(${JSON.stringify(join(dir, 'models', 'tiny', '1', 'model.onnx'))}); const y = await m.infer({ x: { shape: [1, 16], data: new Float32Array(16) } }); console.log(Array.from(y.y.data).join(',')); await m.unload();`],
      { cwd: dir, env, encoding: 'utf8' },
    );
    expect(api.stdout.trim(), api.stderr).toBe(Array(16).fill(1).join(','));

    const doctor = runInstalled(dir, env, ['doctor', '--json']);
    expect(doctor.status, doctor.stdout + doctor.stderr).toBe(0);
    const d = JSON.parse(doctor.stdout) as { addon: { choice: { origin: string; flavour: string; file: string } }; ort: { version: string } };
    expect(d.addon.choice).toMatchObject({ origin: 'prebuild', flavour: 'cpu' });
    expect(d.addon.choice.file).toContain(join('node_modules', 'tensorgate', 'prebuilds'));
    expect(d.ort.version).toBe('1.30.0');
  });

  it.skipIf(!existsSync(join(PACK_DIR, 'tensorgate-linux-x64-cuda-0.1.0.tgz')))(
    'with the CUDA flavour installed on a machine without a GPU: the CPU flavour, the reason logged; TENSORGATE_FLAVOUR=cuda refuses',
    async () => {
      // A GPU user lets onnxruntime-node's script fetch the CUDA providers; without a GPU there is nothing to fetch.
      const dir = newProject({ allowScripts: { 'onnxruntime-node': false } });
      cleanup.push(dir);
      const files = ['tensorgate', '@tensorgate/linux-x64', '@tensorgate/linux-x64-cuda'].map((n) => tarball(n)!);
      const install = npmInstall(dir, files, env, true);
      expect(install.status, install.output).toBe(0);

      const doctor = runInstalled(dir, env, ['doctor', '--json']);
      expect(doctor.status, doctor.stdout + doctor.stderr).toBe(0);
      const d = JSON.parse(doctor.stdout) as { addon: { choice: { flavour: string; cudaFallback?: string } } };
      expect(d.addon.choice.flavour).toBe('cpu');
      expect(d.addon.choice.cudaFallback).toMatch(/no NVIDIA GPU|self-test/);

      const strict = runInstalled(dir, { ...env, TENSORGATE_FLAVOUR: 'cuda' }, ['doctor']);
      expect(strict.status).toBe(1);
      expect(strict.stdout).toContain('TENSORGATE_FLAVOUR=cuda');

      const server = await serveInstalled(dir);
      try {
        const warning = server.logs.find((l) => String(l.msg).includes('CUDA flavour is installed but cannot be used'));
        expect(warning?.reason).toBe(d.addon.choice.cudaFallback);
        expect(await infer(server.port)).toHaveLength(16);
      } finally {
        server.child.kill('SIGTERM');
      }
    },
  );
});

/** A command in the user's shell (the compiler-free PATH). */
function runShell(command: string) {
  return spawnSync(join(bin, 'sh'), ['-c', command], { env, encoding: 'utf8' });
}
