// The one datatype table. Every other place that needs a fact about a datatype derives it from here:
// the engine (carriers, element sizes; the addon receives the table at init), the protocol codecs,
// the cache's persistent formats, model configs (Triton's TYPE_ names), the gRPC codec (which
// InferTensorContents field carries it) and the ONNX builder (ONNX element type numbers).
//
// Columns:
// - name: the KServe v2 datatype name.
// - onnx: ONNX TensorProto.DataType number (what ONNX Runtime reports).
// - size: bytes per element; 0 for BYTES (variable length).
// - carrier: the typed array that carries the data in JS. FP16 travels as raw IEEE half bits; BOOL as
//   0/1 bytes; BYTES as strings or Uint8Arrays in, Buffers out.
// - triton: the TYPE_ name of Triton's model configuration.
// - cacheCode: the byte that stands for the datatype in the response cache's keys and stored values.
//   Persistent: changing one changes every key and value format (Redis entries would stop matching).
// - grpcContents: the InferTensorContents field that carries it over gRPC (FP16 only travels raw).

type TypedArrayCtor = {
  new (length: number): AnyTypedArray;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): AnyTypedArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
};

export const DATATYPE_TABLE = [
  { name: 'BOOL', onnx: 9, size: 1, carrier: Uint8Array, triton: 'TYPE_BOOL', cacheCode: 1, grpcContents: 'bool_contents' },
  { name: 'UINT8', onnx: 2, size: 1, carrier: Uint8Array, triton: 'TYPE_UINT8', cacheCode: 2, grpcContents: 'uint_contents' },
  { name: 'UINT16', onnx: 4, size: 2, carrier: Uint16Array, triton: 'TYPE_UINT16', cacheCode: 3, grpcContents: 'uint_contents' },
  { name: 'UINT32', onnx: 12, size: 4, carrier: Uint32Array, triton: 'TYPE_UINT32', cacheCode: 4, grpcContents: 'uint_contents' },
  { name: 'UINT64', onnx: 13, size: 8, carrier: BigUint64Array, triton: 'TYPE_UINT64', cacheCode: 5, grpcContents: 'uint64_contents' },
  { name: 'INT8', onnx: 3, size: 1, carrier: Int8Array, triton: 'TYPE_INT8', cacheCode: 6, grpcContents: 'int_contents' },
  { name: 'INT16', onnx: 5, size: 2, carrier: Int16Array, triton: 'TYPE_INT16', cacheCode: 7, grpcContents: 'int_contents' },
  { name: 'INT32', onnx: 6, size: 4, carrier: Int32Array, triton: 'TYPE_INT32', cacheCode: 8, grpcContents: 'int_contents' },
  { name: 'INT64', onnx: 7, size: 8, carrier: BigInt64Array, triton: 'TYPE_INT64', cacheCode: 9, grpcContents: 'int64_contents' },
  { name: 'FP16', onnx: 10, size: 2, carrier: Uint16Array, triton: 'TYPE_FP16', cacheCode: 10, grpcContents: undefined },
  { name: 'FP32', onnx: 1, size: 4, carrier: Float32Array, triton: 'TYPE_FP32', cacheCode: 11, grpcContents: 'fp32_contents' },
  { name: 'FP64', onnx: 11, size: 8, carrier: Float64Array, triton: 'TYPE_FP64', cacheCode: 12, grpcContents: 'fp64_contents' },
  { name: 'BYTES', onnx: 8, size: 0, carrier: undefined, triton: 'TYPE_STRING', cacheCode: 13, grpcContents: 'bytes_contents' },
] as const;

/**
 * ONNX element types tensorgate cannot run, named for error messages and model configs. BF16 is a v2
 * and Triton name too, but ONNX Runtime's CPU provider cannot run it.
 */
export const UNSUPPORTED_ONNX_TYPES = [
  { name: 'BF16', onnx: 16, triton: 'TYPE_BF16' },
  { name: 'COMPLEX64', onnx: 14, triton: undefined },
  { name: 'COMPLEX128', onnx: 15, triton: undefined },
] as const;

type Row = (typeof DATATYPE_TABLE)[number];

/** A v2 datatype that tensorgate can run. */
export type DataType = Row['name'];
export type NumericDataType = Exclude<DataType, 'BYTES'>;
export type TritonDataType = Row['triton'] | 'TYPE_BF16';
export type GrpcContentsField = NonNullable<Row['grpcContents']>;

/** The array type that carries each datatype. */
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

export type TypedArrayOf<D extends NumericDataType> = DataTypeCarrier[D];
export type AnyTypedArray = TypedArrayOf<NumericDataType>;

function column(key: keyof Row, rows: readonly Row[] = DATATYPE_TABLE): Record<string, unknown> {
  return Object.fromEntries(rows.map((r) => [r.name, r[key]]));
}

const NUMERIC_ROWS: readonly Row[] = DATATYPE_TABLE.filter((r) => r.size > 0);

export const DATATYPES: readonly DataType[] = DATATYPE_TABLE.map((r) => r.name);

/** Bytes per element; BYTES has no fixed size. */
export const ELEMENT_SIZE = column('size', NUMERIC_ROWS) as Readonly<Record<NumericDataType, number>>;

export const CARRIER = column('carrier', NUMERIC_ROWS) as unknown as Readonly<Record<NumericDataType, TypedArrayCtor>>;

/** v2 name -> Triton's TYPE_ name. */
export const TRITON_TYPE = column('triton') as Readonly<Record<DataType, Row['triton']>>;

/** Triton's TYPE_ name -> v2 name (BF16 included, so configs can name it and be refused clearly). */
export const FROM_TRITON_TYPE: Readonly<Record<TritonDataType, DataType | 'BF16'>> = {
  ...(Object.fromEntries(DATATYPE_TABLE.map((r) => [r.triton, r.name])) as Record<Row['triton'], DataType>),
  TYPE_BF16: 'BF16',
};

/** Every TYPE_ name a model config may use, in table order. */
export const TRITON_TYPES = [...DATATYPE_TABLE.map((r) => r.triton), 'TYPE_BF16'] as unknown as [TritonDataType, ...TritonDataType[]];

/** The response cache's persistent datatype codes (see cacheCode above). */
export const CACHE_CODE = column('cacheCode') as Readonly<Record<DataType, number>>;

/** The gRPC InferTensorContents field of each datatype (FP16: none, raw only). */
export const GRPC_CONTENTS = column('grpcContents') as Readonly<Record<DataType, GrpcContentsField | undefined>>;

/** ONNX element type number -> v2 name (undefined for types tensorgate cannot run). */
export const BY_ONNX: ReadonlyArray<DataType | undefined> = (() => {
  const out: Array<DataType | undefined> = [];
  for (const r of DATATYPE_TABLE) out[r.onnx] = r.name;
  return out;
})();

/** The ONNX element type number of each v2 datatype. */
export const ONNX_TYPE = column('onnx') as Readonly<Record<DataType, number>>;

export function isDataType(value: unknown): value is DataType {
  return typeof value === 'string' && Object.hasOwn(CACHE_CODE, value);
}

/** A readable name for any ONNX element type number, for messages. */
export function describeOnnxType(onnx: number): string {
  return BY_ONNX[onnx] ?? UNSUPPORTED_ONNX_TYPES.find((t) => t.onnx === onnx)?.name ?? `ONNX element type ${onnx}`;
}

/** Number of elements a shape holds ([] is a scalar: one element). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
