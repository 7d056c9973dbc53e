#!/usr/bin/env node
// `npm run prebuild`: the release binaries of the addon, each built in its own tree so that a flavour
// never depends on what the development build (build/) happened to find:
//   prebuilds/<platform>-<arch>/tensorgate.<libc>.node   CPU flavour (-DTENSORGATE_CUDA=OFF), in the main package
//   packages/<platform>-<arch>-cuda/tensorgate.node       CUDA flavour, only when the CUDA toolkit (nvcc) is here
// Both are Node-API binaries: one file serves every Node version. `--cpu-only` skips the CUDA build.
// `--cross linux-arm64` also cross-compiles the CPU flavour for arm64 with Debian's
// g++-aarch64-linux-gnu (opt-in: ONNX Runtime's arm64 library cannot run under qemu-user here, so
// that binary is load-tested only; see the README).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tag = `${process.platform}-${process.arch}`;
const libc = process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';

function build(out, defines) {
  const args = [join(root, 'scripts/install-native.mjs'), '--force', '--out', out, ...defines.map((d) => `--CD${d}`)];
  const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) process.exit(r.status ?? 1);
  return join(root, out, 'Release', 'tensorgate.node');
}

function install(built, target, strip = 'strip') {
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(built, target);
  execFileSync(strip, ['--strip-unneeded', target]);
  // The glibc floor decides which distributions the binary runs on: print it, as `objdump -T` does.
  const floor = glibcFloor(target);
  console.error(`tensorgate: ${target.slice(root.length + 1)} (${statSync(target).size} bytes${floor ? `, needs glibc >= ${floor}` : ''})`);
}

function glibcFloor(file) {
  try {
    const out = execFileSync('objdump', ['-T', file], { encoding: 'utf8' });
    const versions = [...out.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    versions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const v = versions.at(-1);
    return v ? `${v[0]}.${v[1]}` : undefined;
  } catch {
    return undefined;
  }
}

/** Cross compilers per target (Debian's package names for the toolchains). */
const CROSS = {
  'linux-arm64': { processor: 'aarch64', cxx: 'aarch64-linux-gnu-g++', strip: 'aarch64-linux-gnu-strip', apt: 'g++-aarch64-linux-gnu' },
};

function haveCudaToolkit() {
  if (process.env.CUDAToolkit_ROOT && existsSync(join(process.env.CUDAToolkit_ROOT, 'bin/nvcc'))) return true;
  return spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).status === 0;
}

install(build('build-prebuild', ['TENSORGATE_CUDA=OFF']), join(root, 'prebuilds', tag, `tensorgate.${libc}.node`));
const crossAt = process.argv.indexOf('--cross');
if (crossAt >= 0) {
  const target = process.argv[crossAt + 1];
  const t = CROSS[target];
  if (!t) throw new Error(`--cross ${target}: known targets are ${Object.keys(CROSS).join(', ')}`);
  if (spawnSync(t.cxx, ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error(`${t.cxx} is not installed (apt-get install ${t.apt})`);
  const built = build(`build-${target}`, ['TENSORGATE_CUDA=OFF', 'CMAKE_SYSTEM_NAME=Linux', `CMAKE_SYSTEM_PROCESSOR=${t.processor}`, `CMAKE_CXX_COMPILER=${t.cxx}`]);
  install(built, join(root, 'prebuilds', target, 'tensorgate.glibc.node'), t.strip);
}
if (process.argv.includes('--cpu-only')) process.exit(0);
if (haveCudaToolkit()) {
  install(build('build-cuda', ['TENSORGATE_REQUIRE_CUDA=ON']), join(root, 'packages', `${tag}-cuda`, 'tensorgate.node'));
} else {
  console.error('tensorgate: no CUDA toolkit (nvcc) here: the CUDA flavour is not built');
}
