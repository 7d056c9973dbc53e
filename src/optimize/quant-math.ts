// The arithmetic of linear 8-bit quantization, shared by the dynamic and static quantizers:
// real = scale · (q − zero_point). Weights are s8 and symmetric (zero point 0), per tensor or per
// channel; activations are u8 and asymmetric, from a calibrated [min, max] that always contains 0
// (so that 0 — padding, ReLU's floor — is exact).

export interface QuantizedWeights {
  values: Int8Array;
  /** One scale per channel (or one for the whole tensor). */
  scales: Float32Array;
}

/**
 * Symmetric s8 quantization of `values` in ±qmax (127 for 8-bit, 63 for 7-bit). With `channels`, the
 * tensor is split into that many channels along one axis: `channelOf(i)` gives element i's channel.
 */
export function quantizeWeights(values: Float32Array, qmax: number, channels = 1, channelOf: (i: number) => number = () => 0): QuantizedWeights {
  const maxAbs = new Float32Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(values[i]!);
    if (a > maxAbs[c]!) maxAbs[c] = a;
  }
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 && Number.isFinite(m) ? m / qmax : 1));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i]! / scales[channelOf(i)]!);
    q[i] = v > qmax ? qmax : v < -qmax ? -qmax : v;
  }
  return { values: q, scales };
}

/** Element i's channel for axis `axis` of a row-major tensor of `dims`. */
export function channelIndexer(dims: readonly number[], axis: number): (i: number) => number {
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const size = dims[axis]!;
  return (i) => Math.floor(i / inner) % size;
}

export interface ActivationParams {
  scale: number;
  zeroPoint: number;
}

/** u8 parameters for values in [min, max] (widened to contain 0). */
export function activationParams(min: number, max: number): ActivationParams {
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (!(hi - lo > 0) || !Number.isFinite(hi - lo)) return { scale: 1, zeroPoint: lo < 0 ? 255 : 0 };
  const scale = (hi - lo) / 255;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

/** Bias as int32 at scale input_scale · weight_scale[c] (what QLinearConv adds to its int32 sums). */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { values: Int32Array; scales: Float32Array } {
  const scales = Float32Array.from(bias, (_, c) => inputScale * weightScales[weightScales.length === 1 ? 0 : c]!);
  const values = Int32Array.from(bias, (b, c) => {
    const s = scales[c]!;
    const q = s > 0 ? Math.round(b / s) : 0;
    return Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, q));
  });
  return { values, scales };
}
