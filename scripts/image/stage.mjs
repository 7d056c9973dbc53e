#!/usr/bin/env node
// Assembles what a tensorgate container runs, and nothing else, into one directory: package.json,
// dist/, proto/, the compiled addon (build/Release/tensorgate.node), the node_modules packages the
// runtime reaches from package.json's dependencies (found through package-lock.json), pruned of other
// platforms' binaries, and ONNX Runtime's library as the platform package (@tensorgate/<platform>) a
// user's install gets, taken from the checkout's onnxruntime-node (a development dependency). The
// Dockerfiles' final stages copy exactly this directory, and the tests run `tensorgate serve` from a
// staged copy, so the image's file set is proven without building an image.
//
// Usage: node scripts/image/stage.mjs OUT [--link] [--providers]
//   --link: hard links instead of copies (tests); --providers: also ONNX Runtime's GPU provider
//   libraries that sit next to onnxruntime-node's copy (the CUDA image installs them there).
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Needed to build, never to run: not staged, nor what only they depend on. */
export const BUILD_ONLY = new Set(['cmake-js', 'node-addon-api']);

/**
 * Packages staged in part: a filter on paths inside the package. onnxruntime-node's JavaScript never
 * loads (the addon dlopens its libonnxruntime), so only its package.json (for require.resolve) and
 * this platform's libraries stay, CUDA providers included when the CUDA build installed them.
 * uWebSockets.js ships a binary per platform and Node ABI: only this one stays.
 */
export function pruneRules(platform = process.platform, arch = process.arch, abi = process.versions.modules) {
  return {
    '@trufflesuite/uws-js-unofficial': {
      keepDependencies: true,
      keep: (rel) => !/uws_.*\.node$/.test(rel) || rel.endsWith(`uws_${platform}_${arch}_${abi}.node`),
    },
  };
}

/** The parent package path in package-lock's `packages` ("node_modules/a/node_modules/b" -> "node_modules/a"). */
function parentOf(path) {
  const i = path.lastIndexOf('/node_modules/');
  return i < 0 ? '' : path.slice(0, i);
}

/** Node's resolution within the lock file: the nearest node_modules/<name> from `from` upwards. */
function resolveIn(packages, from, name) {
  for (let base = from; ; base = parentOf(base)) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!base) return undefined;
  }
}

/** Lock-file paths of every package the runtime reaches from the root's dependencies (and optional ones present). */
export function runtimePackages(root = ROOT, rules = pruneRules()) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const packages = lock.packages;
  const rootPkg = packages[''];
  const seen = new Set();
  const visit = (from, name, optional) => {
    if (BUILD_ONLY.has(name)) return;
    const path = resolveIn(packages, from, name);
    if (!path) {
      if (optional) return;
      throw new Error(`package-lock.json: ${name} (needed by ${from || 'the root'}) is not locked`);
    }
    if (seen.has(path)) return;
    // An optional package for another platform is locked but not installed: skip it.
    if (!existsSync(join(root, path))) {
      if (optional || packages[path].optional) return;
      throw new Error(`${path} is locked but not installed; run npm ci first`);
    }
    seen.add(path);
    if (rules[name] && !rules[name].keepDependencies) return;
    const pkg = packages[path];
    for (const dep of Object.keys(pkg.dependencies ?? {})) visit(path, dep, false);
    for (const dep of Object.keys(pkg.optionalDependencies ?? {})) visit(path, dep, true);
  };
  for (const dep of Object.keys(rootPkg.dependencies ?? {})) visit('', dep, false);
  for (const dep of Object.keys(rootPkg.optionalDependencies ?? {})) visit('', dep, true);
  return [...seen].sort();
}

function place(from, to, link) {
  mkdirSync(dirname(to), { recursive: true });
  if (link) {
    try {
      linkSync(from, to);
      return;
    } catch {
      // another filesystem: copy
    }
  }
  copyFileSync(from, to);
}

function copyTree(from, to, link, keep = () => true, base = from) {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const rel = relative(base, src).split('\\').join('/');
    if (entry.isDirectory()) {
      // Nested node_modules are staged as packages of their own (only those the runtime reaches).
      if (entry.name === 'node_modules') continue;
      copyTree(src, join(to, entry.name), link, keep, base);
    } else if ((entry.isFile() || entry.isSymbolicLink()) && keep(rel) && statSync(src).isFile()) {
      place(src, join(to, entry.name), link);
    }
  }
}

/**
 * ONNX Runtime's library (and, with `providers`, the GPU provider libraries beside it) as the platform
 * package @tensorgate/<platform>: its package.json from packages/<platform>/, the files from the
 * checkout's onnxruntime-node. The server finds it as it finds a user's install.
 */
function stageOrt(root, out, link, providers) {
  const tag = `${process.platform}-${process.arch}`;
  const manifest = JSON.parse(readFileSync(join(root, 'packages', tag, 'package.json'), 'utf8'));
  const from = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
  const to = join(out, 'node_modules', manifest.name);
  place(join(root, 'packages', tag, 'package.json'), join(to, 'package.json'), link);
  if (existsSync(join(root, 'packages', tag, 'LICENSE'))) place(join(root, 'packages', tag, 'LICENSE'), join(to, 'LICENSE'), link);
  const library = join(to, manifest.tensorgate.ortLibrary);
  const wanted = (f) => f === 'libonnxruntime.so.1' || (providers && /^libonnxruntime_providers_[^/]*\.so$/.test(f));
  for (const f of readdirSync(from).filter(wanted)) place(join(from, f), join(dirname(library), f), link);
  if (!existsSync(library)) throw new Error(`${from} has no libonnxruntime.so.1: run npm ci first`);
}

/** Stages the runtime into `out` (emptied first); returns the staged package paths. */
export function stage(out, { root = ROOT, link = false, providers = false } = {}) {
  const addon = join(root, 'build', 'Release', 'tensorgate.node');
  for (const needed of ['dist/cli/main.js', 'build/Release/tensorgate.node', 'proto']) {
    if (!existsSync(join(root, needed))) throw new Error(`${needed} is missing: build first (npm ci, or npm run build:ts)`);
  }
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  place(join(root, 'package.json'), join(out, 'package.json'), link);
  copyTree(join(root, 'dist'), join(out, 'dist'), link, (rel) => !rel.endsWith('.map') && !rel.endsWith('.d.ts'));
  copyTree(join(root, 'proto'), join(out, 'proto'), link);
  place(addon, join(out, 'build', 'Release', 'tensorgate.node'), link);
  const rules = pruneRules();
  const packages = runtimePackages(root, rules);
  for (const path of packages) {
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    copyTree(join(root, path), join(out, path), link, rules[name]?.keep);
  }
  stageOrt(root, out, link, providers);
  return packages;
}

const entry = process.argv[1];
if (entry && import.meta.url === pathToFileURL(resolve(entry)).href) {
  const [out, ...flags] = process.argv.slice(2);
  if (!out || flags.some((f) => f !== '--link' && f !== '--providers')) {
    process.stderr.write('usage: stage.mjs OUT [--link] [--providers]\n');
    process.exit(2);
  }
  const packages = stage(resolve(out), { link: flags.includes('--link'), providers: flags.includes('--providers') });
  process.stdout.write(`${out}: package.json, dist/, proto/, the addon and ${packages.length} packages\n`);
}
