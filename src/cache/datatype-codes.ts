// One byte per v2 datatype, in both persistent formats of the cache: the canonical key stream
// (key.ts) and the stored values (codec.ts). Independent of the engine's DATATYPES order; changing a
// code changes every key and value format, so existing Redis entries would no longer match.
import type { DataType } from '../engine/datatype.js';

export const DATATYPE_CODE: Readonly<Record<DataType, number>> = {
  BOOL: 1,
  UINT8: 2,
  UINT16: 3,
  UINT32: 4,
  UINT64: 5,
  INT8: 6,
  INT16: 7,
  INT32: 8,
  INT64: 9,
  FP16: 10,
  FP32: 11,
  FP64: 12,
  BYTES: 13,
};
