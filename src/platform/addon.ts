// Finds the native addon binaries on disk and loads the one chooseAddon() picks. The choice is
// made once per process: the main thread records it in TENSORGATE_ADDON_CHOICE so worker_threads
// created afterwards load the same file without testing the CUDA flavour again.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { cudaSelfTest } from './cuda-self-test.js';
import { AddonNotFound, chooseAddon, flavourRequest, type AddonChoice } from './flavour.js';
import { detectNvidiaGpus } from './gpu.js';
import { detectLibc, findPackage, packageFile, PACKAGES, platformTag } from './target.js';

const ADDON = 'tensorgate';

/** prebuildify's file name: prebuilds/<platform>-<arch>/tensorgate[.glibc|.musl].node */
export function prebuildPath(packageRoot: string): string | undefined {
  const libc = detectLibc();
  const dir = join(packageRoot, 'prebuilds', platformTag());
  const names = libc ? [`${ADDON}.${libc}.node`, `${ADDON}.node`] : [`${ADDON}.node`];
  return names.map((n) => join(dir, n)).find((f) => existsSync(f));
}

export function cudaPackageBinary(): { file: string; package: string } | undefined {
  const pkg = findPackage(PACKAGES.cuda());
  const file = pkg && packageFile(pkg, pkg.manifest.addon);
  return pkg && file && existsSync(file) ? { file, package: `${pkg.name}@${pkg.version}` } : undefined;
}

/** Decides which binary to load (without loading it). */
export function decideAddon(packageRoot: string, env: NodeJS.ProcessEnv = process.env): AddonChoice {
  const request = flavourRequest(env);
  const cached = env.TENSORGATE_ADDON_CHOICE;
  if (cached) {
    const c = JSON.parse(cached) as AddonChoice & { request: string; root: string };
    if (c.request === request && c.root === packageRoot && existsSync(c.file)) return c;
  }
  const source = join(packageRoot, 'build', 'Release', `${ADDON}.node`);
  const cuda = cudaPackageBinary();
  return chooseAddon({
    request,
    // Relative to the working directory, as a path given on the command line is (not a module name).
    ...(env.TENSORGATE_ADDON ? { explicit: resolve(env.TENSORGATE_ADDON) } : {}),
    ...(existsSync(source) ? { sourceBuild: source } : {}),
    ...(prebuildPath(packageRoot) ? { prebuild: prebuildPath(packageRoot)! } : {}),
    ...(cuda ? { cuda } : {}),
    cudaPackageName: PACKAGES.cuda(),
    gpus: () => detectNvidiaGpus(),
    selfTest: (file) => cudaSelfTest(file),
  });
}

export interface LoadedAddon<T> {
  binding: T;
  choice: AddonChoice;
}

/** Loads the chosen binary; a source or explicit build reports its flavour from its CUDA status. */
export function loadAddon<T extends { cudaStatus?: () => { compiled: boolean } }>(packageRoot: string): LoadedAddon<T> {
  const choice = decideAddon(packageRoot);
  const require = createRequire(import.meta.url);
  let binding: T;
  try {
    binding = require(choice.file) as T;
  } catch (err) {
    throw new AddonNotFound(`cannot load the tensorgate native addon ${choice.file} (${choice.reason}): ${(err as Error).message}`);
  }
  if ((choice.origin === 'source' || choice.origin === 'explicit') && binding.cudaStatus?.().compiled) choice.flavour = 'cuda';
  process.env.TENSORGATE_ADDON_CHOICE = JSON.stringify({ ...choice, request: flavourRequest(), root: packageRoot });
  return { binding, choice };
}
