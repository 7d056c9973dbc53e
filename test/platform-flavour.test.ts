// Which addon binary loads: the decision table (pure, no GPU needed), and the CUDA flavour's
// self-test run for real in a child process against binaries that cannot pass it here.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cudaSelfTest } from '../src/platform/cuda-self-test.js';
import { AddonNotFound, chooseAddon, describeChoice, flavourRequest, type FlavourInputs } from '../src/platform/flavour.js';
import type { GpuReport } from '../src/platform/gpu.js';
import { ROOT } from './helpers/engine.js';

const ONE_GPU: GpuReport = { gpus: [{ bus: '0000:3b:00.0', model: 'NVIDIA H200' }], driver: 'NVRM version: 580.65' };
const NO_GPU: GpuReport = { gpus: [], reason: 'no NVIDIA GPU: no driver in /proc/driver/nvidia and no /dev/nvidiactl' };

function inputs(over: Partial<FlavourInputs> = {}): FlavourInputs & { selfTests: string[] } {
  const selfTests: string[] = [];
  return {
    request: 'auto',
    prebuild: '/pkg/prebuilds/linux-x64/tensorgate.glibc.node',
    cuda: { file: '/nm/@tensorgate/linux-x64-cuda/tensorgate.node', package: '@tensorgate/linux-x64-cuda@0.1.0' },
    cudaPackageName: '@tensorgate/linux-x64-cuda',
    gpus: () => ONE_GPU,
    selfTest: (file) => {
      selfTests.push(file);
      return { ok: true, detail: '1 device(s), CUDA runtime 12.8' };
    },
    selfTests,
    ...over,
  };
}

describe('chooseAddon', () => {
  it('a GPU, the CUDA package and a passing self-test: the CUDA flavour, saying why', () => {
    const i = inputs();
    const c = chooseAddon(i);
    expect(c).toMatchObject({ origin: 'cuda-package', flavour: 'cuda', file: i.cuda!.file });
    expect(c.reason).toContain('NVIDIA H200');
    expect(c.reason).toContain('passed its self-test');
    expect(i.selfTests).toEqual([i.cuda!.file]);
    expect(describeChoice(c)).toBe('CUDA flavour (the CUDA package)');
  });

  it('no GPU: the CPU prebuild, the GPU reason recorded for a warning, and no self-test run', () => {
    const i = inputs({ gpus: () => NO_GPU });
    const c = chooseAddon(i);
    expect(c).toMatchObject({ origin: 'prebuild', flavour: 'cpu', file: i.prebuild });
    expect(c.cudaFallback).toBe(NO_GPU.reason);
    expect(i.selfTests).toEqual([]);
  });

  it('a GPU but a failing self-test: the CPU prebuild, with the stage and error of the failure', () => {
    const i = inputs({ selfTest: () => ({ ok: false, stage: 'provider', error: 'libcudnn.so.9: cannot open shared object file' }) });
    const c = chooseAddon(i);
    expect(c.flavour).toBe('cpu');
    expect(c.cudaFallback).toBe('failed its self-test in a child process at provider: libcudnn.so.9: cannot open shared object file');
    expect(c.reason).toContain('libcudnn.so.9');
  });

  it('the CUDA package not installed: the CPU prebuild, no warning (the normal CPU install)', () => {
    const c = chooseAddon(inputs({ cuda: undefined }));
    expect(c).toMatchObject({ origin: 'prebuild', flavour: 'cpu' });
    expect(c.cudaFallback).toBeUndefined();
    expect(c.passedOver).toEqual([{ what: 'CUDA flavour', reason: '@tensorgate/linux-x64-cuda is not installed' }]);
  });

  it('TENSORGATE_FLAVOUR=cpu never looks at GPUs or runs the self-test', () => {
    const i = inputs({ request: 'cpu', gpus: () => { throw new Error('must not probe'); } });
    expect(chooseAddon(i)).toMatchObject({ flavour: 'cpu', origin: 'prebuild' });
    expect(i.selfTests).toEqual([]);
  });

  it('TENSORGATE_FLAVOUR=cuda refuses to start on the CPU flavour, with every reason', () => {
    expect(() => chooseAddon(inputs({ request: 'cuda', gpus: () => NO_GPU }))).toThrow(AddonNotFound);
    expect(() => chooseAddon(inputs({ request: 'cuda', cuda: undefined }))).toThrow(/TENSORGATE_FLAVOUR=cuda, but CUDA flavour: @tensorgate\/linux-x64-cuda is not installed/);
  });

  it('an explicit binary, then a source build, come before packaged binaries', () => {
    expect(chooseAddon(inputs({ explicit: '/x/asan.node', sourceBuild: '/pkg/build/Release/tensorgate.node' }))).toMatchObject({ origin: 'explicit', file: '/x/asan.node' });
    const i = inputs({ sourceBuild: '/pkg/build/Release/tensorgate.node' });
    expect(chooseAddon(i)).toMatchObject({ origin: 'source', file: '/pkg/build/Release/tensorgate.node' });
    expect(i.selfTests).toEqual([]);
  });

  it('nothing for this platform: one error naming what was tried and how to build', () => {
    expect(() => chooseAddon(inputs({ prebuild: undefined, cuda: undefined }))).toThrow(/no tensorgate native addon for .*no prebuild.*npm ci/);
  });

  it('TENSORGATE_FLAVOUR takes auto, cpu or cuda (any case) and nothing else', () => {
    expect(flavourRequest({})).toBe('auto');
    expect(flavourRequest({ TENSORGATE_FLAVOUR: 'CUDA' })).toBe('cuda');
    expect(() => flavourRequest({ TENSORGATE_FLAVOUR: 'rocm' })).toThrow(/expected one of auto, cpu, cuda/);
  });
});

describe('the CUDA self-test in a child process', () => {
  const cudaBuild = join(ROOT, 'packages', 'linux-x64-cuda', 'tensorgate.node');

  it('a file that is not a loadable binary fails at load, and this process carries on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-bad-addon-'));
    const bad = join(dir, 'tensorgate.node');
    writeFileSync(bad, 'not an ELF file');
    const r = cudaSelfTest(bad);
    expect(r).toMatchObject({ ok: false, stage: 'load' });
    expect(r.error).toMatch(/invalid ELF header|file too short/);
  });

  const cpuBuild = join(ROOT, 'prebuilds', 'linux-x64', 'tensorgate.glibc.node');
  it.skipIf(!existsSync(cpuBuild))('the CPU prebuild fails at the CUDA stage: it has no CUDA support', () => {
    const r = cudaSelfTest(cpuBuild);
    expect(r).toMatchObject({ ok: false, stage: 'cuda' });
    expect(r.error).toContain('CPU flavour');
  });

  it.skipIf(!existsSync(cudaBuild))('the real CUDA flavour on a machine without a GPU fails at the CUDA stage with the runtime\'s reason', () => {
    const r = cudaSelfTest(cudaBuild);
    if (!existsSync('/dev/nvidiactl')) expect(r.ok).toBe(false); // no driver: it cannot pass; a GPU machine may
    if (!r.ok) {
      expect(r.stage).toMatch(/^(cuda|provider|session)$/);
      expect(r.error).toBeTruthy();
    }
  });
});
