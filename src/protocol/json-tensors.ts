// JSON tensor data of v2 requests (an input's `data`) to the datatype's carrier array.
import type { DataType } from '../engine/datatype.js';
import type { InputTensor } from '../engine/tensor.js';
import { badRequest } from './errors.js';
import { toHalfBits } from './half.js';
import { describe, isObject } from './json-values.js';

/**
 * JSON `data` to the datatype's carrier. Nested or flat, row-major; the element count must equal
 * the shape's. Conversions:
 * - integers: JSON integers within the type's range. INT64/UINT64 also take decimal strings (for
 *   values beyond 2^53); JSON numbers beyond ±(2^53-1) are refused, since JSON.parse has already
 *   rounded them.
 * - BOOL: true/false, or 0/1.
 * - FP32/FP64: numbers; null stands for NaN (what the response encoder writes for NaN/±Infinity).
 * - FP16: numbers rounded to the nearest half (Triton accepts FP16 only as binary data).
 * - BYTES: strings (sent to the model as their UTF-8 bytes).
 */
export function decodeJson(name: string, datatype: DataType, data: unknown, shape: readonly number[], count: number): InputTensor['data'] {
  let flat: ArrayLike<unknown>;
  if (!Array.isArray(data)) {
    // A bare value is accepted for a one-element tensor (e.g. shape []).
    if (isObject(data) || count !== 1) throw badRequest(`input '${name}': 'data' must be an array, got ${describe(data)}`);
    flat = [data];
  } else if (data.length === count && (count === 0 || !Array.isArray(data[0]))) {
    flat = data; // the flat fast path
  } else {
    flat = flatten(name, data, Math.max(shape.length, 1));
  }
  if (flat.length !== count) {
    throw badRequest(`input '${name}': expected ${count} elements for shape [${shape.join(',')}], got ${flat.length}`);
  }
  switch (datatype) {
    case 'FP32':
      return fillFloat(name, flat, new Float32Array(count));
    case 'FP64':
      return fillFloat(name, flat, new Float64Array(count));
    case 'FP16':
      return fillHalf(name, flat, new Uint16Array(count));
    case 'INT8':
      return fillInt(name, flat, new Int8Array(count), -0x80, 0x7f);
    case 'INT16':
      return fillInt(name, flat, new Int16Array(count), -0x8000, 0x7fff);
    case 'INT32':
      return fillInt(name, flat, new Int32Array(count), -0x80000000, 0x7fffffff);
    case 'UINT8':
      return fillInt(name, flat, new Uint8Array(count), 0, 0xff);
    case 'UINT16':
      return fillInt(name, flat, new Uint16Array(count), 0, 0xffff);
    case 'UINT32':
      return fillInt(name, flat, new Uint32Array(count), 0, 0xffffffff);
    case 'INT64':
      return fillBig(name, flat, new BigInt64Array(count), INT64_MIN, INT64_MAX);
    case 'UINT64':
      return fillBig(name, flat, new BigUint64Array(count), 0n, UINT64_MAX);
    case 'BOOL':
      return fillBool(name, flat, new Uint8Array(count));
    case 'BYTES':
      return fillStrings(name, flat, data === flat);
  }
}

/** Row-major flattening of nested arrays, at most `maxDepth` levels of arrays deep. */
function flatten(name: string, data: unknown[], maxDepth: number): unknown[] {
  const out: unknown[] = [];
  const walk = (array: unknown[], depth: number): void => {
    for (let i = 0; i < array.length; i++) {
      const v = array[i];
      if (Array.isArray(v)) {
        if (depth >= maxDepth) throw badRequest(`input '${name}': 'data' is nested deeper than the shape's rank`);
        walk(v, depth + 1);
      } else {
        out.push(v);
      }
    }
  };
  walk(data, 1);
  return out;
}

function elementError(name: string, index: number, value: unknown, expected: string): Error {
  return badRequest(`input '${name}': element ${index} must be ${expected}, got ${describe(value)}`);
}

function fillFloat<T extends Float32Array | Float64Array>(name: string, src: ArrayLike<unknown>, out: T): T {
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    if (typeof v === 'number') out[i] = v;
    else if (v === null) out[i] = NaN;
    else throw elementError(name, i, v, 'a number');
  }
  return out;
}

function fillHalf(name: string, src: ArrayLike<unknown>, out: Uint16Array): Uint16Array {
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    if (typeof v === 'number') out[i] = toHalfBits(v);
    else if (v === null) out[i] = 0x7e00;
    else throw elementError(name, i, v, 'a number');
  }
  return out;
}

type SmallIntArray = Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;

function fillInt<T extends SmallIntArray>(name: string, src: ArrayLike<unknown>, out: T, min: number, max: number): T {
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw elementError(name, i, v, `an integer in [${min}, ${max}]`);
    }
    out[i] = v;
  }
  return out;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?\d{1,20}$/;

function fillBig<T extends BigInt64Array | BigUint64Array>(
  name: string,
  src: ArrayLike<unknown>,
  out: T,
  min: bigint,
  max: bigint,
): T {
  const range = `an integer in [${min}, ${max}]`;
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    let b: bigint;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) {
        if (Number.isInteger(v)) {
          throw badRequest(
            `input '${name}': element ${i} (${v}) is beyond 2^53 and JSON numbers cannot carry it exactly; ` +
              'send it as a decimal string or as binary data',
          );
        }
        throw elementError(name, i, v, range);
      }
      b = BigInt(v);
    } else if (typeof v === 'string' && DECIMAL.test(v)) {
      b = BigInt(v);
    } else {
      throw elementError(name, i, v, `${range} (a number or a decimal string)`);
    }
    if (b < min || b > max) throw elementError(name, i, v, range);
    out[i] = b;
  }
  return out;
}

function fillBool(name: string, src: ArrayLike<unknown>, out: Uint8Array): Uint8Array {
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    if (v === true || v === 1) out[i] = 1;
    else if (v === false || v === 0) out[i] = 0;
    else throw elementError(name, i, v, 'a boolean (or 0/1)');
  }
  return out;
}

function fillStrings(name: string, src: ArrayLike<unknown>, reusable: boolean): string[] {
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (typeof v !== 'string') throw elementError(name, i, v, 'a string');
  }
  // The parsed array is ours (JSON.parse made it): hand it over when it is already flat.
  return reusable ? (src as string[]) : Array.from(src as ArrayLike<string>);
}
