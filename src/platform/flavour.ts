// Which build of the native addon this process loads, and why. The decision is a pure function of
// what is installed and what this machine has, so it is tested without a GPU; the one side effect,
// the CUDA flavour's self-test, is injected. Order (node-gyp-build's, then node-llama-cpp's):
//   1. TENSORGATE_ADDON (an explicit .node file, e.g. the sanitizer builds)
//   2. build/Release/tensorgate.node (a source build in a checkout)
//   3. the CUDA flavour package, when TENSORGATE_FLAVOUR allows it, an NVIDIA GPU is present and
//      the binary passes its self-test in a child process
//   4. the CPU prebuild shipped in tensorgate's prebuilds/
import type { GpuReport } from './gpu.js';

export type Flavour = 'cpu' | 'cuda';
export type FlavourRequest = 'auto' | Flavour;
export const FLAVOUR_REQUESTS: readonly FlavourRequest[] = ['auto', 'cpu', 'cuda'];

export interface CudaSelfTest {
  ok: boolean;
  /** What failed (load, cuda, ort, session, provider, crash, timeout), when not ok. */
  stage?: string;
  error?: string;
  /** e.g. "1 device, CUDA runtime 12.8, driver 13.0" */
  detail?: string;
}

export interface AddonChoice {
  file: string;
  origin: 'explicit' | 'source' | 'cuda-package' | 'prebuild';
  /** For explicit and source builds: 'cpu' until the loaded binary says it has CUDA support. */
  flavour: Flavour;
  /** One line: why this binary. */
  reason: string;
  /** Binaries considered and passed over, each with its reason (shown by doctor, logged on fallback). */
  passedOver: Array<{ what: string; reason: string }>;
  /** Set when the CUDA flavour is installed but the CPU flavour was loaded instead: the reason, for a warning. */
  cudaFallback?: string;
}

export interface FlavourInputs {
  request: FlavourRequest;
  explicit?: string;
  /** build/Release/tensorgate.node when it exists. */
  sourceBuild?: string;
  /** The CPU prebuild for this platform when it exists. */
  prebuild?: string;
  /** The CUDA flavour package's binary when the package is installed. */
  cuda?: { file: string; package: string };
  /** The name of the CUDA package for this platform (for the "install it" hint). */
  cudaPackageName: string;
  gpus: () => GpuReport;
  selfTest: (file: string) => CudaSelfTest;
}

export class AddonNotFound extends Error {}

export function chooseAddon(i: FlavourInputs): AddonChoice {
  if (i.explicit) return { file: i.explicit, origin: 'explicit', flavour: 'cpu', reason: 'TENSORGATE_ADDON names it', passedOver: [] };
  if (i.sourceBuild) {
    return { file: i.sourceBuild, origin: 'source', flavour: 'cpu', reason: 'a source build (build/Release) comes before packaged binaries', passedOver: [] };
  }
  const passedOver: AddonChoice['passedOver'] = [];
  let cudaFallback: string | undefined;
  if (i.request === 'cpu') {
    passedOver.push({ what: 'CUDA flavour', reason: 'TENSORGATE_FLAVOUR=cpu' });
  } else if (!i.cuda) {
    passedOver.push({ what: 'CUDA flavour', reason: `${i.cudaPackageName} is not installed` });
  } else {
    const gpus = i.gpus();
    if (gpus.gpus.length === 0) {
      cudaFallback = gpus.reason ?? 'no NVIDIA GPU';
      passedOver.push({ what: `CUDA flavour (${i.cuda.package})`, reason: cudaFallback });
    } else {
      const test = i.selfTest(i.cuda.file);
      if (test.ok) {
        const gpu = `${gpus.gpus.length} NVIDIA GPU${gpus.gpus.length > 1 ? 's' : ''} (${gpus.gpus[0]!.model})`;
        return {
          file: i.cuda.file,
          origin: 'cuda-package',
          flavour: 'cuda',
          reason: `${gpu}; the CUDA flavour passed its self-test${test.detail ? ` (${test.detail})` : ''}`,
          passedOver,
        };
      }
      cudaFallback = `failed its self-test in a child process at ${test.stage ?? 'an unknown stage'}: ${test.error ?? 'no reason given'}`;
      passedOver.push({ what: `CUDA flavour (${i.cuda.package})`, reason: cudaFallback });
    }
  }
  if (i.request === 'cuda') {
    throw new AddonNotFound(`TENSORGATE_FLAVOUR=cuda, but ${passedOver.map((p) => `${p.what}: ${p.reason}`).join('; ')}`);
  }
  if (i.prebuild) {
    return {
      file: i.prebuild,
      origin: 'prebuild',
      flavour: 'cpu',
      reason: `CPU flavour (${passedOver.map((p) => p.reason).join('; ')})`,
      passedOver,
      ...(cudaFallback ? { cudaFallback } : {}),
    };
  }
  throw new AddonNotFound(
    `no tensorgate native addon for ${process.platform}-${process.arch}: no prebuild in prebuilds/, no build/Release, ` +
      `${passedOver.map((p) => `${p.what}: ${p.reason}`).join('; ')}. Build it from a source checkout (\`npm ci\`, needs a C++20 compiler and cmake) ` +
      'or set TENSORGATE_ADDON to a tensorgate.node.',
  );
}

/** A short label for logs and the banner: which binary, which flavour. */
export function describeChoice(c: AddonChoice): string {
  const flavour = `${c.flavour.toUpperCase()} flavour`;
  switch (c.origin) {
    case 'prebuild':
      return `${flavour} (prebuilt)`;
    case 'cuda-package':
      return `${flavour} (the CUDA package)`;
    case 'source':
      return `source build (build/Release), ${c.flavour === 'cuda' ? 'CUDA helpers compiled in' : 'CPU only'}`;
    case 'explicit':
      return `TENSORGATE_ADDON (${c.flavour === 'cuda' ? 'CUDA helpers compiled in' : 'CPU only'})`;
  }
}

/** TENSORGATE_FLAVOUR, checked. */
export function flavourRequest(env: NodeJS.ProcessEnv = process.env): FlavourRequest {
  const v = env.TENSORGATE_FLAVOUR?.trim().toLowerCase() || 'auto';
  if (!(FLAVOUR_REQUESTS as readonly string[]).includes(v)) {
    throw new AddonNotFound(`TENSORGATE_FLAVOUR=${env.TENSORGATE_FLAVOUR}: expected one of ${FLAVOUR_REQUESTS.join(', ')}`);
  }
  return v as FlavourRequest;
}
