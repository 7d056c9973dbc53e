// Choosing the int8 weight range from the CPU flags (src/optimize/cpu-features.ts): 7-bit unless the
// CPU has VNNI/AMX, with the reason said; forcing 8-bit where it saturates comes with a warning.
import { describe, expect, it } from 'vitest';
import { chooseWeightBits, detectCpuFeatures, INT8_DOT_FLAGS, parseCpuFlags, type CpuFeatures } from '../src/optimize/cpu-features.js';

const AVX2_EPYC = `processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B12
flags\t\t: fpu vme de pse tsc msr sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 bmi2
processor\t: 1
flags\t\t: fpu avx2 avx512_vnni
`;
const ARM = `processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimddp
`;

const cpu = (arch: string, flags: string[]): CpuFeatures => ({ arch, flags: new Set(flags), source: 'test' });

describe('CPU flags', () => {
  it("reads the first processor's x86 flags and ARM features", () => {
    expect(parseCpuFlags(AVX2_EPYC).has('avx2')).toBe(true);
    expect(parseCpuFlags(AVX2_EPYC).has('avx512_vnni')).toBe(false);
    expect(parseCpuFlags(ARM).has('asimddp')).toBe(true);
    expect(parseCpuFlags('nothing useful').size).toBe(0);
  });

  it('reports an unreadable cpuinfo as such instead of failing', () => {
    const c = detectCpuFeatures('/nonexistent/cpuinfo', 'x64');
    expect(c.flags.size).toBe(0);
    expect(chooseWeightBits(c)).toMatchObject({ bits: 7, reason: expect.stringMatching(/unknown.*unreadable/) });
  });
});

describe('weight range', () => {
  it('picks 7-bit on x86 without VNNI/AMX and says why', () => {
    const choice = chooseWeightBits(cpu('x64', [...parseCpuFlags(AVX2_EPYC)]));
    expect(choice.bits).toBe(7);
    expect(choice.reason).toMatch(/no avx512_vnni\/avx_vnni\/amx_int8 among the CPU flags.*saturate/);
  });

  it.each(INT8_DOT_FLAGS)('picks 8-bit on x86 with %s', (flag) => {
    const choice = chooseWeightBits(cpu('x64', ['avx2', flag]));
    expect(choice).toMatchObject({ bits: 8, reason: expect.stringContaining(flag) });
  });

  it('picks 8-bit on arm64', () => {
    expect(chooseWeightBits(cpu('arm64', [...parseCpuFlags(ARM)])).bits).toBe(8);
  });

  it('honours --weight-bits, warning when 8-bit can saturate on this CPU', () => {
    expect(chooseWeightBits(cpu('x64', ['avx2']), 8)).toMatchObject({ bits: 8, warning: expect.stringMatching(/can saturate/) });
    expect(chooseWeightBits(cpu('x64', ['avx512_vnni']), 8).warning).toBeUndefined();
    expect(chooseWeightBits(cpu('x64', ['avx512_vnni']), 7)).toMatchObject({ bits: 7, reason: expect.stringMatching(/8-bit would be safe/) });
  });

  it('on this machine: 8-bit exactly when /proc/cpuinfo lists an int8 dot-product flag', () => {
    const here = detectCpuFeatures();
    const hasDot = INT8_DOT_FLAGS.some((f) => here.flags.has(f));
    const expected = process.arch === 'arm64' || (hasDot && process.arch === 'x64') ? 8 : 7;
    expect(chooseWeightBits(here).bits).toBe(expected);
  });
});
