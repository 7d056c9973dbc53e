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
import type { InferInputs } from '../engine/tensor.js';
import { writeCanonical, writer } from './canonical.js';
import { hex32, murmurParts } from './murmur3.js';

/** Up to this many bytes, SHA-256 keys hash one copy with crypto.hash() (~0.5 µs cheaper than a Hash object). */
const ONE_SHOT_MAX = 16 * 1024;

export { murmurParts };

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
