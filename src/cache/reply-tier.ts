// The reply tier of the local level: whole encoded responses keyed on the request's wire bytes. A
// repeated request (same model version, same body, same binary layout) is answered without decoding
// JSON, hashing tensors or encoding a response: on a small model over HTTP those cost more than the
// lookup itself. Requests that differ only in formatting miss here and still hit the tensor-keyed
// levels. The `id` and every parameter are inside the body, so a reply can never answer a request it
// does not match byte for byte (the 64-bit check and the length are compared too).
import { LRUCache } from 'lru-cache';
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

  constructor(sizeBytes: number) {
    this.#lru = new LRUCache<string, Entry>({ maxSize: Math.max(1, Math.floor(sizeBytes)) });
  }

  key(parts: ReplyKeyParts): ReplyKey {
    const head = encoder.encode(`reply\0${parts.model}\0${parts.version}\0${parts.contentHash}\0${parts.headerLength ?? ''}\0`);
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
