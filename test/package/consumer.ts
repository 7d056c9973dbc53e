// A user's project for the packaging test: an empty directory, `npm install` of the packed tarballs
// with npm's default settings, a PATH with no compiler, an npm cache of its own, and (when this
// process may create a network namespace, as root can) no network at all during the install.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const PACK_DIR = join(ROOT, 'pack');

export interface Packed {
  name: string;
  file: string;
  size: number;
  unpackedSize: number;
  entries: number;
}

/** The tarballs `npm run pack:release` wrote, or an error saying to run it. */
export function packedTarballs(): Packed[] {
  const index = join(PACK_DIR, 'packed.json');
  if (!existsSync(index)) throw new Error(`${index} is missing: run \`npm run pack:release\` first`);
  return JSON.parse(readFileSync(index, 'utf8')) as Packed[];
}

/** The npm cache the test uses: its own, kept between runs so the install is offline-safe once warm. */
export const NPM_CACHE = process.env.TENSORGATE_PACKAGE_TEST_CACHE ?? join(homedir(), '.cache', 'tensorgate', 'npm-package-test');

/** Tools a user without a compiler still has; everything else (g++, cc, cmake, make) is left out. */
const TOOLS = ['sh', 'bash', 'env', 'cat', 'ls', 'rm', 'mkdir', 'cp', 'mv', 'uname', 'tar', 'gzip'];

/** A directory holding node, npm, npx and basic shell tools only, for PATH. */
export function compilerFreeBin(): string {
  const bin = mkdtempSync(join(tmpdir(), 'tensorgate-nocc-bin-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  const npmCli = resolve(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin');
  const npmDir = existsSync(npmCli) ? npmCli : dirname(resolve(execFileSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).trim()));
  writeFileSync(join(bin, 'npm'), `#!/bin/sh\nexec "${process.execPath}" "${join(npmDir, 'npm-cli.js')}" "$@"\n`, { mode: 0o755 });
  writeFileSync(join(bin, 'npx'), `#!/bin/sh\nexec "${process.execPath}" "${join(npmDir, 'npx-cli.js')}" "$@"\n`, { mode: 0o755 });
  for (const tool of TOOLS) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(bin, tool));
  }
  return bin;
}

/** The environment of a user's shell: our PATH, none of tensorgate's own variables, no npm_* from vitest's npm run. */
export function userEnv(bin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('npm_') || k.startsWith('TENSORGATE_') || k === 'NODE_OPTIONS' || k === 'INIT_CWD' || k.startsWith('VITEST')) continue;
    env[k] = v;
  }
  env.PATH = bin;
  env.CC = '';
  env.CXX = '';
  return env;
}

/** util-linux's unshare, found on this process's PATH (the user's PATH below has only npm and node). */
const UNSHARE = spawnSync('sh', ['-c', 'command -v unshare'], { encoding: 'utf8' }).stdout.trim();

/** Whether `unshare -n` works here (root, or user namespaces): then the install runs with no network. */
export function canIsolateNetwork(): boolean {
  return UNSHARE !== '' && spawnSync(UNSHARE, ['-n', 'true'], { stdio: 'ignore' }).status === 0;
}

export function newProject(extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'tensorgate-consumer-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, ...extra }, null, 2));
  return dir;
}

export interface InstallResult {
  status: number | null;
  output: string;
  seconds: number;
}

const NPM_FLAGS = ['--no-audit', '--no-fund', '--no-update-notifier'];

/** `npm install <tarballs>` in `dir` with the user's environment; `offline` runs it in a network namespace. */
export function npmInstall(dir: string, tarballs: string[], env: NodeJS.ProcessEnv, offline: boolean, extraFlags: string[] = []): InstallResult {
  const npm = ['npm', 'install', ...tarballs, '--cache', NPM_CACHE, ...NPM_FLAGS, ...(offline ? ['--offline'] : ['--prefer-offline']), ...extraFlags];
  const [cmd, ...args] = offline && canIsolateNetwork() ? [UNSHARE, '-n', '--', ...npm] : npm;
  const started = performance.now();
  const r = spawnSync(cmd === 'npm' ? join(env.PATH!.split(':')[0]!, 'npm') : cmd!, args, { cwd: dir, env, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}\n${r.stderr}`, seconds: (performance.now() - started) / 1000 };
}

/** Installed packages: every directory under node_modules with a package.json (scoped ones too, nested ones too). */
export function installedPackages(dir: string): string[] {
  const found: string[] = [];
  const walk = (nm: string) => {
    if (!existsSync(nm)) return;
    for (const name of readdirSync(nm)) {
      if (name.startsWith('.')) continue;
      const path = join(nm, name);
      if (name.startsWith('@')) {
        for (const sub of readdirSync(path)) visit(join(path, sub), `${name}/${sub}`);
      } else visit(path, name);
    }
  };
  const visit = (path: string, name: string) => {
    if (!existsSync(join(path, 'package.json'))) return;
    found.push(name);
    walk(join(path, 'node_modules'));
  };
  walk(join(dir, 'node_modules'));
  return found.sort();
}

export function duBytes(path: string): number {
  let total = 0;
  const walk = (p: string) => {
    const s = statSync(p, { throwIfNoEntry: false });
    if (!s || s.isSymbolicLink()) return;
    if (s.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
    else total += s.size;
  };
  walk(path);
  return total;
}

export function removeAll(...paths: string[]): void {
  for (const p of paths) rmSync(p, { recursive: true, force: true });
}

export function spawnInstalled(dir: string, env: NodeJS.ProcessEnv, args: string[]): ChildProcess {
  return spawn(join(dir, 'node_modules', '.bin', 'tensorgate'), args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function runInstalled(dir: string, env: NodeJS.ProcessEnv, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(join(dir, 'node_modules', '.bin', 'tensorgate'), args, { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}


