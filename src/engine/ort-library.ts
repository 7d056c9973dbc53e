// Where libonnxruntime comes from: an explicit option, TENSORGATE_ORT_LIBRARY, or the library that
// ships inside the onnxruntime-node package. Only the package's files are used: its JavaScript must
// never load in our process (its OrtEnv would clash with our global thread pools).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { TensorgateError } from './errors.js';

const require = createRequire(import.meta.url);

const LIBRARY_NAME: Partial<Record<NodeJS.Platform, string>> = {
  linux: 'libonnxruntime.so.1',
  darwin: 'libonnxruntime.1.dylib',
  win32: 'onnxruntime.dll',
};

export function bundledOrtLibrary(): string {
  const name = LIBRARY_NAME[process.platform];
  if (!name) throw new TensorgateError('INTERNAL', `no bundled ONNX Runtime for platform ${process.platform}`);
  let pkg: string;
  try {
    pkg = dirname(require.resolve('onnxruntime-node/package.json'));
  } catch {
    throw new TensorgateError(
      'INTERNAL',
      'the onnxruntime-node package is not installed; install it or point TENSORGATE_ORT_LIBRARY at libonnxruntime',
    );
  }
  const platform = process.platform === 'win32' ? 'win32' : process.platform;
  return join(pkg, 'bin', 'napi-v6', platform, process.arch, name);
}

/** The ONNX Runtime shared library to load, checked to exist. */
export function resolveOrtLibrary(explicit?: string): string {
  const fromEnv = process.env.TENSORGATE_ORT_LIBRARY;
  const path = resolve(explicit ?? (fromEnv ? fromEnv : bundledOrtLibrary()));
  if (!existsSync(path)) {
    const source = explicit ? 'the ortLibrary option' : fromEnv ? 'TENSORGATE_ORT_LIBRARY' : 'onnxruntime-node';
    throw new TensorgateError('INVALID_ARGUMENT', `ONNX Runtime library not found at ${path} (from ${source})`);
  }
  return path;
}
