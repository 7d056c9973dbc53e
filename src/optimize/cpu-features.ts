// Which int8 weight range is safe on this CPU. ONNX Runtime's x86 int8 GEMM multiplies u8
// activations by s8 weights. Without VNNI/AMX (plain AVX2/AVX-512BW), it adds each pair of products
// in a saturating 16-bit lane (vpmaddubsw): 255·127·2 = 64770 overflows int16, so full-range (±127)
// weights silently give wrong sums. 7-bit weights (±63: 255·63·2 = 32130) never saturate; that is ONNX
// Runtime's own `reduce_range` advice for x86 without VNNI. VNNI (vpdpbusd) and AMX accumulate in
// 32 bits, and ARM's kernels widen first, so 8-bit is safe there.
import { readFileSync } from 'node:fs';

export interface CpuFeatures {
  arch: string;
  /** Lower-case flags from /proc/cpuinfo ("flags" on x86, "Features" on ARM); empty when unreadable. */
  flags: Set<string>;
  /** Where the flags came from, for messages. */
  source: string;
}

/** Flags that mean int8 dot products accumulate in 32 bits on x86. */
export const INT8_DOT_FLAGS = ['avx512_vnni', 'avx_vnni', 'amx_int8'] as const;

/** Parses /proc/cpuinfo text: the first processor's flag line. */
export function parseCpuFlags(cpuinfo: string): Set<string> {
  const line = cpuinfo.split('\n').find((l) => /^(flags|features)\s*:/i.test(l));
  return new Set(line ? line.slice(line.indexOf(':') + 1).trim().toLowerCase().split(/\s+/).filter(Boolean) : []);
}

export function detectCpuFeatures(cpuinfoPath = '/proc/cpuinfo', arch: string = process.arch): CpuFeatures {
  try {
    return { arch, flags: parseCpuFlags(readFileSync(cpuinfoPath, 'utf8')), source: cpuinfoPath };
  } catch {
    return { arch, flags: new Set(), source: `${cpuinfoPath} (unreadable)` };
  }
}

export interface WeightBitsChoice {
  bits: 7 | 8;
  /** One sentence saying why, printed by the quantize command. */
  reason: string;
  /** Set when a forced choice is known to be unsafe on this CPU. */
  warning?: string;
}

/** The int8 weight range for this CPU, or the forced one with a warning when it is unsafe here. */
export function chooseWeightBits(cpu: CpuFeatures, forced?: 7 | 8): WeightBitsChoice {
  const dot = INT8_DOT_FLAGS.filter((f) => cpu.flags.has(f));
  const x86 = cpu.arch === 'x64' || cpu.arch === 'ia32';
  const safe8 = !x86 ? cpu.arch === 'arm64' : dot.length > 0;
  const auto: WeightBitsChoice = safe8
    ? {
        bits: 8,
        reason: x86
          ? `8-bit weights: the CPU has ${dot.join(', ')} (int8 products accumulate in 32 bits, no saturation)`
          : `8-bit weights: ${cpu.arch} int8 kernels widen before adding, no saturation`,
      }
    : {
        bits: 7,
        reason:
          x86 && cpu.flags.size > 0
            ? `7-bit weights: no ${INT8_DOT_FLAGS.join('/')} among the CPU flags (${cpu.source}), so ONNX Runtime's u8×s8 kernel adds product pairs in 16 bits and full-range int8 weights would saturate`
            : `7-bit weights: the CPU's int8 support is unknown (${cpu.source}, ${cpu.arch}); 7-bit cannot saturate anywhere`,
      };
  if (forced === undefined) return auto;
  if (forced === 7) return { bits: 7, reason: `7-bit weights, as --weight-bits 7 asks${auto.bits === 8 ? ' (8-bit would be safe on this CPU)' : ''}` };
  return {
    bits: 8,
    reason: '8-bit weights, as --weight-bits 8 asks',
    ...(auto.bits === 7 ? { warning: `8-bit weights can saturate on this CPU: ${auto.reason.replace(/^7-bit weights: /, '')}; check the accuracy report` } : {}),
  };
}
