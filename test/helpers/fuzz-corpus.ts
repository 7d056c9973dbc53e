// Hostile inputs for the decoders and the live servers, as fast-check arbitraries: v2 requests whose
// every field may be wrong (types, shapes, sizes, nesting), the bodies they make in the JSON, binary
// and raw forms, ModelInferRequest messages, and byte-level mutations of all of them (flips,
// truncations, insertions, bracket and brace runs, splices). Used by test/protocol-fuzz.test.ts (in
// process, 100k+ cases) and scripts/fuzz-live.ts (against a running server).
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { join } from 'node:path';
import { DATATYPES, type DataType } from '../../src/engine/datatype.js';
import type { DecodeModel } from '../../src/protocol/infer-request.js';

const PROTO_DIR = join(import.meta.dirname, '..', '..', 'proto');
const root = new protobuf.Root().loadSync(join(PROTO_DIR, 'grpc_service.proto'), { keepCase: true });
const RequestType = root.lookupType('inference.ModelInferRequest');

// ---------------------------------------------------------------------------------------------
// Values

/**
 * A placeholder for an array nested `n` deep, spliced into the JSON text after JSON.stringify (which
 * itself overflows the stack on such values): see toJson().
 */
const deepArray = fc.integer({ min: 1000, max: 20_000 }).map((n) => `\u0000deep${n}\u0000`);

/** JSON text of a fuzzed value, with every deepArray placeholder spliced in as real nesting. */
export function toJson(value: unknown): string {
  return JSON.stringify(value).replace(/"\\u0000deep(\d+)\\u0000"/g, (_, n: string) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));
}

/** Any JSON value, a few levels deep, with the awkward ones weighted in. */
export const jsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    deepArray,
    fc.constantFrom(null, true, false, 0, -0, 1, -1, 2 ** 53, -(2 ** 53), 2 ** 64, 1e308, -1e308, 0.5, '', '0', '18446744073709551616', '__proto__', 'constructor'),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.string({ maxLength: 8 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom('name', 'datatype', 'shape', 'data', 'parameters', '__proto__', 'x', ''), tie('value'), { maxKeys: 3 }),
  ),
})).value;

const datatype = fc.oneof(fc.constantFrom<string>(...DATATYPES), fc.constantFrom('BF16', 'FLOAT', 'fp32', '', 'TYPE_FP32'));
const dim = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 4 }) }, fc.constantFrom(-1, 2 ** 31, 2 ** 53, 1e20, 1.5, 0), fc.constant('3' as unknown as number));
const shape = fc.oneof({ weight: 5, arbitrary: fc.array(dim, { maxLength: 4 }) }, fc.constant('[1]' as unknown as number[]), fc.array(fc.constant(1), { minLength: 70, maxLength: 200 }));

/** A flat or nested `data` array for a shape, usually of the right count, of plausible or wrong values. */
function dataFor(shapeValue: unknown): fc.Arbitrary<unknown> {
  const dims = Array.isArray(shapeValue) && shapeValue.every((d) => Number.isSafeInteger(d) && d >= 0 && d <= 4) ? (shapeValue as number[]) : undefined;
  const count = dims ? dims.reduce((a, b) => a * b, 1) : 2;
  const element = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: -300, max: 300 }) }, fc.double({ noNaN: true }), fc.boolean(), fc.string({ maxLength: 4 }), fc.constant(null), jsonValue);
  const flat = fc.array(element, { minLength: count, maxLength: count });
  return fc.oneof(
    { weight: 5, arbitrary: flat },
    fc.array(element, { maxLength: 8 }),
    flat.map((values) => nest(values, dims ?? [values.length])),
    jsonValue,
  );
}

function nest(values: unknown[], dims: number[]): unknown {
  if (dims.length <= 1) return values;
  const inner = dims.slice(1).reduce((a, b) => a * b, 1);
  if (inner === 0) return values;
  const out: unknown[] = [];
  for (let i = 0; i < values.length; i += inner) out.push(nest(values.slice(i, i + inner), dims.slice(1)));
  return out;
}

/** One entry of `inputs`: mostly well-formed, any field may be missing or wrong. */
const input: fc.Arbitrary<Record<string, unknown>> = fc
  .record({ name: fc.oneof(fc.constantFrom('x', 'y', 'a', '__proto__', ''), fc.string({ maxLength: 4 })), datatype, shape, binary: fc.boolean(), size: fc.integer({ min: 0, max: 64 }) })
  .chain(({ name, datatype: dt, shape: s, binary, size }) =>
    binary
      ? fc.constant<Record<string, unknown>>({ name, datatype: dt, shape: s, parameters: { binary_data_size: size } })
      : dataFor(s).map((data): Record<string, unknown> => ({ name, datatype: dt, shape: s, data })),
  )
  .chain((r) => fc.oneof({ weight: 4, arbitrary: fc.constant(r) }, fc.subarray(Object.keys(r)).map((keys) => Object.fromEntries(keys.map((k) => [k, r[k]])))));

/** A v2 inference request object, mostly well-formed, with wrong fields mixed in. */
export const inferRequest: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    id: fc.oneof(fc.string({ maxLength: 6 }), jsonValue),
    parameters: fc.oneof(
      fc.record({ priority: fc.oneof(fc.integer({ min: -1, max: 3 }), jsonValue), timeout: fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), jsonValue), binary_data_output: fc.oneof(fc.boolean(), jsonValue) }, { requiredKeys: [] }),
      jsonValue,
    ),
    inputs: fc.oneof({ weight: 8, arbitrary: fc.array(input, { minLength: 1, maxLength: 3 }) }, jsonValue),
    outputs: fc.oneof(fc.array(fc.record({ name: fc.constantFrom('y', 'z', 'sum'), parameters: fc.oneof(fc.record({ binary_data: fc.boolean() }), jsonValue) }, { requiredKeys: ['name'] }), { maxLength: 2 }), jsonValue),
  },
  { requiredKeys: ['inputs'] },
);

// ---------------------------------------------------------------------------------------------
// Bytes

/** A byte-level mutation of a body: what a broken or malicious client sends. */
export function mutate(bytes: Buffer): fc.Arbitrary<Buffer> {
  const n = bytes.length;
  const at = fc.integer({ min: 0, max: Math.max(0, n) });
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(bytes) },
    fc.tuple(at, fc.integer({ min: 0, max: 255 })).map(([i, b]) => {
      const out = Buffer.from(bytes);
      if (i < n) out[i] = b;
      return out;
    }),
    at.map((i) => bytes.subarray(0, i)),
    fc.tuple(at, fc.uint8Array({ maxLength: 16 })).map(([i, ins]) => Buffer.concat([bytes.subarray(0, i), ins, bytes.subarray(i)])),
    fc.tuple(at, fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('[', '{', '{"a":', '["', '\\"')).map(([i, k, s]) => Buffer.concat([bytes.subarray(0, i), Buffer.from(s.repeat(k)), bytes.subarray(i)])),
    fc.tuple(at, at).map(([i, j]) => Buffer.concat([bytes.subarray(0, Math.min(i, j)), bytes.subarray(Math.max(i, j))])),
    fc.tuple(at, at, at).map(([i, j, k]) => Buffer.concat([bytes.subarray(0, k), bytes.subarray(Math.min(i, j), Math.max(i, j)), bytes.subarray(k)])),
  );
}

/** A body in the JSON form and the header value it goes with (undefined: no header). */
export interface FuzzBody {
  body: Buffer;
  headerLength: string | undefined;
}

/** JSON-form bodies of fuzzed requests, mutated. */
export const jsonBody: fc.Arbitrary<FuzzBody> = inferRequest.chain((r) => mutate(Buffer.from(toJson(r)))).map((body) => ({ body, headerLength: undefined }));

/** Binary-form bodies: a JSON header (of a fuzzed request), random tensor bytes, a right or wrong header length. */
export const binaryBody: fc.Arbitrary<FuzzBody> = fc
  .tuple(inferRequest, fc.uint8Array({ maxLength: 96 }), fc.oneof(fc.constant('right'), fc.integer({ min: 0, max: 400 }).map(String), fc.constantFrom('-1', 'x', '1e3', ' 12', '999999999999999999')))
  .chain(([r, tail, length]) => {
    const header = Buffer.from(toJson(r));
    const body = Buffer.concat([header, tail]);
    return mutate(body).map((b) => ({ body: b, headerLength: length === 'right' ? String(header.length) : length }));
  });

/** Raw-form bodies (header length 0): any bytes. */
export const rawBody: fc.Arbitrary<FuzzBody> = fc.uint8Array({ maxLength: 128 }).map((b) => ({ body: Buffer.from(b), headerLength: '0' }));

/** A model's inputs as decoding sees them: 1-3 inputs of any datatype, shapes with variable dims. */
export const decodeModel: fc.Arbitrary<DecodeModel> = fc
  .array(fc.record({ name: fc.constantFrom('x', 'y', 'a'), datatype: fc.constantFrom<DataType>(...DATATYPES), shape: fc.array(fc.integer({ min: -1, max: 4 }), { maxLength: 3 }) }), { minLength: 1, maxLength: 3 })
  .map((inputs) => ({ inputs: inputs.filter((t, i) => inputs.findIndex((u) => u.name === t.name) === i) }));

// ---------------------------------------------------------------------------------------------
// gRPC

const contentsField: Record<DataType, string | undefined> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP16: undefined,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

const grpcInput = fc
  .record({
    name: fc.constantFrom('x', 'y', ''),
    datatype: fc.oneof(fc.constantFrom<string>(...DATATYPES), fc.constant('BF16')),
    shape: fc.array(fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom(-1, 2 ** 40)), { maxLength: 3 }),
    values: fc.array(fc.integer({ min: -300, max: 300 }), { maxLength: 8 }),
  })
  .map(({ name, datatype: dt, shape: s, values }) => {
    const field = contentsField[dt as DataType];
    const contents: Record<string, unknown> = {};
    if (field === 'bool_contents') contents[field] = values.map((v) => v > 0);
    else if (field === 'bytes_contents') contents[field] = values.map((v) => Buffer.from(String(v)));
    else if (field) contents[field] = values;
    return { name, datatype: dt, shape: s, ...(field ? { contents } : {}) };
  });

/** A ModelInferRequest, encoded by protobufjs (independently of the server's codec), then mutated. */
export function grpcMessage(modelName: fc.Arbitrary<string>): fc.Arbitrary<Buffer> {
  return fc
    .record({
      model_name: modelName,
      id: fc.string({ maxLength: 4 }),
      inputs: fc.array(grpcInput, { maxLength: 3 }),
      raw: fc.option(fc.array(fc.uint8Array({ maxLength: 48 }), { maxLength: 3 })),
      priority: fc.option(fc.integer({ min: 0, max: 3 })),
    })
    .chain(({ model_name, id, inputs, raw, priority }) => {
      const message: Record<string, unknown> = { model_name, id, inputs: raw ? inputs.map(({ contents: _c, ...rest }) => rest) : inputs };
      if (raw) message.raw_input_contents = raw.map((b) => Buffer.from(b));
      if (priority !== null) message.parameters = { priority: { int64_param: priority } };
      const bytes = Buffer.from(RequestType.encode(RequestType.fromObject(message)).finish());
      return fc.oneof({ weight: 4, arbitrary: mutate(bytes) }, fc.constantFrom(groupBomb(5000), Buffer.alloc(0)));
    });
}

/** A message of deeply nested (deprecated) groups: a recursive skipper would exhaust the stack. */
export function groupBomb(depth: number): Buffer {
  const open = Buffer.alloc(depth, (15 << 3) | 3); // field 15, START_GROUP
  const close = Buffer.alloc(depth, (15 << 3) | 4);
  return Buffer.concat([open, close]);
}
