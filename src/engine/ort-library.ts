// Where libonnxruntime comes from, in order: the ortLibrary option, TENSORGATE_ORT_LIBRARY, the
// @tensorgate/<platform> package (ONNX Runtime's MIT-licensed library, the default for installs),
// then onnxruntime-node's bundled copy (present in a development checkout, or when the user installs
// it for its CUDA providers). Only files are used: onnxruntime-node's JavaScript must never load in
// our process (its OrtEnv would clash with our global thread pools).
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { findPackage, packageFile, PACKAGES } from '../platform/target.js';
import { TensorgateError } from './errors.js';

const require = createRequire(import.meta.url);

const LIBRARY_NAME: Partial<Record<NodeJS.Platform, string>> = {
  linux: 'libonnxruntime.so.1',
  darwin: 'libonnxruntime.1.dylib',
  win32: 'onnxruntime.dll',
};

/** Execution provider libraries ORT looks for next to itself. */
const PROVIDER_LIBRARIES: Record<string, string> = { cuda: 'providers_cuda', tensorrt: 'providers_tensorrt' };

export interface OrtCandidate {
  /** Where this candidate comes from, as a person would say it. */
  source: string;
  path: string;
  exists: boolean;
  /** GPU providers whose libraries sit next to the library (cuda, tensorrt). */
  providers: string[];
}

function providersNextTo(path: string): string[] {
  const dir = dirname(path);
  if (!existsSync(dir)) return [];
  const files = readdirSync(dir);
  return Object.entries(PROVIDER_LIBRARIES)
    .filter(([, stem]) => files.some((f) => f.includes(`onnxruntime_${stem}.`)))
    .map(([name]) => name);
}

function candidate(source: string, path: string): OrtCandidate {
  const exists = existsSync(path);
  return { source, path, exists, providers: exists ? providersNextTo(path) : [] };
}

/** onnxruntime-node's bundled library, as tensorgate sees it or as the CUDA flavour (its dependent) does. */
function onnxruntimeNodeLibraries(): Array<{ source: string; path: string }> {
  const name = LIBRARY_NAME[process.platform];
  if (!name) return [];
  const from: Array<{ source: string; resolve: (id: string) => string }> = [{ source: 'onnxruntime-node', resolve: require.resolve }];
  const cuda = findPackage(PACKAGES.cuda());
  if (cuda) from.push({ source: `onnxruntime-node (a dependency of ${cuda.name})`, resolve: createRequire(join(cuda.dir, 'package.json')).resolve });
  const seen = new Set<string>();
  const found: Array<{ source: string; path: string }> = [];
  for (const f of from) {
    try {
      const path = join(dirname(f.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch, name);
      if (!seen.has(path)) found.push({ source: f.source, path });
      seen.add(path);
    } catch {
      // not installed where this resolver looks
    }
  }
  return found;
}

/** Every place libonnxruntime may come from, in the order they are tried. */
export function ortLibraryCandidates(explicit?: string): OrtCandidate[] {
  const list: OrtCandidate[] = [];
  if (explicit) list.push(candidate('the ortLibrary option', resolve(explicit)));
  const fromEnv = process.env.TENSORGATE_ORT_LIBRARY;
  if (fromEnv) list.push(candidate('TENSORGATE_ORT_LIBRARY', resolve(fromEnv)));
  const pkg = findPackage(PACKAGES.ort());
  const pkgLib = pkg && packageFile(pkg, pkg.manifest.ortLibrary);
  if (pkgLib) list.push(candidate(`${pkg.name}@${pkg.version}`, pkgLib));
  for (const o of onnxruntimeNodeLibraries()) list.push(candidate(o.source, o.path));
  return list;
}

/**
 * The ONNX Runtime shared library to load, checked to exist. An explicit option or environment
 * variable wins outright; otherwise `prefer: 'cuda'` (the CUDA flavour) picks the first candidate
 * with CUDA provider libraries beside it, falling back to the first that exists.
 */
export function resolveOrtLibrary(explicit?: string, prefer?: 'cuda'): string {
  const list = ortLibraryCandidates(explicit);
  const pinned = explicit !== undefined || process.env.TENSORGATE_ORT_LIBRARY ? list[0] : undefined;
  if (pinned) {
    if (!pinned.exists) throw new TensorgateError('INVALID_ARGUMENT', `ONNX Runtime library not found at ${pinned.path} (from ${pinned.source})`);
    return pinned.path;
  }
  const found = (prefer && list.find((c) => c.exists && c.providers.includes(prefer))) ?? list.find((c) => c.exists);
  if (found) return found.path;
  const tried = list.map((c) => `${c.path} (${c.source})`).join(', ');
  throw new TensorgateError(
    'INTERNAL',
    `no ONNX Runtime library found${tried ? `; tried ${tried}` : ''}. Install ${PACKAGES.ort()} (an optional dependency of ` +
      'tensorgate; reinstall without --omit=optional) or point TENSORGATE_ORT_LIBRARY at libonnxruntime (ONNX Runtime >= 1.21).',
  );
}
