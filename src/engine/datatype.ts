// KServe v2 datatype names and their JavaScript carriers. The mapping is the contract between
// callers and the addon: a tensor's data must be the carrier of its datatype.

export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;

/** A v2 datatype that tensorgate can run. BF16 is a v2 name too but ORT's CPU provider cannot run it. */
export type DataType = (typeof DATATYPES)[number];

/** The array type that carries each datatype. FP16 travels as raw IEEE half bits; BOOL as 0/1 bytes. */
export interface DataTypeCarrier {
  BOOL: Uint8Array;
  UINT8: Uint8Array;
  UINT16: Uint16Array;
  UINT32: Uint32Array;
  UINT64: BigUint64Array;
  INT8: Int8Array;
  INT16: Int16Array;
  INT32: Int32Array;
  INT64: BigInt64Array;
  FP16: Uint16Array;
  FP32: Float32Array;
  FP64: Float64Array;
  BYTES: Array<string | Uint8Array>;
}

/** What BYTES outputs come back as: each element's exact bytes. */
export type BytesOutput = Buffer[];

export type NumericDataType = Exclude<DataType, 'BYTES'>;
export type TypedArrayOf<D extends NumericDataType> = DataTypeCarrier[D];
export type AnyTypedArray = TypedArrayOf<NumericDataType>;

/** Bytes per element; BYTES has no fixed size. */
export const ELEMENT_SIZE: Record<NumericDataType, number> = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
};

type TypedArrayCtor = {
  new (length: number): AnyTypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): AnyTypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

export const CARRIER: Record<NumericDataType, TypedArrayCtor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
};

export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && (DATATYPES as readonly string[]).includes(value);
}

/** Number of elements a shape holds ([] is a scalar: one element). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
