// MurmurHash3 x86_128 in pure JS, streamed over parts, with four xxHash32-style check lanes in the same
// pass (see key.ts for why, and for the measurements behind the choice).

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
export const hex32 = (v: number): string => HEX[(v >>> 24) & 255]! + HEX[(v >>> 16) & 255]! + HEX[(v >>> 8) & 255]! + HEX[v & 255]!;

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
