// The reply tier of the local level: whole encoded responses keyed on the request's wire bytes. A
// repeated request (same model version, same body, same binary layout) is answered without decoding
// JSON, hashing tensors or encoding a response: on a small model over HTTP those cost more than the
// lookup itself. Requests that differ only in formatting miss here and still hit the tensor-keyed
// levels. The `id` and every parameter are inside the body, so a reply can never answer a request it
// does not match byte for byte (the 64-bit check and the length are compared too).
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { KeyHash } from './key.js';
import { murmurParts } from './murmur3.js';

export interface ReplyKeyParts {
  model: string;
  version: string;
  /** Identifies the exact model bytes + config (ServedVersion.contentHash). */
  contentHash: string;
  /** The Inference-Header-Content-Length value (it changes how the body reads), or undefined. */
  headerLength: string | undefined;
  body: Uint8Array;
}

/** An encoded reply, as a front sends it: its headers (none over gRPC) and its body, in chunks. */
export interface EncodedReply {
  headers: Record<string, string>;
  body: Buffer[];
}

export type CachedReply = EncodedReply;

export interface ReplyKey {
  readonly id: string;
  readonly check0: number;
  readonly check1: number;
  readonly length: number;
}

interface Entry {
  reply: CachedReply;
  check0: number;
  check1: number;
  length: number;
}

const encoder = new TextEncoder();
const ENTRY_OVERHEAD = 256;

export class ReplyTier {
  readonly #lru: LRUCache<string, Entry>;
  readonly #hash: KeyHash;

  /** `hash` is the cache-wide key hash (--cache ...,hash=): sha256 where clients could forge Murmur collisions. */
  constructor(sizeBytes: number, hash: KeyHash = 'murmur3') {
    this.#lru = new LRUCache<string, Entry>({ maxSize: Math.max(1, Math.floor(sizeBytes)) });
    this.#hash = hash;
  }

  key(parts: ReplyKeyParts): ReplyKey {
    const head = encoder.encode(`reply\0${parts.model}\0${parts.version}\0${parts.contentHash}\0${parts.headerLength ?? ''}\0`);
    if (this.#hash === 'sha256') {
      // The digest is the identity; no check words are needed (0, 0, as the tensor tier's sha256 keys).
      const id = createHash('sha256').update(head).update(parts.body).digest('hex');
      return { id, check0: 0, check1: 0, length: head.length + parts.body.length };
    }
    const { h, check, length } = murmurParts([head, parts.body]);
    const id = h.map((v) => v.toString(16).padStart(8, '0')).join('');
    return { id, check0: check[0], check1: check[1], length };
  }

  get(key: ReplyKey): CachedReply | undefined {
    const e = this.#lru.get(key.id);
    if (e === undefined || e.check0 !== key.check0 || e.check1 !== key.check1 || e.length !== key.length) return undefined;
    return e.reply;
  }

  set(key: ReplyKey, reply: CachedReply, ttlSeconds: number | undefined): void {
    let size = ENTRY_OVERHEAD;
    for (const chunk of reply.body) size += chunk.length;
    if (size > this.#lru.maxSize) return;
    // One compact copy: the encoded chunks may be views of engine output buffers holding whole batches.
    const body = Buffer.concat(reply.body);
    const entry: Entry = { reply: { headers: reply.headers, body: [body] }, check0: key.check0, check1: key.check1, length: key.length };
    this.#lru.set(key.id, entry, { size, ...(ttlSeconds !== undefined && ttlSeconds > 0 ? { ttl: ttlSeconds * 1000 } : {}) });
  }

  clear(): void {
    this.#lru.clear();
  }
}
