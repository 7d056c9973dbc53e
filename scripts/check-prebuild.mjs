#!/usr/bin/env node
// Proves that what `npm run prebuild` produced is what node-gyp-build loads when there is no build/:
// copies package.json and prebuilds/ into an empty directory, loads the addon from there, and starts
// ONNX Runtime through it.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
if (!existsSync(join(root, 'prebuilds'))) {
  console.error('no prebuilds/ directory: run `npm run prebuild` first');
  process.exit(1);
}
const dir = mkdtempSync(join(tmpdir(), 'tensorgate-prebuild-'));
try {
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  cpSync(join(root, 'prebuilds'), join(dir, 'prebuilds'), { recursive: true });
  const loader = require('node-gyp-build');
  const path = loader.path(dir);
  if (!path.startsWith(join(dir, 'prebuilds'))) throw new Error(`node-gyp-build resolved ${path}, not a prebuild`);
  const binding = loader(dir);
  const ort = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin/napi-v6/linux', process.arch, 'libonnxruntime.so.1');
  const info = binding.init({ library: ort, intraOpThreads: 1, interOpThreads: 1, allowSpinning: false, logLevel: 3, threadsExplicit: false, isMainThread });
  console.log(`prebuild OK: ${path.slice(dir.length + 1)} loads without build/ and runs ONNX Runtime ${info.ortVersion} (API ${info.apiVersion})`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
