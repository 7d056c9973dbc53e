// Binary tensor data (Triton's binary_tensor_data extension, raw requests, gRPC raw contents): little-
// endian elements, BYTES as a 4-byte length and the bytes of each element. Numeric data become views
// on the body's memory whenever alignment allows, so the body must stay untouched until the inference
// that reads it has completed.
import { CARRIER, ELEMENT_SIZE, type AnyTypedArray, type DataType, type NumericDataType } from '../engine/datatype.js';
import type { InputTensor } from '../engine/tensor.js';
import { badRequest } from './errors.js';

/**
 * One input's binary data (body[start, start + size)) as its carrier: little-endian, row-major
 * elements (views where aligned, see typedView); BYTES as 4-byte LE length + bytes each. `source`
 * names where the bytes came from in error messages (the gRPC front passes 'raw_input_contents size').
 */
export function decodeBinary(
  name: string,
  datatype: DataType,
  body: Buffer,
  start: number,
  size: number,
  shape: readonly number[],
  count: number,
  source = 'binary_data_size',
): InputTensor['data'] {
  if (datatype === 'BYTES') return parseBytes(name, body, start, size, count, source);
  const expected = count * ELEMENT_SIZE[datatype];
  if (size !== expected) {
    throw badRequest(
      `binary size mismatch: input '${name}' has ${source} ${size} but ${count} ${datatype} ` +
        `elements (shape [${shape.join(',')}]) take ${expected} bytes`,
    );
  }
  const data = typedView(datatype, body, start, count);
  if (datatype === 'BOOL') checkBool(name, data as Uint8Array);
  return data;
}

/**
 * `count` elements of `datatype` at body[start...] as its carrier array: a view on the body's
 * memory when the address is aligned for the element size, else a copy.
 */
export function typedView(datatype: NumericDataType, body: Buffer, start: number, count: number): AnyTypedArray {
  const Carrier = CARRIER[datatype];
  const size = ELEMENT_SIZE[datatype];
  const offset = body.byteOffset + start;
  if (offset % size === 0) return new Carrier(body.buffer, offset, count);
  const copy = new Carrier(count);
  new Uint8Array(copy.buffer, copy.byteOffset, count * size).set(body.subarray(start, start + count * size));
  return copy;
}

export function checkBool(name: string, data: Uint8Array): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i]! > 1) throw badRequest(`input '${name}': BOOL element ${i} is byte ${data[i]}; BOOL bytes must be 0 or 1`);
  }
}

/** BYTES binary data: each element a 4-byte little-endian length and that many bytes (views, no copy). */
export function parseBytes(name: string, body: Buffer, start: number, size: number, count: number, source: string): Buffer[] {
  const end = start + size;
  // Each element takes at least 4 bytes: a shape claiming more fails below, without a huge allocation.
  const elements = new Array<Buffer>(Math.min(count, Math.floor(size / 4)));
  let at = start;
  for (let i = 0; i < count; i++) {
    if (at + 4 > end) {
      throw badRequest(
        `binary size mismatch: input '${name}' has ${i} BYTES elements in its ${source} ${size}, ` +
          `its shape needs ${count}`,
      );
    }
    const length = body.readUInt32LE(at);
    at += 4;
    if (at + length > end) {
      throw badRequest(
        `binary size mismatch: input '${name}': BYTES element ${i} has length ${length}, past the end of ` +
          `its ${source} ${size}`,
      );
    }
    elements[i] = body.subarray(at, at + length);
    at += length;
  }
  if (at !== end) {
    throw badRequest(
      `binary size mismatch: input '${name}' has ${end - at} bytes after its ${count} BYTES elements ` +
        `(${source} ${size})`,
    );
  }
  return elements;
}
