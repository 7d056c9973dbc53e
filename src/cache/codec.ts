// The cached value: a compact binary header followed by the raw little-endian tensor bytes. Never JSON
// or base64 of tensors. Layout (all integers little-endian):
//
//   0   u32  magic 'TGC1'
//   4   u32  data offset (a multiple of 8)
//   8   u32  check0 ┐ the key's independent check and hashed-stream length: a hit is only used when
//   12  u32  check1 │ they match the request's (see key.ts)
//   16  f64  length ┘
//   24  f64  expiry, ms since the epoch (0: none) so that an L2 hit fills L1 for the time left only
//   32  u32  tensor count
//   36  per tensor: u16 name length, name (UTF-8), u8 datatype, u8 rank, rank × u32 dims, f64 data bytes
//   pad to 8, then per tensor its data, each starting at a multiple of 8 (so numeric data can be read
//   through typed-array views in place). BYTES data: per element a u32 length and its bytes.
import { CACHE_CODE, CARRIER, ELEMENT_SIZE, type DataType, type NumericDataType } from '../engine/datatype.js';
import type { InferOutputs, OutputTensor } from '../engine/tensor.js';

const MAGIC = 0x31434754; // 'TGC1'
const FIXED = 36;

/** Datatype codes of the format: the cacheCode column of src/engine/datatype.ts. */
const CODE = CACHE_CODE;
const BY_CODE: Array<DataType | undefined> = [];
for (const [name, code] of Object.entries(CODE)) BY_CODE[code] = name as DataType;

export interface ValueMeta {
  check0: number;
  check1: number;
  length: number;
  /** Absolute expiry in ms since the epoch; 0 = none. */
  expiresAt: number;
}

export interface DecodedValue extends ValueMeta {
  outputs: InferOutputs;
}

export class CodecError extends Error {
  override name = 'CodecError';
}

const pad8 = (n: number): number => (n + 7) & ~7;

function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function toBytes(e: string | Uint8Array): Uint8Array {
  return typeof e === 'string' ? Buffer.from(e, 'utf8') : e;
}

/** Encodes outputs into one standalone Buffer (its own ArrayBuffer, offset 0). Throws CodecError. */
export function encodeValue(outputs: InferOutputs, meta: ValueMeta): Buffer {
  const names = Object.keys(outputs);
  const nameBytes: Buffer[] = [];
  const dataSizes: number[] = [];
  const bytesData: Array<Uint8Array[] | undefined> = [];
  let header = FIXED;
  let body = 0;
  for (const name of names) {
    const t = outputs[name]!;
    const code = CODE[t.datatype];
    if (code === undefined) throw new CodecError(`output '${name}': unknown datatype ${String(t.datatype)}`);
    const shape = t.shape;
    if (shape.length > 255) throw new CodecError(`output '${name}': rank ${shape.length} > 255`);
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new CodecError(`output '${name}': bad dimension ${d}`);
    }
    const count = elementCount(shape);
    const nb = Buffer.from(name, 'utf8');
    if (nb.length > 0xffff) throw new CodecError(`output name too long`);
    nameBytes.push(nb);
    header += 2 + nb.length + 2 + 4 * shape.length + 8;
    let size: number;
    if (t.datatype === 'BYTES') {
      const elems = (t.data as ReadonlyArray<string | Uint8Array>).map(toBytes);
      if (elems.length !== count) throw new CodecError(`output '${name}': ${elems.length} BYTES elements for shape [${shape.join(',')}]`);
      size = 0;
      for (const e of elems) size += 4 + e.length;
      bytesData.push(elems);
    } else {
      const view = t.data as ArrayBufferView;
      size = count * ELEMENT_SIZE[t.datatype];
      if (view.byteLength !== size) throw new CodecError(`output '${name}': ${view.byteLength} bytes for ${t.datatype} shape [${shape.join(',')}]`);
      bytesData.push(undefined);
    }
    dataSizes.push(size);
    body += pad8(size);
  }
  const dataOffset = pad8(header);
  const buf = Buffer.allocUnsafeSlow(dataOffset + body);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, dataOffset, true);
  dv.setUint32(8, meta.check0 >>> 0, true);
  dv.setUint32(12, meta.check1 >>> 0, true);
  dv.setFloat64(16, meta.length, true);
  dv.setFloat64(24, meta.expiresAt, true);
  dv.setUint32(32, names.length, true);
  let p = FIXED;
  let q = dataOffset;
  for (let i = 0; i < names.length; i++) {
    const t = outputs[names[i]!]!;
    const nb = nameBytes[i]!;
    dv.setUint16(p, nb.length, true);
    buf.set(nb, p + 2);
    p += 2 + nb.length;
    buf[p++] = CODE[t.datatype];
    buf[p++] = t.shape.length;
    for (const d of t.shape) {
      dv.setUint32(p, d, true);
      p += 4;
    }
    const size = dataSizes[i]!;
    dv.setFloat64(p, size, true);
    p += 8;
    const elems = bytesData[i];
    if (elems) {
      let r = q;
      for (const e of elems) {
        dv.setUint32(r, e.length, true);
        buf.set(e, r + 4);
        r += 4 + e.length;
      }
    } else if (size > 0) {
      const view = t.data as ArrayBufferView;
      buf.set(new Uint8Array(view.buffer, view.byteOffset, size), q);
    }
    const padded = pad8(size);
    if (padded > size) buf.fill(0, q + size, q + padded);
    q += padded;
  }
  if (dataOffset > p) buf.fill(0, p, dataOffset);
  return buf;
}

/** Reads the header's check fields and expiry without decoding tensors. Throws CodecError. */
export function readMeta(buf: Buffer): ValueMeta {
  if (buf.length < FIXED) throw new CodecError('value too short');
  if (buf.readUInt32LE(0) !== MAGIC) throw new CodecError('bad magic');
  return { check0: buf.readUInt32LE(8), check1: buf.readUInt32LE(12), length: buf.readDoubleLE(16), expiresAt: buf.readDoubleLE(24) };
}

/**
 * Decodes a value. Numeric tensors are typed-array views on `buf` where their offset is aligned for the
 * element type (always, for a Buffer whose byteOffset is a multiple of 8), copies otherwise; BYTES
 * elements are Buffer views on `buf`. Throws CodecError on any malformed input.
 */
export function decodeValue(buf: Buffer): DecodedValue {
  const meta = readMeta(buf);
  const len = buf.length;
  const dataOffset = buf.readUInt32LE(4);
  const count = buf.readUInt32LE(32);
  if (dataOffset > len || dataOffset < FIXED || dataOffset % 8 !== 0) throw new CodecError('bad data offset');
  const outputs: InferOutputs = {};
  let p = FIXED;
  let q = dataOffset;
  const need = (n: number): void => {
    if (p + n > dataOffset) throw new CodecError('truncated header');
  };
  for (let i = 0; i < count; i++) {
    need(2);
    const nameLen = buf.readUInt16LE(p);
    p += 2;
    need(nameLen + 2);
    const name = buf.toString('utf8', p, p + nameLen);
    p += nameLen;
    const datatype = BY_CODE[buf[p++]!];
    const rank = buf[p++]!;
    if (datatype === undefined) throw new CodecError('bad datatype');
    need(4 * rank + 8);
    const shape = new Array<number>(rank);
    let n = 1;
    for (let d = 0; d < rank; d++) {
      const dim = buf.readUInt32LE(p);
      shape[d] = dim;
      n *= dim;
      p += 4;
    }
    const size = buf.readDoubleLE(p);
    p += 8;
    if (!(size >= 0) || q + size > len) throw new CodecError('truncated data');
    let tensor: OutputTensor;
    if (datatype === 'BYTES') {
      const elems: Buffer[] = new Array<Buffer>(n);
      let r = q;
      const end = q + size;
      for (let e = 0; e < n; e++) {
        if (r + 4 > end) throw new CodecError('truncated BYTES element');
        const el = buf.readUInt32LE(r);
        if (r + 4 + el > end) throw new CodecError('truncated BYTES element');
        elems[e] = buf.subarray(r + 4, r + 4 + el);
        r += 4 + el;
      }
      if (r !== end) throw new CodecError('BYTES size mismatch');
      tensor = { datatype, shape, data: elems };
    } else {
      const esize = ELEMENT_SIZE[datatype as NumericDataType];
      if (size !== n * esize) throw new CodecError('tensor size mismatch');
      const Ctor = CARRIER[datatype as NumericDataType];
      const at = buf.byteOffset + q;
      let data;
      if (at % esize === 0) {
        data = new Ctor(buf.buffer, at, n);
      } else {
        data = new Ctor(n);
        new Uint8Array(data.buffer, 0, size).set(buf.subarray(q, q + size));
      }
      tensor = { datatype, shape, data } as OutputTensor;
    }
    outputs[name] = tensor;
    q += pad8(size);
  }
  return { ...meta, outputs };
}

/**
 * Bytes an entry holds, for L1's byte budget: the value buffer plus an estimate of the JS objects
 * around it (the outputs record, per-tensor objects, shape arrays, views; a Buffer per BYTES element).
 */
export function entrySize(value: Buffer, outputs: InferOutputs): number {
  let size = value.length + 160;
  for (const name in outputs) {
    const t = outputs[name]!;
    size += 200 + name.length * 2 + (t.datatype === 'BYTES' ? 96 * t.data.length : 0);
  }
  return size;
}
