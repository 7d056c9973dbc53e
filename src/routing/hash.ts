// Hashing for sticky routing: a key (a header value, a parameter, an input tensor's bytes) becomes two
// independent 32-bit hashes, and each target mixes them with its own seeds into a uniform number in
// (0, 1). No allocation: strings are read by char code, tensors by byte view. Seeds come from the
// target's id, so every replica and every restart hash the same key the same way.
//
// Hashes are returned as int32 (`| 0`), not uint32: V8 keeps int32 values unboxed, while a uint32
// above 2^31 returned from a function is a heap number, an allocation per call.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** MurmurHash3's finaliser: every input bit flips about half the output bits (int32 result). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

function mix(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3-style 32-bit hash of a string's UTF-16 code units. */
export function hashString(text: string, seed: number): number {
  let h = seed | 0;
  const n = text.length;
  let i = 0;
  for (; i + 1 < n; i += 2) h = mix(h, text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16));
  if (i < n) h = mix(h, text.charCodeAt(i));
  return fmix32(h ^ n);
}

/** MurmurHash3-style 32-bit hash of bytes, continuing from `h` (0 to start). */
export function hashBytes(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const n = bytes.length;
  let i = 0;
  for (; i + 3 < n; i += 4) h = mix(h, bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  let k = 0;
  for (let s = 0; i < n; i++, s += 8) k |= bytes[i]! << s;
  if (n & 3) h = mix(h, k);
  return fmix32(h ^ n);
}

export const KEY_SEED_A = 0x9e3779b9;
export const KEY_SEED_B = 0x7f4a7c15;

/** The per-target seeds of a target id: fixed by the id alone (int32). */
export function targetSeeds(id: string): [number, number] {
  return [hashString(id, 0x5bd1e995), hashString(id, 0x27d4eb2f)];
}

const TWO_POW_53 = 2 ** 53;

/**
 * -ln(u) for u uniform in (0, 1), drawn for one target (its seeds) and one key (its two hashes) with
 * 53 bits: the exponential variate weighted rendezvous divides each weight by.
 */
export function keyExponential(keyA: number, keyB: number, seedA: number, seedB: number): number {
  const hi = fmix32(keyA ^ seedA) >>> 11; // 21 bits
  const lo = fmix32(keyB ^ seedB) >>> 0; // 32 bits
  return -Math.log((hi * 4294967296 + lo + 0.5) / TWO_POW_53);
}
