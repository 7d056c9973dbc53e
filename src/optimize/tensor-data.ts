// TensorProto contents as typed arrays and back. ONNX stores raw_data little-endian; so do the typed
// arrays of every platform Node's prebuilt ONNX Runtime runs on (checked once below).
import { fromHalfBits, toHalfBits } from '../protocol/half.js';
import { ELEM, type OnnxTensor } from './onnx-model.js';

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('tensorgate optimize needs a little-endian machine');

export function tensorDims(t: OnnxTensor): number[] {
  return (t.dims ?? []).map(Number);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** A copy of raw bytes in a fresh, aligned buffer (raw_data views need not be aligned). */
function aligned(raw: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  return copy.buffer;
}

/** A FLOAT, FLOAT16 or DOUBLE tensor's values as float32; undefined for other element types. */
export function floatValues(t: OnnxTensor): Float32Array | undefined {
  const n = elementCount(tensorDims(t));
  const raw = t.raw_data && t.raw_data.length > 0 ? t.raw_data : undefined;
  switch (t.data_type) {
    case ELEM.FLOAT:
      if (raw) return checked(t, new Float32Array(aligned(raw)), n);
      return checked(t, Float32Array.from(t.float_data ?? []), n);
    case ELEM.FLOAT16: {
      const bits = raw ? new Uint16Array(aligned(raw)) : Uint16Array.from(t.int32_data ?? []);
      return checked(t, Float32Array.from(bits, fromHalfBits), n);
    }
    case ELEM.DOUBLE:
      if (raw) return checked(t, Float32Array.from(new Float64Array(aligned(raw))), n);
      return checked(t, Float32Array.from(t.double_data ?? []), n);
    default:
      return undefined;
  }
}

/** An INT64 or INT32 tensor's values as numbers (exact up to 2^53); undefined for other types. */
export function intValues(t: OnnxTensor): number[] | undefined {
  const raw = t.raw_data && t.raw_data.length > 0 ? t.raw_data : undefined;
  if (t.data_type === ELEM.INT64) {
    return raw ? Array.from(new BigInt64Array(aligned(raw)), Number) : (t.int64_data ?? []).map(Number);
  }
  if (t.data_type === ELEM.INT32) return raw ? Array.from(new Int32Array(aligned(raw))) : Array.from(t.int32_data ?? []);
  return undefined;
}

function checked(t: OnnxTensor, values: Float32Array, n: number): Float32Array {
  if (values.length !== n) throw new Error(`tensor '${t.name}': ${values.length} values for dims [${tensorDims(t)}]`);
  return values;
}

type Carrier = Float32Array | Uint8Array | Int8Array | Int32Array | Uint16Array | BigInt64Array;

/** A tensor with raw little-endian data. FLOAT16 takes half bits (see toHalf). */
export function makeTensor(name: string, dataType: number, dims: readonly number[], values: Carrier): OnnxTensor {
  if (values.length !== elementCount(dims)) throw new Error(`tensor '${name}': ${values.length} values for dims [${dims}]`);
  return { name, data_type: dataType, dims: [...dims], raw_data: Buffer.from(values.buffer, values.byteOffset, values.byteLength) };
}

export const scalar = {
  float: (name: string, v: number): OnnxTensor => makeTensor(name, ELEM.FLOAT, [], Float32Array.of(v)),
  uint8: (name: string, v: number): OnnxTensor => makeTensor(name, ELEM.UINT8, [], Uint8Array.of(v)),
  int8: (name: string, v: number): OnnxTensor => makeTensor(name, ELEM.INT8, [], Int8Array.of(v)),
};

/** float32 values as half bits, clamped to fp16's finite range (±65504) so nothing becomes infinite. */
export function toHalf(values: Float32Array): { bits: Uint16Array; clamped: number } {
  const bits = new Uint16Array(values.length);
  let clamped = 0;
  for (let i = 0; i < values.length; i++) {
    let v = values[i]!;
    if (v > 65504) {
      v = 65504;
      clamped++;
    } else if (v < -65504) {
      v = -65504;
      clamped++;
    }
    bits[i] = toHalfBits(v);
  }
  return { bits, clamped };
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}
