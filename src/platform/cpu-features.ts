// The x86 instruction-set extensions that decide ONNX Runtime's int8/bf16 kernels (MLAS picks AVX2,
// AVX-512, VNNI or AMX paths at run time), read from /proc/cpuinfo.
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** flag in /proc/cpuinfo -> what to call it. Order: the order doctor prints them. */
export const CPU_FEATURES: ReadonlyArray<readonly [flag: string, label: string]> = [
  ['avx2', 'AVX2'],
  ['fma', 'FMA'],
  ['f16c', 'F16C'],
  ['avx512f', 'AVX-512F'],
  ['avx512bw', 'AVX-512BW'],
  ['avx512_vnni', 'AVX-512 VNNI'],
  ['avx512_bf16', 'AVX-512 BF16'],
  ['avx512_fp16', 'AVX-512 FP16'],
  ['avx_vnni', 'AVX-VNNI'],
  ['amx_tile', 'AMX'],
  ['amx_int8', 'AMX-INT8'],
  ['amx_bf16', 'AMX-BF16'],
  ['asimd', 'NEON'],
  ['asimddp', 'NEON dot product'],
  ['sve', 'SVE'],
];

export interface CpuReport {
  model: string;
  logicalCpus: number;
  /** Labels of the features present, in CPU_FEATURES order. */
  features: string[];
  /** Labels of the features absent (x86 or Arm list, matching this CPU). */
  missing: string[];
}

export function parseCpuinfo(text: string, logicalCpus: number): CpuReport {
  const line = (key: string) => new RegExp(`^${key}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const flags = new Set((line('flags') ?? line('Features') ?? '').split(/\s+/).filter(Boolean));
  const arm = flags.has('asimd');
  const relevant = CPU_FEATURES.filter(([flag]) => (arm ? flag.startsWith('asimd') || flag === 'sve' : !flag.startsWith('asimd') && flag !== 'sve'));
  return {
    model: line('model name') ?? line('CPU part') ?? 'unknown CPU',
    logicalCpus,
    features: relevant.filter(([flag]) => flags.has(flag)).map(([, label]) => label),
    missing: relevant.filter(([flag]) => !flags.has(flag)).map(([, label]) => label),
  };
}

export function detectCpu(file = '/proc/cpuinfo'): CpuReport {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const report = parseCpuinfo(text, cpus().length);
  if (report.model === 'unknown CPU') report.model = cpus()[0]?.model ?? report.model;
  return report;
}
