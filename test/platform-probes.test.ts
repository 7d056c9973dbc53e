// What the machine probes read: NVIDIA GPUs from /proc and /dev (fake trees), CPU features from
// /proc/cpuinfo text, the Debian mirror from apt sources, and where libonnxruntime is looked for.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ortLibraryCandidates, resolveOrtLibrary } from '../src/engine/ort-library.js';
import { parseCpuinfo } from '../src/platform/cpu-features.js';
import { detectNvidiaGpus } from '../src/platform/gpu.js';
import { probeModel } from '../src/platform/probe-model.js';
import { ElemType, GraphBuilder } from '../src/onnx/builder.js';
// @ts-expect-error -- a plain .mjs build script without type declarations
import { debianMirror, parseDeb822, parseSourcesList } from '../scripts/fetch-ort-headers.mjs';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'tg-probe-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('detectNvidiaGpus', () => {
  it('lists the GPUs the driver reports, with their model names', () => {
    const root = tree({
      'proc/driver/nvidia/version': 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06\nGCC version: gcc 12\n',
      'proc/driver/nvidia/gpus/0000:3b:00.0/information': 'Model: \t\t NVIDIA H200\nIRQ: 1\n',
      'proc/driver/nvidia/gpus/0000:5e:00.0/information': 'Model: \t\t NVIDIA H200\n',
    });
    const r = detectNvidiaGpus(root);
    expect(r.gpus).toEqual([
      { bus: '0000:3b:00.0', model: 'NVIDIA H200' },
      { bus: '0000:5e:00.0', model: 'NVIDIA H200' },
    ]);
    expect(r.driver).toContain('580.65.06');
    expect(r.reason).toBeUndefined();
  });

  it('counts /dev/nvidiaN in a container that has device nodes but no /proc/driver/nvidia', () => {
    const root = tree({ 'dev/nvidiactl': '', 'dev/nvidia0': '', 'dev/nvidia1': '', 'dev/nvidia-uvm': '' });
    expect(detectNvidiaGpus(root).gpus.map((g) => g.bus)).toEqual(['/dev/nvidia0', '/dev/nvidia1']);
  });

  it('says why there is none', () => {
    expect(detectNvidiaGpus(tree({})).reason).toMatch(/no NVIDIA GPU/);
    expect(detectNvidiaGpus(tree({ 'proc/driver/nvidia/version': 'NVRM version: 1\n' })).reason).toBe('the NVIDIA driver is loaded but lists no GPU');
  });
});

describe('parseCpuinfo', () => {
  it('names the x86 extensions that decide int8/bf16 kernels, present and missing', () => {
    const r = parseCpuinfo('model name\t: Intel(R) Xeon(R) Platinum 8480+\nflags\t\t: fpu sse avx2 fma f16c avx512f avx512bw avx512_vnni amx_tile amx_int8 amx_bf16\n', 8);
    expect(r.model).toBe('Intel(R) Xeon(R) Platinum 8480+');
    expect(r.features).toEqual(['AVX2', 'FMA', 'F16C', 'AVX-512F', 'AVX-512BW', 'AVX-512 VNNI', 'AMX', 'AMX-INT8', 'AMX-BF16']);
    expect(r.missing).toEqual(['AVX-512 BF16', 'AVX-512 FP16', 'AVX-VNNI']);
  });

  it('reads an Arm cpuinfo (Features) with the Arm list', () => {
    const r = parseCpuinfo('processor\t: 0\nFeatures\t: fp asimd asimddp sve\nCPU part\t: 0xd40\n', 4);
    expect(r.features).toEqual(['NEON', 'NEON dot product', 'SVE']);
    expect(r.missing).toEqual([]);
  });
});

describe('the Debian mirror for ORT headers comes from the machine\'s apt sources', () => {
  it('deb822: the first release suite with main, not -security, with its keyring', () => {
    const entries = parseDeb822(
      'Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /k.gpg\n\n' +
        'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
    );
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({ uris: ['http://mirror.example/debian'], suites: ['bookworm', 'bookworm-updates'], signedBy: '/k.gpg' });
  });

  it('one-line sources.list with options', () => {
    expect(parseSourcesList('# x\ndeb [arch=amd64 signed-by=/s.gpg] http://m.example/debian trixie main contrib\ndeb-src http://m.example/debian trixie main\n')).toEqual([
      { types: ['deb'], uris: ['http://m.example/debian'], suites: ['trixie'], components: ['main', 'contrib'], signedBy: '/s.gpg', enabled: true },
      { types: ['deb-src'], uris: ['http://m.example/debian'], suites: ['trixie'], components: ['main'], signedBy: undefined, enabled: true },
    ]);
  });

  it('picks the archive from /etc/apt-like trees and skips disabled files and security suites', () => {
    const etc = tree({
      'sources.list.d/a-security.sources': 'Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\nComponents: main\n',
      'sources.list.d/debian.sources': 'Types: deb\nURIs: http://local.example/debian\nSuites: bookworm\nComponents: main\n',
      'sources.list.d/old.list.disabled': 'deb http://old.example/debian bookworm main\n',
    });
    expect(debianMirror(etc)).toEqual({ uri: 'http://local.example/debian', keyring: '/usr/share/keyrings/debian-archive-keyring.gpg' });
    expect(debianMirror(tree({ 'sources.list': '' }))).toBeUndefined();
  });
});

describe('where libonnxruntime comes from', () => {
  it('TENSORGATE_ORT_LIBRARY wins, and a missing file is an error naming it', () => {
    const saved = process.env.TENSORGATE_ORT_LIBRARY;
    try {
      process.env.TENSORGATE_ORT_LIBRARY = '/nowhere/libonnxruntime.so.1';
      expect(ortLibraryCandidates()[0]).toMatchObject({ source: 'TENSORGATE_ORT_LIBRARY', exists: false });
      expect(() => resolveOrtLibrary()).toThrow('ONNX Runtime library not found at /nowhere/libonnxruntime.so.1 (from TENSORGATE_ORT_LIBRARY)');
    } finally {
      if (saved === undefined) delete process.env.TENSORGATE_ORT_LIBRARY;
      else process.env.TENSORGATE_ORT_LIBRARY = saved;
    }
  });

  it('prefers a library with CUDA providers beside it for the CUDA flavour, else the first that exists', () => {
    const withCuda = tree({ 'ort/libonnxruntime.so.1': '', 'ort/libonnxruntime_providers_cuda.so': '', 'ort/libonnxruntime_providers_shared.so': '' });
    const saved = process.env.TENSORGATE_ORT_LIBRARY;
    delete process.env.TENSORGATE_ORT_LIBRARY;
    try {
      const found = ortLibraryCandidates(join(withCuda, 'ort', 'libonnxruntime.so.1'));
      expect(found[0]).toMatchObject({ source: 'the ortLibrary option', exists: true, providers: ['cuda'] });
      // Without an explicit choice, the development checkout resolves onnxruntime-node's bundled copy.
      expect(resolveOrtLibrary(undefined, 'cuda')).toMatch(/libonnxruntime\.so\.1$/);
    } finally {
      if (saved !== undefined) process.env.TENSORGATE_ORT_LIBRARY = saved;
    }
  });
});

describe('the embedded probe model', () => {
  it('is the builder\'s y = x + 1 on FP32 [batch, 4], byte for byte', () => {
    const g = new GraphBuilder();
    g.input('x', ElemType.FLOAT, ['batch', 4]);
    const one = g.initializer('one', ElemType.FLOAT, [4], new Float32Array(4).fill(1));
    g.node('Add', ['x', one], ['y']);
    g.output('y', ElemType.FLOAT, ['batch', 4]);
    expect(Buffer.from(probeModel()).equals(Buffer.from(g.build()))).toBe(true);
  });
});
