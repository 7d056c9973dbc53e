// Property-based fuzzing of every request decoder (fast-check, fixed seeds): whatever the bytes, the
// JSON, binary and raw forms of the HTTP decoder and the gRPC ModelInferRequest decoder either return
// a request or throw the protocol's own 400 (ProtocolError INVALID_ARGUMENT) — never a TypeError,
// RangeError (stack), or anything that would become a 500; and a decoded request fed to the engine's
// input check fails, if at all, with INVALID_ARGUMENT. Over 100k cases per run, in a few seconds.
// Also pins the JSON bounds scanner against the real nesting depth, and the limits themselves.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TensorgateError } from '../src/engine/errors.js';
import { InputSpec } from '../src/engine/input-check.js';
import { decodeModelInferRequest } from '../src/grpc/infer-codec.js';
import { errorKind, ProtocolError } from '../src/protocol/errors.js';
import { decodeInferRequest, parseInferenceHeaderLength, type DecodeModel } from '../src/protocol/infer-request.js';
import { checkJsonBounds } from '../src/protocol/json-scan.js';
import { describe as describeValue } from '../src/protocol/json-values.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../src/protocol/limits.js';
import { binaryBody, decodeModel, grpcMessage, groupBomb, jsonBody, jsonValue, rawBody, type FuzzBody } from './helpers/fuzz-corpus.js';

/** Small limits, so that the fuzzer reaches them too. */
const LIMITS: DecodeLimits = { maxJsonDepth: 12, maxElements: 64 };

/** Whether `err` is an answer the server gives on purpose (a 4xx), not a crash. */
function isClientError(err: unknown): boolean {
  if (err instanceof ProtocolError) return err.kind === 'INVALID_ARGUMENT';
  if (err instanceof TensorgateError) return errorKind(err) === 'INVALID_ARGUMENT';
  return false;
}

function unexpected(err: unknown): string {
  return err instanceof Error ? `${err.constructor.name}: ${err.message}\n${err.stack}` : String(err);
}

/** Decodes an HTTP body (and runs the engine's input check on the result); returns what escaped, if anything. */
function decodeHttp(model: DecodeModel, { body, headerLength }: FuzzBody, limits: DecodeLimits): string | undefined {
  try {
    const decoded = decodeInferRequest(body, parseInferenceHeaderLength(headerLength), model, limits);
    const spec = new InputSpec(model.inputs.map((t) => ({ ...t, dimNames: t.shape.map(() => null) })));
    for (const name in decoded.inputs) spec.check(name, decoded.inputs[name]!);
    return undefined;
  } catch (err) {
    return isClientError(err) ? undefined : unexpected(err);
  }
}

function decodeGrpc(message: Buffer, limits: DecodeLimits): string | undefined {
  try {
    decodeModelInferRequest(message, limits);
    return undefined;
  } catch (err) {
    return isClientError(err) ? undefined : unexpected(err);
  }
}

const SEED = 20_251_130;

describe('decoder fuzzing (fast-check, seed 20251130)', () => {
  // 40k + 30k + 10k + 30k = 110k decoder cases per run (plus the scanner's own 20k).
  it('JSON bodies: 40,000 fuzzed and mutated requests decode or answer 400', () => {
    fc.assert(
      fc.property(decodeModel, jsonBody, fc.boolean(), (model, body, small) => {
        const escaped = decodeHttp(model, body, small ? LIMITS : DEFAULT_DECODE_LIMITS);
        if (escaped) throw new Error(escaped);
      }),
      { numRuns: 40_000, seed: SEED },
    );
  });

  it('binary bodies: 30,000 headers, tensor bytes and header lengths decode or answer 400', () => {
    fc.assert(
      fc.property(decodeModel, binaryBody, (model, body) => {
        const escaped = decodeHttp(model, body, LIMITS);
        if (escaped) throw new Error(escaped);
      }),
      { numRuns: 30_000, seed: SEED + 1 },
    );
  });

  it('raw bodies: 10,000 byte strings against random single-input models decode or answer 400', () => {
    fc.assert(
      fc.property(decodeModel, rawBody, (model, body) => {
        const escaped = decodeHttp(model, body, LIMITS);
        if (escaped) throw new Error(escaped);
      }),
      { numRuns: 10_000, seed: SEED + 2 },
    );
  });

  it('gRPC: 30,000 ModelInferRequest messages, mutated, decode or answer INVALID_ARGUMENT', () => {
    fc.assert(
      fc.property(grpcMessage(fc.constantFrom('m', '')), fc.boolean(), (message, small) => {
        const escaped = decodeGrpc(message, small ? LIMITS : DEFAULT_DECODE_LIMITS);
        if (escaped) throw new Error(escaped);
      }),
      { numRuns: 30_000, seed: SEED + 3 },
    );
  });

  it('the JSON bounds scanner agrees with the real nesting depth, strings and escapes included', () => {
    const depthOf = (v: unknown): number => (Array.isArray(v) ? 1 + Math.max(0, ...v.map(depthOf)) : v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);
    const tricky = fc.oneof(jsonValue, fc.string().map((s) => ({ s: `${s}\\"[{` })), fc.constant(['"[', { '}': '\\\\' }]));
    fc.assert(
      fc.property(tricky, fc.integer({ min: 1, max: 6 }), (value, max) => {
        const bytes = Buffer.from(JSON.stringify(value));
        const limits = { maxJsonDepth: max, maxElements: 1 << 20 };
        let threw = false;
        try {
          checkJsonBounds(bytes, 0, bytes.length, limits);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
          threw = true;
        }
        expect(threw).toBe(depthOf(value) > max);
      }),
      { numRuns: 20_000, seed: SEED + 4 },
    );
  });
});

describe('the findings the fuzzer pins (each was a 500 or a stalled event loop)', () => {
  const model: DecodeModel = { inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 3] }] };

  it('deep nesting is a 400 naming the limit, before JSON.parse spends seconds on it', () => {
    const deep = Buffer.from(`{"inputs": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`);
    expect(() => decodeInferRequest(deep, undefined, model)).toThrow(/nested deeper than 64 levels/);
    // Where the old code crashed: an input that is a deeply nested array, described in the message.
    const nestedInput = Buffer.from(`{"inputs": [${'['.repeat(50)}${']'.repeat(50)}]}`);
    expect(() => decodeInferRequest(nestedInput, undefined, model)).toThrow(ProtocolError);
    // The error renderer never throws, whatever it is asked to render.
    let v: unknown = [];
    for (let i = 0; i < 100_000; i++) v = [v];
    expect(describeValue(v)).toBe('an array');
  });

  it('--max-json-depth is the bound: exactly the limit parses, one more level is refused', () => {
    const limits = { maxJsonDepth: 6, maxElements: 1000 };
    // {"inputs":[{"data":[[[..]]]}]}: object, inputs array, input object, then the data's levels.
    const body = (levels: number) => Buffer.from(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1,1,1],"data":${'['.repeat(levels)}1${']'.repeat(levels)}}]}`);
    expect(() => decodeInferRequest(body(3), undefined, model, limits)).not.toThrow();
    expect(() => decodeInferRequest(body(4), undefined, model, limits)).toThrow(/nested deeper than 6 levels/);
  });

  it('--max-request-elements bounds JSON, binary, raw and gRPC requests, before their data is built', () => {
    const limits = { maxJsonDepth: 64, maxElements: 6 };
    const json = (n: number) => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [n / 3, 3], data: new Array(n).fill(0) }] }));
    expect(() => decodeInferRequest(json(6), undefined, model, limits)).not.toThrow();
    expect(() => decodeInferRequest(json(9), undefined, model, limits)).toThrow(/more than 6 elements/);
    // Two inputs count together.
    const two = { inputs: [{ name: 'a', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }, { name: 'b', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }] };
    expect(() => decodeInferRequest(Buffer.from(JSON.stringify(two)), undefined, model, limits)).toThrow(/input 'b': the request carries more than 6 elements/);
    // A JSON body with far more values than the limit is refused by the scanner, before JSON.parse builds them.
    const flood = Buffer.from(`{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[${new Array(10_000).fill(0).join(',')}]}]}`);
    expect(() => decodeInferRequest(flood, undefined, model, limits)).toThrow(/holds more than 6 values/);
    // Raw: 9 FP32 elements.
    expect(() => decodeInferRequest(Buffer.alloc(36), 0, model, limits)).toThrow(/more than 6 elements/);
    // gRPC: 9 FP32 contents for a shape of 9.
    expect(() => decodeModelInferRequest(grpcMessageOf(6), limits)).not.toThrow();
    expect(() => decodeModelInferRequest(grpcMessageOf(9), limits)).toThrow(/more than 6 elements/);
  });

  it('BYTES binary data: a shape claiming 2^40 elements fails on the data, without allocating for the shape', () => {
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 's', datatype: 'BYTES', shape: [2 ** 40], parameters: { binary_data_size: 8 } }] }));
    const body = Buffer.concat([header, Buffer.from([1, 0, 0, 0, 0x61, 0, 0, 0])]);
    const bytesModel: DecodeModel = { inputs: [{ name: 's', datatype: 'BYTES', shape: [-1] }] };
    const before = process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed;
    expect(() => decodeInferRequest(body, header.length, bytesModel)).toThrow(/binary size mismatch: input 's' has 1 BYTES elements in its binary_data_size 8, its shape needs 1099511627776/);
    // An array sized from the shape would be terabytes; the decoder's is sized from the bytes (<= 2 here).
    expect(process.memoryUsage().arrayBuffers + process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('nested protobuf groups are malformed past depth 100 instead of overflowing the stack', () => {
    expect(() => decodeModelInferRequest(groupBomb(100))).not.toThrow();
    expect(() => decodeModelInferRequest(groupBomb(101))).toThrow(/groups nested deeper than 100/);
    expect(() => decodeModelInferRequest(groupBomb(1_000_000))).toThrow(ProtocolError);
  });
});

/** A ModelInferRequest with one FP32 input of shape [count] and `count` packed fp32_contents (hand-encoded). */
function grpcMessageOf(count: number): Buffer {
  const name = Buffer.from([0x0a, 1, 0x78]); // name "x"
  const datatype = Buffer.concat([Buffer.from([0x12, 4]), Buffer.from('FP32')]);
  const shape = Buffer.from([0x18, count]); // shape (unpacked varint)
  const floats = Buffer.alloc(4 * count);
  const contents = Buffer.concat([Buffer.from([0x32, floats.length]), floats]); // fp32_contents, packed
  const input = Buffer.concat([name, datatype, shape, Buffer.from([0x2a, contents.length]), contents]);
  return Buffer.concat([Buffer.from([0x0a, 1, 0x6d]), Buffer.from([0x2a, input.length]), input]);
}
