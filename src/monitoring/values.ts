// Tensor elements as the monitors see them: numbers (FP16 bits and 64-bit integers converted), and
// categories as strings (BOOL as 'false'/'true', BYTES as UTF-8 text), the same for reference files
// and live traffic so that the two compare.
import type { DataType } from '../engine/datatype.js';
import { fromHalfBits } from '../protocol/half.js';

/** The category string of a value of a tensor of `datatype`. */
export function categoryOf(value: unknown, datatype: DataType): string {
  if (datatype === 'BOOL') return value === true || value === 1 || value === 'true' ? 'true' : 'false';
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  if (typeof value === 'number') return Object.is(value, -0) ? '0' : String(value);
  return String(value);
}

/**
 * A tensor's data as plain numbers: the array itself when indexing it gives numbers already, else a
 * converted copy (FP16 half bits, BigInt64/BigUint64).
 */
export function numericView(data: unknown, datatype: DataType): ArrayLike<number> {
  if (datatype === 'FP16') {
    const bits = data as Uint16Array;
    const out = new Float64Array(bits.length);
    for (let i = 0; i < bits.length; i++) out[i] = fromHalfBits(bits[i]!);
    return out;
  }
  if (datatype === 'INT64' || datatype === 'UINT64') {
    const big = data as BigInt64Array | BigUint64Array;
    const out = new Float64Array(big.length);
    for (let i = 0; i < big.length; i++) out[i] = Number(big[i]!);
    return out;
  }
  return data as ArrayLike<number>;
}

export interface RowSummary {
  mean: number;
  /** Population standard deviation. */
  std: number;
  /** Finite elements the summary is over. */
  n: number;
}

/** Mean and standard deviation of the finite values in data[start, end). */
export function rowSummary(data: ArrayLike<number>, start: number, end: number): RowSummary {
  let n = 0;
  let sum = 0;
  let sq = 0;
  for (let i = start; i < end; i++) {
    const v = data[i]!;
    if (v - v !== 0) continue; // NaN or ±Infinity
    n++;
    sum += v;
    sq += v * v;
  }
  if (n === 0) return { mean: NaN, std: NaN, n: 0 };
  const mean = sum / n;
  return { mean, std: Math.sqrt(Math.max(0, sq / n - mean * mean)), n };
}
