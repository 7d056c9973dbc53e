// The container image's file set (scripts/image/stage.mjs, what both Dockerfiles' final stages copy):
// `tensorgate serve` runs from a staged copy alone and answers, the copy holds no build tools or dev
// dependencies, and the Dockerfiles build it the way this test does.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { USAGE } from '../src/cli/options.js';
import { EXAMPLES, ROOT } from './helpers/engine.js';
import { get, post } from './helpers/http-server.js';

// @ts-expect-error: a plain ESM script without type declarations
const { stage, runtimePackages, BUILD_ONLY } = (await import('../scripts/image/stage.mjs')) as {
  stage(out: string, options?: { link?: boolean }): string[];
  runtimePackages(): string[];
  BUILD_ONLY: Set<string>;
};

const out = join(mkdtempSync(join(tmpdir(), 'tg-image-')), 'app');
afterAll(() => rmSync(join(out, '..'), { recursive: true, force: true }));

describe('the image file set', () => {
  it('holds the runtime packages and none of the build or dev ones', () => {
    const packages = stage(out, { link: true });
    const names = new Set(packages.map((p) => p.slice(p.lastIndexOf('node_modules/') + 13)));
    for (const needed of ['pino', 'prom-client', 'zod', 'yaml', 'ioredis']) expect(names.has(needed), needed).toBe(true);
    for (const absent of [...BUILD_ONLY, 'onnxruntime-node', 'onnx-proto', 'typescript', 'vitest', 'tsx', 'kubernetes-models', 'fastify']) expect(names.has(absent), absent).toBe(false);
    expect(existsSync(join(out, 'build', 'Release', 'tensorgate.node'))).toBe(true);
    expect(existsSync(join(out, 'src'))).toBe(false);
    expect(existsSync(join(out, 'native'))).toBe(false);
    // ONNX Runtime: the platform package a user's install gets, holding this platform's library only.
    const ort = join(out, 'node_modules', '@tensorgate', `${process.platform}-${process.arch}`);
    expect(existsSync(join(ort, 'package.json'))).toBe(true);
    expect(existsSync(join(ort, 'lib', 'libonnxruntime.so.1'))).toBe(true);
    expect(existsSync(join(out, 'node_modules', 'onnxruntime-node'))).toBe(false);
    expect(runtimePackages()).toEqual(packages);
  });

  it('serves the example repository from the staged copy alone', async () => {
    const grpcOff = USAGE.includes('--grpc-port') ? ['--grpc-port', '0'] : [];
    // cwd and module resolution both inside the copy: nothing from the repository's node_modules.
    const child = spawn(process.execPath, [join(out, 'dist', 'cli', 'main.js'), 'serve', '--model-repository', EXAMPLES, '--http-port', '0', ...grpcOff], {
      cwd: out,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: '' },
    });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let text = '';
        let err = '';
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        child.stdout!.on('data', (d: Buffer) => {
          text += d.toString();
          const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(text);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${text}${err}`)));
      });
      expect((await get(port, '/v2/health/ready')).status).toBe(200);
      const x = Array.from({ length: 16 }, (_, i) => i);
      const r = await post(port, '/v2/models/tiny/infer', { inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: x }] });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body.toString()).outputs[0].data).toEqual(x.map((v) => v + 1));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

describe('the Dockerfiles', () => {
  for (const file of ['Dockerfile', 'Dockerfile.cuda']) {
    it(`${file}: stages with the same script, runs as a non-root user, ports 8000/8001, serve as entry point`, () => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const stages = text.split(/^FROM /m).slice(1);
      expect(stages[0]).toMatch(/RUN npm ci [^\n]*\\\n(\s*&& [^\n]*\\\n)*\s*&& node scripts\/image\/stage\.mjs \/app/);
      const final = stages[stages.length - 1]!;
      expect(final).toMatch(/^COPY --from=build \/app \/app$/m);
      expect(final).not.toMatch(/apt-get install|g\+\+|cmake|npm /); // no compiler, no npm in the final stage
      expect(final).toMatch(/^USER 10001:10001$/m);
      expect(final).toMatch(/^EXPOSE 8000 8001$/m);
      expect(final).toMatch(/^ENTRYPOINT \["node", "\/app\/dist\/cli\/main\.js"\]$/m);
      expect(final).toMatch(/^CMD \["serve", "--model-repository=\/models", "--host=0\.0\.0\.0"\]$/m);
      // The build context must hold everything the build stage copies.
      const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
      for (const m of stages[0]!.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
        for (const src of m[1]!.split(/\s+/)) {
          expect(existsSync(join(ROOT, src)), `${file} copies ${src}`).toBe(true);
          expect(ignored).not.toContain(src.replace(/\/$/, ''));
        }
      }
    });
  }
});
