// Cache keys: the hash against reference vectors, and what changes (or does not change) a key.
import { describe, expect, it } from 'vitest';
import { makeKey, murmurParts, type CacheKeyParts, type KeyHash } from '../src/cache/key.js';
import type { InferInputs } from '../src/engine/index.js';

const le = (h: readonly number[]): string => Buffer.from(new Uint32Array(h).buffer).toString('hex');

function base(): CacheKeyParts {
  return {
    model: 'resnet',
    version: '1',
    contentHash: 'a'.repeat(64),
    inputs: {
      image: { datatype: 'FP32', shape: [1, 4], data: Float32Array.of(1, 2, 3, 4) },
      mask: { datatype: 'INT64', shape: [2], data: BigInt64Array.of(1n, 0n) },
    },
    outputs: ['probs', 'logits'],
  };
}

describe('murmur3 x86_128 (pure JS)', () => {
  // Reference vectors from the C implementation (Python mmh3.hash_bytes(data, 0, x64arch=False)); a
  // part whose length is not a multiple of 16 is hashed as if zero-padded to one.
  const seq = (n: number, f: (i: number) => number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => f(i) & 255);
  it('matches the reference for aligned, unaligned and multi-part input', () => {
    expect(le(murmurParts([new Uint8Array(0)]).h)).toBe('00000000000000000000000000000000');
    expect(le(murmurParts([new Uint8Array(16).fill(0x61)]).h)).toBe('684accc2e06171c7a111b44826d78747');
    expect(le(murmurParts([seq(32, (i) => i)]).h)).toBe('fd6ab1d6805779a47575bdb7ce89df97');
    expect(le(murmurParts([seq(1024, (i) => i)]).h)).toBe('3670dc8cf26c900dc8a1a7aeb7224338');
    const a = seq(100, (i) => i * 7 + 3);
    const b = seq(70001, (i) => i * 13 + 1);
    expect(le(murmurParts([a]).h)).toBe('5b69a251bf7d29456a17917bfe494c67');
    expect(le(murmurParts([b]).h)).toBe('3c5bd7de9f89c821f9dcb87a35729022');
    expect(le(murmurParts([a, b]).h)).toBe('75e95a0f4017f1c7ad39359c23f3160f');
    // The same bytes at odd offsets (copied through the aligned scratch) hash the same.
    for (const shift of [1, 2, 3]) {
      const backing = new Uint8Array(b.length + shift);
      backing.set(b, shift);
      const odd = backing.subarray(shift);
      expect(le(murmurParts([a, odd]).h)).toBe('75e95a0f4017f1c7ad39359c23f3160f');
      expect(murmurParts([a, odd]).check).toEqual(murmurParts([a, b]).check);
    }
  });

  it('has a check independent of the 128-bit hash', () => {
    const x = murmurParts([Uint8Array.of(1)]);
    const y = murmurParts([Uint8Array.of(2)]);
    expect(x.check).not.toEqual(y.check);
    expect(x.length).toBe(16);
  });
});

describe.each<KeyHash>(['murmur3', 'sha256'])('cache keys (%s)', (hash) => {
  const key = (p: CacheKeyParts) => makeKey(p, hash);
  const id = (p: CacheKeyParts) => key(p).id;

  it('is 128 bits or more, deterministic, and hex', () => {
    const k = key(base());
    expect(k.id).toMatch(hash === 'sha256' ? /^[0-9a-f]{64}$/ : /^[0-9a-f]{32}$/);
    expect(key(base()).id).toBe(k.id);
    expect(k.model).toBe('resnet');
  });

  it('changes with every part of the request', () => {
    const ref = id(base());
    const variants: Array<[string, (p: CacheKeyParts) => void]> = [
      ['model', (p) => (p.model = 'resnet2')],
      ['version', (p) => (p.version = '2')],
      ['contentHash', (p) => (p.contentHash = 'b' + 'a'.repeat(63))],
      ['input bytes', (p) => ((p.inputs.image!.data as Float32Array)[3] = 4.0000005)],
      ['shape', (p) => ((p.inputs as unknown as Record<string, { shape: number[] }>).image!.shape = [4, 1])],
      ['rank', (p) => ((p.inputs as unknown as Record<string, { shape: number[] }>).image!.shape = [1, 1, 4])],
      ['datatype', (p) => ((p.inputs as InferInputs & Record<string, unknown>).image = { datatype: 'INT32', shape: [1, 4], data: new Int32Array(Float32Array.of(1, 2, 3, 4).buffer) })],
      ['datatype omitted', (p) => delete (p.inputs.image as { datatype?: string }).datatype],
      ['input name', (p) => {
        const { image, mask } = p.inputs;
        p.inputs = { image2: image!, mask: mask! };
      }],
      ['extra input', (p) => (p.inputs = { ...p.inputs, extra: { datatype: 'BOOL', shape: [1], data: Uint8Array.of(1) } })],
      ['outputs', (p) => (p.outputs = ['probs'])],
      ['all outputs', (p) => delete p.outputs],
      ['no outputs', (p) => (p.outputs = [])],
      ['parameters', (p) => (p.parameters = { temperature: 0.5 })],
    ];
    const seen = new Set([ref]);
    for (const [what, change] of variants) {
      const p = structuredCloneParts(base());
      change(p);
      const k = id(p);
      expect(k, what).not.toBe(ref);
      expect(seen.has(k), `${what} collides with another variant`).toBe(false);
      seen.add(k);
    }
  });

  it('is the same for the same request in another order (inputs, outputs, parameters)', () => {
    const a = base();
    a.parameters = { top_k: 5, mode: 'fast' };
    const b: CacheKeyParts = {
      parameters: { mode: 'fast', top_k: 5 },
      outputs: ['logits', 'probs'],
      inputs: { mask: { datatype: 'INT64', shape: [2], data: BigInt64Array.of(1n, 0n) }, image: { shape: [1, 4], datatype: 'FP32', data: Float32Array.of(1, 2, 3, 4) } },
      contentHash: 'a'.repeat(64),
      version: '1',
      model: 'resnet',
    };
    expect(id(b)).toBe(id(a));
    // The same bytes in a different backing buffer / offset.
    const backing = new Float32Array(10);
    backing.set([1, 2, 3, 4], 5);
    const c = base();
    (c.inputs as Record<string, unknown>).image = { datatype: 'FP32', shape: [1, 4], data: backing.subarray(5, 9) };
    expect(id(c)).toBe(id(base()));
  });

  it('covers BYTES inputs element by element (strings as UTF-8)', () => {
    const bytes = (data: Array<string | Uint8Array>, shape = [data.length]): CacheKeyParts => ({
      model: 'm',
      version: '1',
      contentHash: 'h',
      inputs: { text: { datatype: 'BYTES', shape, data } },
    });
    expect(id(bytes(['ab', 'c']))).not.toBe(id(bytes(['a', 'bc'])));
    expect(id(bytes(['ab', 'c']))).not.toBe(id(bytes(['abc'])));
    expect(id(bytes(['é']))).toBe(id(bytes([Buffer.from('é')])));
    expect(id(bytes(['x'], [1]))).not.toBe(id(bytes(['x'], [1, 1])));
  });

  it('hashes large and unaligned inputs (a Uint8Array at an odd offset)', () => {
    const raw = new Uint8Array(200_001).map((_, i) => (i * 31) & 255);
    const parts = (data: Uint8Array): CacheKeyParts => ({ model: 'm', version: '1', contentHash: 'h', inputs: { x: { datatype: 'UINT8', shape: [data.length], data } } });
    const odd = new Uint8Array(raw.length + 1);
    odd.set(raw, 1);
    expect(id(parts(odd.subarray(1)))).toBe(id(parts(raw)));
    const changed = raw.slice();
    changed[199_999]! ^= 1;
    expect(id(parts(changed))).not.toBe(id(parts(raw)));
  });
});

/** A deep copy of key parts that keeps typed arrays typed. */
function structuredCloneParts(p: CacheKeyParts): CacheKeyParts {
  return structuredClone(p) as CacheKeyParts;
}
