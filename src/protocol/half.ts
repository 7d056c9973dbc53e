// IEEE 754 binary16 (FP16) conversions for the JSON form of the protocol. FP16 tensors travel as raw
// half bits (Uint16Array); JSON only has numbers, so tensorgate converts at the edge. Triton refuses
// FP16 in JSON altogether; tensorgate accepts it as a convenience (binary stays the exact form).

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = LITTLE_ENDIAN ? 1 : 0;
const LO = LITTLE_ENDIAN ? 0 : 1;

/**
 * The half whose value is nearest to `value` (round to nearest, ties to even), as its 16 bits.
 * Rounds straight from the double (no float32 step, so no double rounding). Values beyond the half
 * range become ±Infinity, tiny ones ±0 or a subnormal; NaN stays NaN (quiet, 0x7e00).
 */
export function toHalfBits(value: number): number {
  f64[0] = value;
  const hi = u32[HI]!;
  const lo = u32[LO]!;
  const sign = (hi >>> 16) & 0x8000;
  const exp = (hi >>> 20) & 0x7ff;
  const mant = hi & 0xfffff; // top 20 of the 52 mantissa bits; `lo` holds the other 32
  if (exp === 0x7ff) return (mant | lo) !== 0 ? 0x7e00 : sign | 0x7c00;
  const e = exp - 1023 + 15; // the half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): the value is m * 2^(e-11) half units with the implicit one restored.
    if (e < -10) return sign; // below half the smallest subnormal (2^-25): rounds to zero
    const m = mant | 0x100000;
    const shift = 11 - e; // 11..21
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (lo !== 0 || (half & 1) === 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 10);
  const rem = mant & 0x3ff;
  // A carry out of the mantissa correctly bumps the exponent (up to Infinity at 0x7c00).
  if (rem > 0x200 || (rem === 0x200 && (lo !== 0 || (half & 1) === 1))) half++;
  return sign | half;
}

/** The value of a half given as its 16 bits (exact: every half is a double). */
export function fromHalfBits(bits: number): number {
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  let value: number;
  if (exp === 0) value = mant * 5.960464477539063e-8; // 2^-24
  else if (exp === 0x1f) value = mant === 0 ? Infinity : NaN;
  else value = (1024 + mant) * 2 ** (exp - 25);
  return bits & 0x8000 ? -value : value;
}
