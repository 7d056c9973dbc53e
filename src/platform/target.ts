// This machine's binary target (platform, arch, C library) and the names of the packages that carry
// tensorgate's binaries for it. One table: the pack script, the loader and `tensorgate doctor` read it.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Libc = 'glibc' | 'musl';

/** glibc or musl on Linux (from Node's own report, as sharp and node-gyp-build do), else undefined. */
export function detectLibc(): Libc | undefined {
  if (process.platform !== 'linux') return undefined;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** e.g. linux-x64: the prebuilds/ folder and the platform package suffix. */
export function platformTag(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

/** The packages of the tensorgate release: ONNX Runtime for this platform, and the CUDA flavour. */
export const PACKAGES = {
  /** libonnxruntime (MIT, taken from onnxruntime-node) for this platform; an optional dependency. */
  ort: (tag = platformTag()) => `@tensorgate/${tag}`,
  /** The CUDA flavour of the addon; users install it themselves (it is never pulled in by default). */
  cuda: (tag = platformTag()) => `@tensorgate/${tag}-cuda`,
} as const;

/** What a tensorgate platform package says about its files (its package.json's "tensorgate" field). */
export interface PlatformManifest {
  /** Path of libonnxruntime inside the package. */
  ortLibrary?: string;
  ortVersion?: string;
  /** Path of the addon inside the package (the CUDA flavour). */
  addon?: string;
  flavour?: 'cpu' | 'cuda';
}

export interface InstalledPackage {
  name: string;
  dir: string;
  version: string;
  manifest: PlatformManifest;
}

const require = createRequire(import.meta.url);

/** The installed package `name` as seen from tensorgate's own files, or undefined. */
export function findPackage(name: string, resolve: (id: string) => string = require.resolve): InstalledPackage | undefined {
  let file: string;
  try {
    file = resolve(`${name}/package.json`);
  } catch {
    return undefined;
  }
  if (!existsSync(file)) return undefined;
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version?: string; tensorgate?: PlatformManifest };
  return { name, dir: dirname(file), version: pkg.version ?? '?', manifest: pkg.tensorgate ?? {} };
}

/** The absolute path of a file a platform package's manifest names. */
export function packageFile(pkg: InstalledPackage, relative: string | undefined): string | undefined {
  return relative ? join(pkg.dir, relative) : undefined;
}
