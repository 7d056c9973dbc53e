// Response-cache keys: one pass over a canonical byte stream of the request (model, version, content
// hash, every input's name, datatype, shape and bytes in sorted-name order, the requested outputs and
// parameters), hashed with MurmurHash3 x86_128 in pure JS (the fastest 128-bit option measured on the
// target machines: see the numbers below) or, on request, SHA-256.
//
// Measured on this project's x86-64 dev machine (2-core Xeon with SHA-NI, Node 20.20, tsc output, best
// of 7 rounds), µs per key; "raw" rows hash a 160-byte header and the data, without building a key:
//                                                 1 KiB input   64 KiB input
//   murmur3_x86_128 + check lanes, pure JS (here)      0.93-1.02     18-19   (~3.5 GB/s)
//   sha256 key (here; crypto.hash one-shot <=16 KiB)   1.29-1.32     34-36
//   raw createHash('sha256'), update per part          1.83          36.4
//   raw crypto.hash('sha256') one-shot, data only      1.27          35.6
//   raw createHash('sha1')                             1.91          31.9    (160-bit, broken: not used)
//   raw createHash('md5')                              2.72          81.2
// (Earlier rounds: blake2b512 2.7 / 67, sha512 3.4 / 91, sha3-256 3.7 / 130.) A call into OpenSSL costs
// ~1 µs, so a JS hash wins on small inputs, and with 8 independent 32-bit lanes per 16-byte block V8
// outruns SHA-NI on large ones. An L1 hit (key + lookup) costs ~1.4 µs at 1 KiB, ~19 µs at 64 KiB.
//
// Collisions. Murmur3 is not collision resistant, so the same pass also runs 4 xxHash32-style lanes
// (different multipliers, rotations and structure from Murmur's), folded to a 64-bit check that is
// stored in the cached value with the stream's length; a hit whose check or length differs is treated
// as a miss (and counted as a 'collision' error). Accidental collisions then need 128 + 64 bits to
// agree: negligible. This does NOT make forged collisions infeasible for someone who studies both
// functions; where clients are untrusted and could poison each other's results, use keyHash 'sha256'
// (+0.3 µs per 1 KiB request, +17 µs per 64 KiB; no check needed: SHA-256 collisions are infeasible).
import { createHash, hash as oneShotHash } from 'node:crypto';
import { CACHE_CODE } from '../engine/datatype.js';
import type { InferInputs, InputTensor } from '../engine/tensor.js';

export type KeyHash = 'murmur3' | 'sha256';

export interface CacheKeyParts {
  model: string;
  version: string;
  /** Identifies the exact model bytes + config (ServedVersion.contentHash). */
  contentHash: string;
  inputs: InferInputs;
  /** The requested outputs; undefined (all outputs) and [] are different keys. */
  outputs?: readonly string[];
  /** Any request parameter that changes the result; values are hashed as their JSON text. */
  parameters?: Readonly<Record<string, unknown>>;
}

/**
 * An opaque cache key: make it with ResponseCache.key(). Holds the hash (`id`, hex), the model (the
 * Redis key names it, so that an operator can find a model's entries) and what a hit is checked against.
 */
export class CacheKey {
  /** @internal */
  constructor(
    /** Hex digest: 32 characters (murmur3) or 64 (sha256). */
    readonly id: string,
    readonly model: string,
    /** Independent 64-bit check as two uint32 (0, 0 with sha256) and the hashed stream's length. */
    readonly check0: number,
    readonly check1: number,
    readonly length: number,
  ) {}

  toString(): string {
    return this.id;
  }
}

// ---- canonical header ------------------------------------------------------------------------------

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
class Writer {
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

const writer = new Writer();
const ONE_SHOT_MAX = 16 * 1024;
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
function writeCanonical(parts: CacheKeyParts): Uint8Array[] {
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

// ---- murmur3 x86_128 + check lanes ---------------------------------------------------------------

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;
const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;

/**
 * Streaming state. The stream is the concatenation of its parts, each zero-padded to 16 bytes (the
 * header records every part's length, so the padding is unambiguous); Murmur's own tail step is never
 * needed. State lives in one Int32Array: [h1, h2, h3, h4, v1, v2, v3, v4].
 */
const state = new Int32Array(8);
const TAIL = new Int32Array(4);
const TAIL_BYTES = new Uint8Array(TAIL.buffer);
const CHUNK_WORDS = 16384; // 64 KiB scratch for unaligned parts
const CHUNK = new Int32Array(CHUNK_WORDS);
const CHUNK_BYTES = new Uint8Array(CHUNK.buffer);

/** Mixes `n` words (a multiple of 4) of `w` from word `start`. */
function blocks(w: Int32Array, start: number, n: number): void {
  // Local copies: a bundler that turns module constants into `var`s would otherwise make every use in
  // the loop a context load (measured: 2x slower).
  const c1 = C1;
  const c2 = C2;
  const c3 = C3;
  const c4 = C4;
  const p1 = P1;
  const p2 = P2;
  let h1 = state[0]!;
  let h2 = state[1]!;
  let h3 = state[2]!;
  let h4 = state[3]!;
  let v1 = state[4]!;
  let v2 = state[5]!;
  let v3 = state[6]!;
  let v4 = state[7]!;
  const end = start + n;
  for (let b = start; b < end; b += 4) {
    let k1 = w[b]! | 0;
    let k2 = w[b + 1]! | 0;
    let k3 = w[b + 2]! | 0;
    let k4 = w[b + 3]! | 0;

    v1 = (v1 + Math.imul(k1, p2)) | 0;
    v1 = Math.imul((v1 << 13) | (v1 >>> 19), p1);
    v2 = (v2 + Math.imul(k2, p2)) | 0;
    v2 = Math.imul((v2 << 13) | (v2 >>> 19), p1);
    v3 = (v3 + Math.imul(k3, p2)) | 0;
    v3 = Math.imul((v3 << 13) | (v3 >>> 19), p1);
    v4 = (v4 + Math.imul(k4, p2)) | 0;
    v4 = Math.imul((v4 << 13) | (v4 >>> 19), p1);

    k1 = Math.imul(k1, c1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, c2);
    h1 = (h1 << 19) | (h1 >>> 13);
    h1 = (h1 + h2) | 0;
    h1 = (Math.imul(h1, 5) + 0x561ccd1b) | 0;

    k2 = Math.imul(k2, c2);
    k2 = (k2 << 16) | (k2 >>> 16);
    h2 ^= Math.imul(k2, c3);
    h2 = (h2 << 17) | (h2 >>> 15);
    h2 = (h2 + h3) | 0;
    h2 = (Math.imul(h2, 5) + 0x0bcaa747) | 0;

    k3 = Math.imul(k3, c3);
    k3 = (k3 << 17) | (k3 >>> 15);
    h3 ^= Math.imul(k3, c4);
    h3 = (h3 << 15) | (h3 >>> 17);
    h3 = (h3 + h4) | 0;
    h3 = (Math.imul(h3, 5) + 0x96cd1c35) | 0;

    k4 = Math.imul(k4, c4);
    k4 = (k4 << 18) | (k4 >>> 14);
    h4 ^= Math.imul(k4, c1);
    h4 = (h4 << 13) | (h4 >>> 19);
    h4 = (h4 + h1) | 0;
    h4 = (Math.imul(h4, 5) + 0x32ac3b17) | 0;
  }
  state[0] = h1;
  state[1] = h2;
  state[2] = h3;
  state[3] = h4;
  state[4] = v1;
  state[5] = v2;
  state[6] = v3;
  state[7] = v4;
}

/** Feeds one part, zero-padded to 16 bytes; returns the padded length. */
function feed(part: Uint8Array): number {
  const len = part.length;
  const full = len & ~15;
  let off = part.byteOffset;
  if ((off & 3) === 0) {
    if (full > 0) blocks(new Int32Array(part.buffer, off, full >>> 2), 0, full >>> 2);
  } else {
    // Unaligned (a Uint8Array/Int16 input at an odd offset): copy through an aligned scratch.
    for (let done = 0; done < full; ) {
      const n = Math.min(full - done, CHUNK_WORDS * 4);
      CHUNK_BYTES.set(part.subarray(done, done + n));
      blocks(CHUNK, 0, n >>> 2);
      done += n;
    }
  }
  const rest = len - full;
  if (rest > 0) {
    TAIL.fill(0);
    TAIL_BYTES.set(part.subarray(full));
    blocks(TAIL, 0, 4);
    off = 16;
  } else {
    off = 0;
  }
  return full + off;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const rotl = (v: number, r: number): number => (v << r) | (v >>> (32 - r));

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));
const hex32 = (v: number): string => HEX[(v >>> 24) & 255]! + HEX[(v >>> 16) & 255]! + HEX[(v >>> 8) & 255]! + HEX[v & 255]!;

/**
 * Murmur3 x86_128 of the parts (each zero-padded to 16 bytes) and the 64-bit check. Exported for
 * tests; `seed` 0 is what keys use.
 */
export function murmurParts(parts: readonly Uint8Array[], seed = 0): { h: [number, number, number, number]; check: [number, number]; length: number } {
  state[0] = state[1] = state[2] = state[3] = seed;
  state[4] = (seed + P1 + P2) | 0;
  state[5] = (seed + P2) | 0;
  state[6] = seed;
  state[7] = (seed - P1) | 0;
  let total = 0;
  for (const p of parts) total += feed(p);
  let h1 = state[0]! ^ total;
  let h2 = state[1]! ^ total;
  let h3 = state[2]! ^ total;
  let h4 = state[3]! ^ total;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  // Check: xxHash32's lane merge and avalanche, twice with different rotations and a length mix.
  const v1 = state[4]!;
  const v2 = state[5]!;
  const v3 = state[6]!;
  const v4 = state[7]!;
  const avalanche = (x: number): number => {
    x ^= x >>> 15;
    x = Math.imul(x, P2);
    x ^= x >>> 13;
    x = Math.imul(x, P3);
    return x ^ (x >>> 16);
  };
  const c0 = avalanche((rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18) + total) | 0);
  const c1 = avalanche(((rotl(v1, 18) ^ rotl(v2, 12) ^ rotl(v3, 7) ^ rotl(v4, 1)) + Math.imul(total, P3) + c0) | 0);
  return { h: [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0], check: [c0 >>> 0, c1 >>> 0], length: total };
}

/** Builds the key for a request. */
export function makeKey(parts: CacheKeyParts, hash: KeyHash = 'murmur3'): CacheKey {
  const data = writeCanonical(parts);
  const header = writer.buf.subarray(0, writer.pos);
  if (hash === 'sha256') {
    let length = header.length;
    for (const d of data) length += d.length;
    if (length <= ONE_SHOT_MAX) {
      // Small requests: one crypto.hash() call over a copy beats a Hash object (~0.5 µs saved).
      let at = writer.pos;
      writer.reserve(length - at);
      for (const d of data) {
        writer.buf.set(d, at);
        at += d.length;
      }
      return new CacheKey(oneShotHash('sha256', writer.buf.subarray(0, length), 'hex'), parts.model, 0, 0, length);
    }
    const h = createHash('sha256').update(header);
    for (const d of data) h.update(d);
    return new CacheKey(h.digest('hex'), parts.model, 0, 0, length);
  }
  const r = murmurParts(data.length === 0 ? [header] : [header, ...data]);
  return new CacheKey(hex32(r.h[0]) + hex32(r.h[1]) + hex32(r.h[2]) + hex32(r.h[3]), parts.model, r.check[0], r.check[1], r.length);
}
