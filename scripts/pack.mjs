#!/usr/bin/env node
// `npm run pack:release`: the release tarballs, as they would be published, in pack/:
//   tensorgate-<v>.tgz                     JavaScript, proto/, the CPU prebuild (no install script)
//   tensorgate-linux-x64-<v>.tgz           libonnxruntime.so.1 from onnxruntime-node (MIT), checked by sha256
//   tensorgate-linux-x64-cuda-<v>.tgz      the CUDA flavour of the addon, when it was built (nvcc present)
// Builds what is missing first (dist/, prebuilds/; `--rebuild` rebuilds the binaries). Prints each
// tarball's size; `--json FILE` also writes them for the packaging test and CI.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const argv = process.argv.slice(2);
const out = join(root, 'pack');
const tag = `${process.platform}-${process.arch}`;
const libc = process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';

// The ONNX Runtime library each platform package carries: onnxruntime-node's file and its sha256.
const ORT = {
  'linux-x64': { file: 'bin/napi-v6/linux/x64/libonnxruntime.so.1', sha256: 'ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23' },
  'linux-arm64': { file: 'bin/napi-v6/linux/arm64/libonnxruntime.so.1', sha256: '1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76' },
};

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
};
const readJson = (f) => JSON.parse(readFileSync(f, 'utf8'));

const rootPkg = readJson(join(root, 'package.json'));
const version = rootPkg.version;

// 1. What goes in: dist/ and the binaries.
run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
const prebuild = join(root, 'prebuilds', tag, `tensorgate.${libc}.node`);
if (argv.includes('--rebuild') || !existsSync(prebuild)) run(process.execPath, ['scripts/prebuild.mjs']);

// 2. The ONNX Runtime packages: the library, verified, for this platform and for every other one
// whose prebuild exists (cross builds).
const ortPackage = (target) => {
  const ort = ORT[target];
  if (!ort) throw new Error(`no ONNX Runtime package is defined for ${target}`);
  const source = join(dirname(require.resolve('onnxruntime-node/package.json')), ort.file);
  const sum = createHash('sha256').update(readFileSync(source)).digest('hex');
  if (sum !== ort.sha256) throw new Error(`${source}: sha256 ${sum}, expected ${ort.sha256} (onnxruntime-node changed? update scripts/pack.mjs)`);
  const dir = join(root, 'packages', target);
  mkdirSync(join(dir, 'lib'), { recursive: true });
  copyFileSync(source, join(dir, 'lib', 'libonnxruntime.so.1'));
  return dir;
};
const ortDir = ortPackage(tag);
const crossDirs = Object.keys(ORT)
  .filter((t) => t !== tag && existsSync(join(root, 'prebuilds', t)))
  .map(ortPackage);

// 3. One version everywhere: the platform packages carry the root's version.
const dirs = [root, ortDir, ...crossDirs];
const cudaDir = join(root, 'packages', `${tag}-cuda`);
if (existsSync(join(cudaDir, 'tensorgate.node'))) dirs.push(cudaDir);
else console.error(`tensorgate: no CUDA flavour binary in ${cudaDir} (run \`npm run prebuild\` where nvcc is installed): not packed`);
for (const dir of dirs.slice(1)) {
  const v = readJson(join(dir, 'package.json')).version;
  if (v !== version) throw new Error(`${dir}/package.json has version ${v}, the root ${version}: keep them equal`);
}

// 4. The main package is packed from a staging copy whose package.json keeps only what a user's
// npm reads: no scripts (npm would list `prepare` among a tarball's install scripts), no
// devDependencies, allowScripts or devEngines (they describe this checkout, not the package).
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const stage = join(out, 'stage');
const listing = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
for (const { path } of listing[0].files) {
  mkdirSync(dirname(join(stage, path)), { recursive: true });
  copyFileSync(join(root, path), join(stage, path));
}
// The ONNX Runtime package becomes an optional dependency here, in the release manifest only: a
// checkout cannot list a package that is not yet on the registry without breaking \`npm ci\`, and it
// loads onnxruntime-node's copy of the same library instead.
const platformDeps = Object.fromEntries(dirs.slice(1).filter((d) => !d.endsWith('-cuda')).map((d) => [readJson(join(d, 'package.json')).name, version]));
const manifest = { ...rootPkg, optionalDependencies: { ...platformDeps, ...rootPkg.optionalDependencies } };
for (const key of ['scripts', 'devDependencies', 'allowScripts', 'devEngines', 'binary']) delete manifest[key];
writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
dirs[0] = stage;

// 5. Pack, without scripts (everything is built above).
const packed = [];
for (const dir of dirs) {
  const json = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [info] = JSON.parse(json);
  packed.push({ name: info.name, file: join(out, info.filename), size: info.size, unpackedSize: info.unpackedSize, entries: info.entryCount });
}
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
for (const p of packed) console.log(`${p.file.slice(root.length + 1).padEnd(44)} ${mb(p.size).padStart(9)} packed ${mb(p.unpackedSize).padStart(9)} unpacked ${String(p.entries).padStart(5)} files`);
writeFileSync(join(out, 'packed.json'), `${JSON.stringify(packed, null, 2)}\n`);
rmSync(stage, { recursive: true, force: true });
