// The canonical byte stream of a cache key's request: model, version, content hash, every input's
// name, datatype, carrier, shape and bytes in sorted-name order, the requested outputs and parameters.
// Every variable-length field is length-prefixed or counted, so the stream determines the request.
import { CACHE_CODE } from '../engine/datatype.js';
import type { InputTensor } from '../engine/tensor.js';
import type { CacheKeyParts } from './key.js';

const DATATYPE_TAG = CACHE_CODE;

/** Which JS carrier the data came in (relevant when `datatype` is omitted and the model decides). */
function carrierTag(data: unknown): number {
  if (Array.isArray(data)) return 1;
  if (data instanceof Float32Array) return 2;
  if (data instanceof Uint8Array) return 3; // Buffer too
  if (data instanceof Int32Array) return 4;
  if (data instanceof BigInt64Array) return 5;
  if (data instanceof Float64Array) return 6;
  if (data instanceof Uint16Array) return 7;
  if (data instanceof Int8Array) return 8;
  if (data instanceof Int16Array) return 9;
  if (data instanceof Uint32Array) return 10;
  if (data instanceof BigUint64Array) return 11;
  return 0;
}

/** A growable little-endian writer over an 8-aligned scratch buffer, reused across keys. */
export class Writer {
  buf: Buffer = Buffer.allocUnsafeSlow(4096);
  view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  f64(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** u32 byte length + UTF-8 (ASCII fast path). */
  str(s: string): void {
    const n = s.length;
    this.reserve(4 + n);
    const start = this.pos + 4;
    const buf = this.buf;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      buf[start + i] = c;
    }
    let len = n;
    if (i < n) {
      len = Buffer.byteLength(s, 'utf8');
      this.reserve(4 + len);
      this.buf.write(s, this.pos + 4, len, 'utf8');
    }
    this.view.setUint32(this.pos, len, true);
    this.pos += 4 + len;
  }

  bytes(b: Uint8Array): void {
    this.reserve(4 + b.length);
    this.view.setUint32(this.pos, b.length, true);
    this.buf.set(b, this.pos + 4);
    this.pos += 4 + b.length;
  }

  /** Zero-pads to a multiple of 16 (one Murmur block). */
  pad16(): void {
    const target = (this.pos + 15) & ~15;
    this.reserve(target - this.pos);
    this.buf.fill(0, this.pos, target);
    this.pos = target;
  }
}

/** The scratch writer of every key (keys are built one at a time, synchronously). */
export const writer = new Writer();
const NO_OUTPUTS = 0xffffffff;

function byteView(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Writes the canonical header into `writer` (padded to 16 bytes) and returns the numeric inputs' bytes
 * in the same order. BYTES elements go into the header (u32 length + bytes each, strings as UTF-8, so
 * 'a' and Uint8Array [0x61] are the same request, as they are to the engine). Every variable-length
 * field is length-prefixed or counted, so the stream determines the request.
 */
export function writeCanonical(parts: CacheKeyParts): Uint8Array[] {
  const w = writer;
  w.pos = 0;
  w.u32(0x314b4754); // 'TGK1'
  w.str(parts.model);
  w.str(parts.version);
  w.str(parts.contentHash);
  const inputs = parts.inputs;
  const names = Object.keys(inputs);
  if (names.length > 1) names.sort();
  w.u32(names.length);
  const data: Uint8Array[] = [];
  for (const name of names) {
    const t = inputs[name] as InputTensor;
    w.str(name);
    w.u8(t.datatype ? DATATYPE_TAG[t.datatype] ?? 255 : 0);
    w.u8(carrierTag(t.data));
    const shape = t.shape;
    w.u32(shape.length);
    for (let d = 0; d < shape.length; d++) w.f64(shape[d]!);
    const d = t.data;
    if (Array.isArray(d)) {
      w.u32(d.length);
      for (let e = 0; e < d.length; e++) {
        const v = d[e];
        if (typeof v === 'string') w.str(v);
        else w.bytes(v as Uint8Array);
      }
    } else {
      const view = d as ArrayBufferView;
      w.f64(view.byteLength);
      if (view.byteLength > 0) data.push(byteView(view));
    }
  }
  const outputs = parts.outputs;
  if (outputs === undefined) {
    w.u32(NO_OUTPUTS);
  } else {
    const sorted = outputs.length > 1 ? [...outputs].sort() : outputs;
    w.u32(sorted.length);
    for (const o of sorted) w.str(o);
  }
  const params = parts.parameters;
  if (params === undefined) {
    w.u32(0);
  } else {
    const keys = Object.keys(params).sort();
    w.u32(keys.length);
    for (const k of keys) {
      w.str(k);
      w.str(JSON.stringify(params[k]) ?? 'undefined');
    }
  }
  w.pad16();
  return data;
}
