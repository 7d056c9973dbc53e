#!/usr/bin/env node
// Builds the native addon in a source checkout (run by `npm ci`/`npm install` through the `prepare`
// script, which npm never runs for a package installed from the registry or a tarball: users get
// the prebuilt binaries and no install script at all). Skips the build when a binary for this
// platform is already there (build/Release or prebuilds/); `--force` always compiles, with cmake-js,
// after fetching ONNX Runtime's C headers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ortIncludeDir } from './fetch-ort-headers.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const force = process.argv.includes('--force') || process.env.TENSORGATE_BUILD_FROM_SOURCE === '1';

function existingBinary() {
  const libc = process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
  const candidates = [
    join(root, 'build', 'Release', 'tensorgate.node'),
    join(root, 'prebuilds', `${process.platform}-${process.arch}`, `tensorgate.${libc}.node`),
  ];
  return candidates.find((f) => existsSync(f));
}

if (!force) {
  const found = existingBinary();
  if (found) {
    console.error(`tensorgate: using native addon ${found}`);
    process.exit(0);
  }
}

// Extra cmake-js arguments: --CD<var>=<value> definitions, and --out <dir> for a separate build tree
// (the sanitizer builds use build-asan/).
const argv = process.argv.slice(2);
const extra = argv.filter((a) => a.startsWith('--CD'));
const outIndex = argv.indexOf('--out');
if (outIndex >= 0) extra.push('--out', argv[outIndex + 1]);
const args = [
  require.resolve('cmake-js/bin/cmake-js'),
  'compile',
  '--directory',
  root,
  `--CDORT_INCLUDE_DIR=${ortIncludeDir()}`,
  ...extra,
];
console.error('tensorgate: building the native addon from source (cmake-js)');
const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
if (result.status !== 0) {
  console.error('tensorgate: native build failed; see the compiler output above. A C++20 compiler and cmake >= 3.18 are needed.');
  process.exit(result.status ?? 1);
}
const built = join(outIndex >= 0 ? resolve(root, argv[outIndex + 1]) : join(root, 'build'), 'Release', 'tensorgate.node');
if (!existsSync(built)) {
  console.error(`tensorgate: the build finished but ${built} is missing`);
  process.exit(1);
}
