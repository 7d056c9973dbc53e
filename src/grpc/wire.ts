// Protobuf wire-format primitives for the hand-written tensor codecs (infer-request.ts,
// infer-response.ts). A Reader walks a Buffer in place and hands out offsets, so callers take views
// instead of copies; a Writer fills a Buffer whose exact size the caller computed first. 64-bit
// varints are read as two 32-bit halves: no BigInt or Long per value.
import { badRequest } from '../protocol/errors.js';
import { MAX_PROTOBUF_DEPTH } from '../protocol/limits.js';

/** Wire types (the low three bits of a tag). */
export const VARINT = 0;
export const FIXED64 = 1;
export const LENGTH_DELIMITED = 2;
export const START_GROUP = 3;
export const END_GROUP = 4;
export const FIXED32 = 5;

const TWO_32 = 4294967296;

/** Malformed protobuf input: a 400 (gRPC INVALID_ARGUMENT), like any other malformed request. */
export function malformed(what: string, at: number): Error {
  return badRequest(`malformed protobuf message: ${what} at byte ${at}`);
}

export class Reader {
  readonly buf: Buffer;
  pos: number;
  /** The high 32 bits (unsigned) of the last varint64(). */
  hi = 0;

  constructor(buf: Buffer, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }

  /** A varint's low 32 bits, unsigned (tags, lengths, uint32, enums; `| 0` gives int32). */
  uint32(): number {
    const buf = this.buf;
    const len = buf.length;
    let pos = this.pos;
    if (pos < len) {
      const b = buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return b;
      }
    }
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (pos >= len) throw malformed('truncated varint', pos);
      const b = buf[pos++]!;
      // Bits past 32 are dropped, as protobuf truncates a 64-bit varint read as 32 bits.
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.pos = pos;
        return value >>> 0;
      }
    }
    throw malformed('varint longer than 10 bytes', this.pos);
  }

  /** A varint of up to 64 bits: returns the low 32 bits (unsigned) and leaves the high 32 in `hi`. */
  varint64(): number {
    const buf = this.buf;
    const len = buf.length;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= len) throw malformed('truncated varint', pos);
      const b = buf[pos++]!;
      const bits = b & 0x7f;
      if (i < 4) {
        lo |= bits << (7 * i);
      } else if (i === 4) {
        lo |= bits << 28;
        hi |= bits >>> 4;
      } else {
        hi |= bits << (7 * i - 32);
      }
      if (b < 0x80) {
        this.pos = pos;
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    throw malformed('varint longer than 10 bytes', this.pos);
  }

  /**
   * An int64 (uint64 when `unsigned`) as a number when it is a safe integer, else as its exact
   * decimal string (protobuf's JSON mapping writes 64-bit integers as strings too).
   */
  int64(unsigned: boolean): number | string {
    const lo = this.varint64();
    return int64Value(lo, this.hi, unsigned);
  }

  /** Skips a varint of any length. */
  skipVarint(): void {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    for (;;) {
      if (pos >= buf.length) throw malformed('truncated varint', pos);
      if (pos - start >= 10) throw malformed('varint longer than 10 bytes', start);
      if (buf[pos++]! < 0x80) break;
    }
    this.pos = pos;
  }

  /**
   * Reads a length prefix and returns where that field ends (the data starts at `pos`). The field
   * must end by `end`, the end of the enclosing message.
   */
  delimited(end: number): number {
    const at = this.pos;
    const length = this.uint32();
    const stop = this.pos + length;
    if (stop > end) throw malformed(`length ${length} runs past the end of its message`, at);
    return stop;
  }

  /** A length-delimited UTF-8 string. */
  string(end: number): string {
    const stop = this.delimited(end);
    const text = this.buf.toString('utf8', this.pos, stop);
    this.pos = stop;
    return text;
  }

  /** Skips a field's value (unknown fields: protobuf's forward compatibility). */
  skip(wireType: number, end: number): void {
    const at = this.pos;
    switch (wireType) {
      case VARINT:
        this.skipVarint();
        break;
      case FIXED64:
        this.pos += 8;
        break;
      case LENGTH_DELIMITED:
        this.pos = this.delimited(end);
        break;
      case FIXED32:
        this.pos += 4;
        break;
      case START_GROUP:
        this.#skipGroup(end, at);
        break;
      default:
        throw malformed(`wire type ${wireType}`, at);
    }
    if (this.pos > end) throw malformed('field runs past the end of its message', at);
  }

  /**
   * Deprecated groups: skips fields up to the END_GROUP that matches the START_GROUP just read, nested
   * groups included. Iterative, with protobuf's depth limit, so no message can exhaust the stack.
   */
  #skipGroup(end: number, at: number): void {
    let depth = 1;
    while (depth > 0) {
      if (this.pos >= end) throw malformed('unterminated group', at);
      const tag = this.uint32();
      const wireType = tag & 7;
      if (wireType === END_GROUP) {
        depth--;
      } else if (wireType === START_GROUP) {
        if (++depth > MAX_PROTOBUF_DEPTH) throw malformed(`groups nested deeper than ${MAX_PROTOBUF_DEPTH}`, at);
      } else {
        this.skip(wireType, end);
      }
    }
  }
}

/** The value of a 64-bit integer given as two unsigned 32-bit halves (see Reader.int64). */
export function int64Value(lo: number, hi: number, unsigned: boolean): number | string {
  const high = unsigned ? hi : hi | 0;
  const value = high * TWO_32 + lo;
  if (Number.isSafeInteger(value)) return value;
  const big = (BigInt(hi) << 32n) | BigInt(lo);
  return (unsigned ? big : BigInt.asIntN(64, big)).toString();
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Bytes a varint takes for a non-negative integer up to 2^53. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  let size = 4;
  n = Math.floor(n / 0x10000000);
  while (n > 0) {
    size++;
    n = Math.floor(n / 0x80);
  }
  return size;
}

/** Bytes an int64 field value takes: negative values always take 10 (two's complement). */
export function int64Size(n: number): number {
  return n < 0 ? 10 : varintSize(n);
}

/** Bytes a field's tag takes. */
export function tagSize(field: number): number {
  return varintSize(field << 3);
}

/** Fills a Buffer of a precomputed size; `pos` must equal its length at the end. */
export class Writer {
  readonly buf: Buffer;
  pos: number;

  constructor(buf: Buffer, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** A non-negative integer up to 2^53. */
  varint(n: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (n > 0xffffffff) {
      buf[pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    while (n > 0x7f) {
      buf[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[pos++] = n;
    this.pos = pos;
  }

  /** A safe integer as an int64: negative values as their 10-byte two's complement. */
  int64(n: number): void {
    if (n >= 0) {
      this.varint(n);
      return;
    }
    const hiSigned = Math.floor(n / TWO_32);
    let lo = n - hiSigned * TWO_32;
    let hi = hiSigned >>> 0;
    const buf = this.buf;
    let pos = this.pos;
    // Nine 7-bit groups with the continuation bit, then the last bit of the 64.
    for (let i = 0; i < 9; i++) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo & 1;
    this.pos = pos;
  }

  /** A length-prefixed string whose UTF-8 byte length the caller already computed. */
  string(text: string, byteLength: number): void {
    this.varint(byteLength);
    if (byteLength === text.length && byteLength <= 32) {
      // ASCII (one byte per UTF-16 unit only then), short: names, datatypes, ids. A native
      // Buffer.write costs more than the copy for these.
      const buf = this.buf;
      const pos = this.pos;
      for (let i = 0; i < byteLength; i++) buf[pos + i] = text.charCodeAt(i);
    } else if (byteLength > 0) {
      this.buf.write(text, this.pos, byteLength, 'utf8');
    }
    this.pos += byteLength;
  }

  double(value: number): void {
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  raw(bytes: Uint8Array): void {
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  uint32LE(value: number): void {
    this.buf.writeUInt32LE(value, this.pos);
    this.pos += 4;
  }
}
