// InferTensorContents (an input's typed `contents`) to the datatype's engine carrier, with the HTTP
// decoder's checks and messages: element count against the shape, the narrow integer types'
// ranges. Repeated scalars are read packed or unpacked, in any mix, as protobuf requires. A packed
// FP32/FP64 run that holds the whole tensor becomes a view on the message when aligned.
import { CARRIER, ELEMENT_SIZE, type DataType, type NumericDataType } from '../engine/datatype.js';
import type { InputTensor } from '../engine/tensor.js';
import { badRequest } from '../protocol/errors.js';
import { decodeBinary } from '../protocol/binary-tensors.js';
import { FIXED32, FIXED64, LENGTH_DELIMITED, Reader, VARINT, malformed } from './wire.js';

const FIELD_NAMES = ['', 'bool_contents', 'int_contents', 'int64_contents', 'uint_contents', 'uint64_contents', 'fp32_contents', 'fp64_contents', 'bytes_contents'];

/** The InferTensorContents field that carries each datatype; FP16 has none (raw only). */
const FIELD: Record<DataType, number> = {
  BOOL: 1,
  INT8: 2,
  INT16: 2,
  INT32: 2,
  INT64: 3,
  UINT8: 4,
  UINT16: 4,
  UINT32: 4,
  UINT64: 5,
  FP32: 6,
  FP64: 7,
  BYTES: 8,
  FP16: 0,
};

/** Value ranges of the types that travel widened in int_contents / uint_contents. */
const RANGE: Partial<Record<DataType, readonly [number, number]>> = {
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
};

/** Fewest bytes one element takes in its field (packed varints: 1; unpacked BYTES: tag + length). */
const MIN_BYTES: Record<DataType, number> = { ...ELEMENT_SIZE, BOOL: 1, INT8: 1, INT16: 1, INT32: 1, INT64: 1, UINT8: 1, UINT16: 1, UINT32: 1, UINT64: 1, BYTES: 2 };

/**
 * Decodes input `name`'s contents: the message's extents in r.buf as start, end pairs (protobuf
 * merges a message field sent more than once, so the repeated fields concatenate).
 * @throws ProtocolError (400) on a datatype without a contents field (FP16), data in another
 *   datatype's field, an element count other than `count`, or a value out of the datatype's range
 */
export function decodeContents(
  r: Reader,
  extents: readonly number[],
  name: string,
  datatype: DataType,
  shape: readonly number[],
  count: number,
): InputTensor['data'] {
  const field = FIELD[datatype];
  if (field === 0) throw badRequest(`input '${name}': ${datatype} data must be sent in raw_input_contents`);
  let available = 0;
  for (let e = 0; e < extents.length; e += 2) available += extents[e + 1]! - extents[e]!;
  // A shape can claim more elements than the message could hold: then count them without storing,
  // so a tiny request cannot make us allocate a huge array, and report the real number.
  const store = count * MIN_BYTES[datatype] <= available;
  const sink = new Sink(r.buf, name, datatype, store ? count : 0);
  for (let e = 0; e < extents.length; e += 2) {
    r.pos = extents[e]!;
    const end = extents[e + 1]!;
    while (r.pos < end) {
      const tag = r.uint32();
      const f = tag >>> 3;
      const wireType = tag & 7;
      if (f === field) {
        sink.read(r, wireType, end);
      } else if (f >= 1 && f <= 8) {
        throw badRequest(`input '${name}': ${datatype} data goes in ${FIELD_NAMES[field]}, got ${FIELD_NAMES[f]}`);
      } else {
        if (f === 0) throw malformed('field number 0', r.pos);
        r.skip(wireType, end);
      }
    }
    if (r.pos !== end) throw malformed('contents run past their length', r.pos);
  }
  if (sink.n !== count) {
    throw badRequest(`input '${name}': expected ${count} elements for shape [${shape.join(',')}], got ${sink.n}`);
  }
  return sink.result();
}

type SmallIntCarrier = Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;
type NumericCarrier = SmallIntCarrier | BigInt64Array | BigUint64Array | Float32Array | Float64Array;

/** Collects the elements of one contents field as they arrive, in as many runs as the sender used. */
class Sink {
  /** Elements seen so far; past `capacity` they are only counted. */
  n = 0;
  private array: NumericCarrier | undefined;
  private bytes: Buffer[] | undefined;
  /** The 64-bit carrier's 32-bit words (little-endian: low word first), to store varints without BigInts. */
  private words: Uint32Array | undefined;
  private readonly min: number;
  private readonly max: number;

  constructor(
    private readonly buf: Buffer,
    private readonly name: string,
    private readonly datatype: DataType,
    private readonly capacity: number,
  ) {
    const range = RANGE[datatype];
    this.min = range ? range[0] : -Infinity;
    this.max = range ? range[1] : Infinity;
  }

  read(r: Reader, wireType: number, end: number): void {
    const dt = this.datatype;
    const what = FIELD_NAMES[FIELD[dt]];
    if (dt === 'BYTES') {
      if (wireType !== LENGTH_DELIMITED) throw malformed(`${what} with wire type ${wireType}`, r.pos);
      const stop = r.delimited(end);
      if (this.n < this.capacity) (this.bytes ??= new Array<Buffer>(this.capacity))[this.n] = this.buf.subarray(r.pos, stop);
      this.n++;
      r.pos = stop;
    } else if (dt === 'FP32' || dt === 'FP64') {
      const size = ELEMENT_SIZE[dt];
      if (wireType === LENGTH_DELIMITED) {
        const stop = r.delimited(end);
        const length = stop - r.pos;
        if (length % size !== 0) throw malformed(`packed ${what} of ${length} bytes`, r.pos);
        this.floats(dt, r.pos, length / size);
        r.pos = stop;
      } else if (wireType === (size === 4 ? FIXED32 : FIXED64)) {
        if (r.pos + size > end) throw malformed(`truncated ${what} value`, r.pos);
        this.floats(dt, r.pos, 1);
        r.pos += size;
      } else {
        throw malformed(`${what} with wire type ${wireType}`, r.pos);
      }
    } else if (wireType === VARINT) {
      this.varint(r);
    } else if (wireType === LENGTH_DELIMITED) {
      const stop = r.delimited(end);
      while (r.pos < stop) this.varint(r);
      if (r.pos !== stop) throw malformed(`packed ${what} runs past its length`, r.pos);
    } else {
      throw malformed(`${what} with wire type ${wireType}`, r.pos);
    }
  }

  /** `k` little-endian floats at buf[at...]. */
  private floats(dt: 'FP32' | 'FP64', at: number, k: number): void {
    const n = this.n;
    this.n += k;
    const fit = Math.min(k, this.capacity - n);
    if (fit <= 0) return;
    if (n === 0 && k === this.capacity) {
      // The whole tensor in one run: a view on the message where aligned (the HTTP binary rule).
      this.array = decodeBinary(this.name, dt, this.buf, at, k * ELEMENT_SIZE[dt], [k], k) as Float32Array | Float64Array;
      return;
    }
    const out = this.carrier(dt);
    const size = ELEMENT_SIZE[dt];
    new Uint8Array(out.buffer, out.byteOffset + n * size, fit * size).set(this.buf.subarray(at, at + fit * size));
  }

  private varint(r: Reader): void {
    const lo = r.varint64();
    const i = this.n++;
    if (i >= this.capacity) return;
    const dt = this.datatype as NumericDataType;
    if (dt === 'INT64' || dt === 'UINT64') {
      let words = this.words;
      if (words === undefined) {
        const out = this.carrier(dt);
        words = this.words = new Uint32Array(out.buffer, out.byteOffset, 2 * this.capacity);
      }
      words[2 * i] = lo;
      words[2 * i + 1] = r.hi;
    } else if (dt === 'BOOL') {
      // protobuf reads any non-zero varint as true.
      (this.carrier(dt) as Uint8Array)[i] = (lo | r.hi) !== 0 ? 1 : 0;
    } else {
      // int32 fields keep the low 32 bits, signed; uint32 fields unsigned.
      const v = dt === 'UINT8' || dt === 'UINT16' || dt === 'UINT32' ? lo : lo | 0;
      if (v < this.min || v > this.max) {
        throw badRequest(`input '${this.name}': element ${i} must be an integer in [${this.min}, ${this.max}], got ${v}`);
      }
      (this.carrier(dt) as SmallIntCarrier)[i] = v;
    }
  }

  private carrier(dt: NumericDataType): NumericCarrier {
    return (this.array ??= new CARRIER[dt](this.capacity) as NumericCarrier);
  }

  /** The elements (call once n === capacity). */
  result(): InputTensor['data'] {
    if (this.datatype === 'BYTES') return this.bytes ?? [];
    return this.array ?? new CARRIER[this.datatype](0);
  }
}
