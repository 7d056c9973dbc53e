// Decoding of v2 inference requests (KServe Open Inference Protocol REST, plus Triton's
// binary_tensor_data extension) into engine input tensors. Pure: the HTTP layer hands in the body
// and the Inference-Header-Content-Length value; nothing here does I/O.
//
// Three body forms:
// - JSON (no Inference-Header-Content-Length): the whole body is the JSON request.
// - Binary (header = N > 0): the first N bytes are the JSON request; the raw tensors of the inputs
//   that carry `parameters.binary_data_size` follow, in the order the inputs are listed.
// - Raw binary (header = 0, as Triton): the whole body is the single input of a single-input model.
//
// Binary inputs are views on the body's memory whenever alignment allows: the body must stay
// untouched until the inference that reads it has completed.
import {
  CARRIER,
  ELEMENT_SIZE,
  isDataType,
  type AnyTypedArray,
  type DataType,
  type NumericDataType,
} from '../engine/datatype.js';
import type { InputTensor, TensorMetadata } from '../engine/tensor.js';
import { badRequest } from './errors.js';
import { toHalfBits } from './half.js';

export interface RequestedOutput {
  name: string;
  /** Return this output as binary data (its `binary_data` parameter, else the request's binary_data_output). */
  binary: boolean;
}

export interface DecodedInferRequest {
  id?: string;
  /** Engine input tensors; numeric data is the datatype's carrier array, BYTES strings or byte views. */
  inputs: Record<string, InputTensor>;
  /** The outputs the request lists, in its order; undefined = all outputs. */
  outputs?: RequestedOutput[];
  /** The request parameter binary_data_output: how outputs the request does not list are returned. */
  binaryDataOutput: boolean;
  /** The request parameter "priority" (1 = highest; 0 = the model's default). */
  priority?: number;
  /** The request parameter "timeout", in microseconds. */
  timeoutUs?: number;
  /** Every request parameter, as given. */
  parameters: Record<string, unknown>;
}

/** What decoding needs to know of the model: its inputs' names, datatypes and shapes (-1 = dynamic). */
export interface DecodeModel {
  inputs: ReadonlyArray<Pick<TensorMetadata, 'name' | 'datatype' | 'shape'>>;
}

type ModelInput = DecodeModel['inputs'][number];

/** The header that gives the JSON part's length in binary requests. */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'Inference-Header-Content-Length';

/**
 * Parses an Inference-Header-Content-Length header value: undefined when absent, else a
 * non-negative integer (400 otherwise). Range against the body is checked by decodeInferRequest.
 */
export function parseInferenceHeaderLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (!/^\d{1,15}$/.test(text)) {
    throw badRequest(`invalid ${INFERENCE_HEADER_CONTENT_LENGTH} '${value}': expected a non-negative integer`);
  }
  return Number(text);
}

/**
 * How many spare bytes the transport can put before the body (allocate `pad + length` bytes, receive
 * into `[pad...]`, pass `subarray(pad)`) so that the binary part after a JSON header of
 * `headerLength` bytes starts 8-byte aligned and every binary input decodes as a view, not a copy.
 * Clients do not pad their JSON headers, so without this most FP32/INT64 inputs are copied.
 */
export function alignmentPad(headerLength: number): number {
  return (8 - (headerLength % 8)) % 8;
}

/**
 * Decodes an inference request body.
 *
 * @param body the whole HTTP body
 * @param headerLength the Inference-Header-Content-Length value: undefined (all JSON), 0 (raw binary)
 *   or the JSON header's byte length
 * @param model the model's inputs, to check names and datatypes and to shape raw binary requests
 * @throws ProtocolError (400) for anything malformed or inconsistent
 */
export function decodeInferRequest(body: Buffer, headerLength: number | undefined, model: DecodeModel): DecodedInferRequest {
  if (headerLength === 0) return decodeRaw(body, model);
  let jsonEnd = body.length;
  if (headerLength !== undefined) {
    if (!Number.isSafeInteger(headerLength) || headerLength < 0) {
      throw badRequest(`invalid ${INFERENCE_HEADER_CONTENT_LENGTH} ${headerLength}: expected a non-negative integer`);
    }
    if (headerLength > body.length) {
      throw badRequest(
        `${INFERENCE_HEADER_CONTENT_LENGTH} ${headerLength} exceeds the body length ${body.length}`,
      );
    }
    jsonEnd = headerLength;
  }
  const request = parseJsonObject(body, jsonEnd);
  const binaryAvailable = headerLength === undefined ? 0 : body.length - jsonEnd;

  const id = request.id;
  if (id !== undefined && typeof id !== 'string') throw badRequest(`'id' must be a string, got ${describe(id)}`);

  const parameters = asParameters(request.parameters, 'request');
  let binaryDataOutput = false;
  let priority: number | undefined;
  let timeoutUs: number | undefined;
  if (parameters.classification !== undefined) throw classificationError();
  if (parameters.binary_data_output !== undefined) binaryDataOutput = asBool(parameters.binary_data_output, "parameter 'binary_data_output'");
  if (parameters.priority !== undefined) priority = asUint(parameters.priority, "parameter 'priority'");
  if (parameters.timeout !== undefined) timeoutUs = asUint(parameters.timeout, "parameter 'timeout' (microseconds)");

  const rawInputs = request.inputs;
  if (!Array.isArray(rawInputs)) throw badRequest(`'inputs' must be an array, got ${describe(rawInputs)}`);
  const known = inputIndex(model);
  // No prototype: an input name such as "__proto__" stays an ordinary key.
  const inputs: Record<string, InputTensor> = Object.create(null) as Record<string, InputTensor>;
  let binaryOffset = 0;
  for (let i = 0; i < rawInputs.length; i++) {
    const raw: unknown = rawInputs[i];
    if (!isObject(raw)) throw badRequest(`inputs[${i}] must be an object, got ${describe(raw)}`);
    const name = raw.name;
    if (typeof name !== 'string') throw badRequest(`inputs[${i}]: 'name' must be a string, got ${describe(name)}`);
    if (Object.hasOwn(inputs, name)) throw badRequest(`duplicate input '${name}'`);
    const datatype = checkDatatype(name, raw.datatype, known);
    const shape = checkShape(name, raw.shape, known.get(name)!);
    const count = elementCountOf(name, shape);

    const params = asParameters(raw.parameters, `input '${name}'`);
    if (params.shared_memory_region !== undefined) throw badRequest(`input '${name}': shared memory is not supported`);
    const hasData = raw.data !== undefined;
    const hasBinary = params.binary_data_size !== undefined;
    if (hasData === hasBinary) {
      throw badRequest(
        hasData
          ? `input '${name}': set only one of 'data' and 'binary_data_size'`
          : `input '${name}': needs 'data' or parameters.binary_data_size`,
      );
    }
    let data: InputTensor['data'];
    if (hasBinary) {
      const size = asUint(params.binary_data_size, `input '${name}': parameter 'binary_data_size'`);
      if (size > 0 && headerLength === undefined) {
        throw badRequest(`input '${name}': binary_data_size needs the ${INFERENCE_HEADER_CONTENT_LENGTH} header`);
      }
      if (binaryOffset + size > binaryAvailable) {
        throw badRequest(
          `binary size mismatch: input '${name}' declares binary_data_size ${size} but only ` +
            `${binaryAvailable - binaryOffset} bytes of binary data remain`,
        );
      }
      data = decodeBinary(name, datatype, body, jsonEnd + binaryOffset, size, shape, count);
      binaryOffset += size;
    } else {
      data = decodeJson(name, datatype, raw.data, shape, count);
    }
    inputs[name] = { datatype, shape, data } as InputTensor;
  }
  if (binaryOffset !== binaryAvailable) {
    throw badRequest(
      `binary size mismatch: ${binaryAvailable} bytes follow the JSON header but the inputs' ` +
        `binary_data_size total ${binaryOffset}`,
    );
  }

  const outputs = decodeOutputs(request.outputs, binaryDataOutput);
  const decoded: DecodedInferRequest = { inputs, binaryDataOutput, parameters };
  if (id !== undefined) decoded.id = id;
  if (outputs !== undefined) decoded.outputs = outputs;
  if (priority !== undefined) decoded.priority = priority;
  if (timeoutUs !== undefined) decoded.timeoutUs = timeoutUs;
  return decoded;
}

// ---------------------------------------------------------------------------------------------
// Request parts

function parseJsonObject(body: Buffer, end: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8', 0, end));
  } catch (err) {
    throw badRequest(`malformed JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(value)) throw badRequest(`malformed JSON: the request must be an object, got ${describe(value)}`);
  return value;
}

function decodeOutputs(raw: unknown, binaryDataOutput: boolean): RequestedOutput[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw)) throw badRequest(`'outputs' must be an array, got ${describe(raw)}`);
  // No listed output means every output (as Triton).
  if (raw.length === 0) return undefined;
  const outputs: RequestedOutput[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const o: unknown = raw[i];
    if (!isObject(o)) throw badRequest(`outputs[${i}] must be an object, got ${describe(o)}`);
    const name = o.name;
    if (typeof name !== 'string') throw badRequest(`outputs[${i}]: 'name' must be a string, got ${describe(name)}`);
    if (seen.has(name)) throw badRequest(`duplicate output '${name}'`);
    seen.add(name);
    const params = asParameters(o.parameters, `output '${name}'`);
    if (params.classification !== undefined) throw classificationError();
    if (params.shared_memory_region !== undefined) throw badRequest(`output '${name}': shared memory is not supported`);
    const binary =
      params.binary_data === undefined
        ? binaryDataOutput
        : asBool(params.binary_data, `output '${name}': parameter 'binary_data'`);
    outputs.push({ name, binary });
  }
  return outputs;
}

function classificationError(): Error {
  return badRequest('classification extension is not supported');
}

const indexCache = new WeakMap<object, Map<string, ModelInput>>();

function inputIndex(model: DecodeModel): Map<string, ModelInput> {
  let index = indexCache.get(model.inputs);
  if (index === undefined) {
    index = new Map(model.inputs.map((t) => [t.name, t]));
    indexCache.set(model.inputs, index);
  }
  return index;
}

function checkDatatype(name: string, value: unknown, known: Map<string, ModelInput>): DataType {
  if (typeof value !== 'string') throw badRequest(`input '${name}': 'datatype' must be a string, got ${describe(value)}`);
  if (value === 'BF16') throw badRequest(`input '${name}': BF16 is not supported`);
  if (!isDataType(value)) throw badRequest(`input '${name}': unknown datatype '${value}'`);
  const meta = known.get(name);
  if (meta === undefined) {
    throw badRequest(`unknown input '${name}' (model inputs: ${[...known.keys()].join(', ')})`);
  }
  if (meta.datatype !== value) throw badRequest(`input '${name}': expected datatype ${meta.datatype}, got ${value}`);
  return value;
}

function checkShape(name: string, value: unknown, meta: ModelInput): number[] {
  if (!Array.isArray(value)) throw badRequest(`input '${name}': 'shape' must be an array, got ${describe(value)}`);
  for (const d of value) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) {
      throw badRequest(`input '${name}': shape must be non-negative integers, got ${describe(value)}`);
    }
  }
  const shape = value as number[];
  if (shape.length !== meta.shape.length) {
    throw badRequest(
      `input '${name}': expected rank ${meta.shape.length} (shape [${meta.shape.join(',')}]), ` +
        `got rank ${shape.length} (shape [${shape.length > 16 ? `${shape.slice(0, 16).join(',')},...` : shape.join(',')}])`,
    );
  }
  return shape;
}

function elementCountOf(name: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n)) throw badRequest(`input '${name}': shape [${shape.join(',')}] has too many elements`);
  return n;
}

function asParameters(value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isObject(value)) throw badRequest(`${what}: 'parameters' must be an object, got ${describe(value)}`);
  return value;
}

function asBool(value: unknown, what: string): boolean {
  if (typeof value !== 'boolean') throw badRequest(`${what} must be a boolean, got ${describe(value)}`);
  return value;
}

function asUint(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw badRequest(`${what} must be a non-negative integer, got ${describe(value)}`);
  }
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short rendering of a JSON value for error messages. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'bigint' ? value.toString() : JSON.stringify(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// ---------------------------------------------------------------------------------------------
// JSON tensor data

/**
 * JSON `data` to the datatype's carrier. Nested or flat, row-major; the element count must equal
 * the shape's. Conversions:
 * - integers: JSON integers within the type's range. INT64/UINT64 also take decimal strings (for
 *   values beyond 2^53); JSON numbers beyond ±(2^53-1) are refused, since JSON.parse has already
 *   rounded them.
 * - BOOL: true/false, or 0/1.
 * - FP32/FP64: numbers; null stands for NaN (what the response encoder writes for NaN/±Infinity).
 * - FP16: numbers rounded to the nearest half (Triton accepts FP16 only as binary data).
 * - BYTES: strings (sent to the model as their UTF-8 bytes).
 */
function decodeJson(name: string, datatype: DataType, data: unknown, shape: readonly number[], count: number): InputTensor['data'] {
  let flat: ArrayLike<unknown>;
  if (!Array.isArray(data)) {
    // A bare value is accepted for a one-element tensor (e.g. shape []).
    if (isObject(data) || count !== 1) throw badRequest(`input '${name}': 'data' must be an array, got ${describe(data)}`);
    flat = [data];
  } else if (data.length === count && (count === 0 || !Array.isArray(data[0]))) {
    flat = data; // the flat fast path
  } else {
    flat = flatten(name, data, Math.max(shape.length, 1));
  }
  if (flat.length !== count) {
    throw badRequest(`input '${name}': expected ${count} elements for shape [${shape.join(',')}], got ${flat.length}`);
  }
  switch (datatype) {
    case 'FP32':
      return fillFloat(name, flat, new Float32Array(count));
    case 'FP64':
      return fillFloat(name, flat, new Float64Array(count));
    case 'FP16':
      return fillHalf(name, flat, new Uint16Array(count));
    case 'INT8':
      return fillInt(name, flat, new Int8Array(count), -0x80, 0x7f);
    case 'INT16':
      return fillInt(name, flat, new Int16Array(count), -0x8000, 0x7fff);
    case 'INT32':
      return fillInt(name, flat, new Int32Array(count), -0x80000000, 0x7fffffff);
    case 'UINT8':
      return fillInt(name, flat, new Uint8Array(count), 0, 0xff);
    case 'UINT16':
      return fillInt(name, flat, new Uint16Array(count), 0, 0xffff);
    case 'UINT32':
      return fillInt(name, flat, new Uint32Array(count), 0, 0xffffffff);
    case 'INT64':
      return fillBig(name, flat, new BigInt64Array(count), INT64_MIN, INT64_MAX);
    case 'UINT64':
      return fillBig(name, flat, new BigUint64Array(count), 0n, UINT64_MAX);
    case 'BOOL':
      return fillBool(name, flat, new Uint8Array(count));
    case 'BYTES':
      return fillStrings(name, flat, data === flat);
  }
}

/** Row-major flattening of nested arrays, at most `maxDepth` levels of arrays deep. */
function flatten(name: string, data: unknown[], maxDepth: number): unknown[] {
  const out: unknown[] = [];
  const walk = (array: unknown[], depth: number): void => {
    for (let i = 0; i < array.length; i++) {
      const v = array[i];
      if (Array.isArray(v)) {
        if (depth >= maxDepth) throw badRequest(`input '${name}': 'data' is nested deeper than the shape's rank`);
        walk(v, depth + 1);
      } else {
        out.push(v);
      }
    }
  };
  walk(data, 1);
  return out;
}

function elementError(name: string, index: number, value: unknown, expected: string): Error {
  return badRequest(`input '${name}': element ${index} must be ${expected}, got ${describe(value)}`);
}

function fillFloat<T extends Float32Array | Float64Array>(name: string, src: ArrayLike<unknown>, out: T): T {
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    if (typeof v === 'number') out[i] = v;
    else if (v === null) out[i] = NaN;
    else throw elementError(name, i, v, 'a number');
  }
  return out;
}

function fillHalf(name: string, src: ArrayLike<unknown>, out: Uint16Array): Uint16Array {
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    if (typeof v === 'number') out[i] = toHalfBits(v);
    else if (v === null) out[i] = 0x7e00;
    else throw elementError(name, i, v, 'a number');
  }
  return out;
}

type SmallIntArray = Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array;

function fillInt<T extends SmallIntArray>(name: string, src: ArrayLike<unknown>, out: T, min: number, max: number): T {
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw elementError(name, i, v, `an integer in [${min}, ${max}]`);
    }
    out[i] = v;
  }
  return out;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;
const DECIMAL = /^-?\d{1,20}$/;

function fillBig<T extends BigInt64Array | BigUint64Array>(
  name: string,
  src: ArrayLike<unknown>,
  out: T,
  min: bigint,
  max: bigint,
): T {
  const range = `an integer in [${min}, ${max}]`;
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    let b: bigint;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) {
        if (Number.isInteger(v)) {
          throw badRequest(
            `input '${name}': element ${i} (${v}) is beyond 2^53 and JSON numbers cannot carry it exactly; ` +
              'send it as a decimal string or as binary data',
          );
        }
        throw elementError(name, i, v, range);
      }
      b = BigInt(v);
    } else if (typeof v === 'string' && DECIMAL.test(v)) {
      b = BigInt(v);
    } else {
      throw elementError(name, i, v, `${range} (a number or a decimal string)`);
    }
    if (b < min || b > max) throw elementError(name, i, v, range);
    out[i] = b;
  }
  return out;
}

function fillBool(name: string, src: ArrayLike<unknown>, out: Uint8Array): Uint8Array {
  for (let i = 0; i < out.length; i++) {
    const v = src[i];
    if (v === true || v === 1) out[i] = 1;
    else if (v === false || v === 0) out[i] = 0;
    else throw elementError(name, i, v, 'a boolean (or 0/1)');
  }
  return out;
}

function fillStrings(name: string, src: ArrayLike<unknown>, reusable: boolean): string[] {
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (typeof v !== 'string') throw elementError(name, i, v, 'a string');
  }
  // The parsed array is ours (JSON.parse made it): hand it over when it is already flat.
  return reusable ? (src as string[]) : Array.from(src as ArrayLike<string>);
}

// ---------------------------------------------------------------------------------------------
// Binary tensor data

/**
 * One input's binary data (body[start, start + size)) as its carrier: little-endian, row-major
 * elements (views where aligned, see typedView); BYTES as 4-byte LE length + bytes each. `source`
 * names where the bytes came from in error messages (the gRPC front passes 'raw_input_contents size').
 */
export function decodeBinary(
  name: string,
  datatype: DataType,
  body: Buffer,
  start: number,
  size: number,
  shape: readonly number[],
  count: number,
  source = 'binary_data_size',
): InputTensor['data'] {
  if (datatype === 'BYTES') return parseBytes(name, body, start, size, count, source);
  const expected = count * ELEMENT_SIZE[datatype];
  if (size !== expected) {
    throw badRequest(
      `binary size mismatch: input '${name}' has ${source} ${size} but ${count} ${datatype} ` +
        `elements (shape [${shape.join(',')}]) take ${expected} bytes`,
    );
  }
  const data = typedView(datatype, body, start, count);
  if (datatype === 'BOOL') checkBool(name, data as Uint8Array);
  return data;
}

/**
 * `count` elements of `datatype` at body[start...] as its carrier array: a view on the body's
 * memory when the address is aligned for the element size, else a copy.
 */
function typedView(datatype: NumericDataType, body: Buffer, start: number, count: number): AnyTypedArray {
  const Carrier = CARRIER[datatype];
  const size = ELEMENT_SIZE[datatype];
  const offset = body.byteOffset + start;
  if (offset % size === 0) return new Carrier(body.buffer, offset, count);
  const copy = new Carrier(count);
  new Uint8Array(copy.buffer, copy.byteOffset, count * size).set(body.subarray(start, start + count * size));
  return copy;
}

function checkBool(name: string, data: Uint8Array): void {
  for (let i = 0; i < data.length; i++) {
    if (data[i]! > 1) throw badRequest(`input '${name}': BOOL element ${i} is byte ${data[i]}; BOOL bytes must be 0 or 1`);
  }
}

/** BYTES binary data: each element a 4-byte little-endian length and that many bytes (views, no copy). */
function parseBytes(name: string, body: Buffer, start: number, size: number, count: number, source: string): Buffer[] {
  const end = start + size;
  // Each element takes at least 4 bytes: a shape claiming more fails below, without a huge allocation.
  const elements = new Array<Buffer>(Math.min(count, Math.floor(size / 4)));
  let at = start;
  for (let i = 0; i < count; i++) {
    if (at + 4 > end) {
      throw badRequest(
        `binary size mismatch: input '${name}' has ${i} BYTES elements in its ${source} ${size}, ` +
          `its shape needs ${count}`,
      );
    }
    const length = body.readUInt32LE(at);
    at += 4;
    if (at + length > end) {
      throw badRequest(
        `binary size mismatch: input '${name}': BYTES element ${i} has length ${length}, past the end of ` +
          `its ${source} ${size}`,
      );
    }
    elements[i] = body.subarray(at, at + length);
    at += length;
  }
  if (at !== end) {
    throw badRequest(
      `binary size mismatch: input '${name}' has ${end - at} bytes after its ${count} BYTES elements ` +
        `(${source} ${size})`,
    );
  }
  return elements;
}

// ---------------------------------------------------------------------------------------------
// Raw binary requests (Inference-Header-Content-Length: 0)

function decodeRaw(body: Buffer, model: DecodeModel): DecodedInferRequest {
  if (model.inputs.length !== 1) {
    throw badRequest(
      `a raw binary request (${INFERENCE_HEADER_CONTENT_LENGTH}: 0) needs a model with exactly one input; ` +
        `this model has ${model.inputs.length}`,
    );
  }
  const input = model.inputs[0]!;
  const datatype = input.datatype;
  if (datatype === 'BYTES') {
    throw badRequest(`a raw binary request cannot carry BYTES input '${input.name}'; use the JSON or binary form`);
  }
  const size = ELEMENT_SIZE[datatype];
  if (body.length % size !== 0) {
    throw badRequest(
      `raw binary request: ${body.length} bytes is not a whole number of ${datatype} elements (${size} bytes each)`,
    );
  }
  const count = body.length / size;
  const dynamic = input.shape.filter((d) => d < 0).length;
  let known = 1;
  for (const d of input.shape) if (d >= 0) known *= d;
  let shape: number[];
  if (dynamic === 0) {
    if (known !== count) {
      throw badRequest(
        `raw binary request: input '${input.name}' of shape [${input.shape.join(',')}] takes ${known * size} bytes, ` +
          `got ${body.length}`,
      );
    }
    shape = [...input.shape];
  } else if (dynamic === 1) {
    let inferred: number;
    if (known === 0) {
      if (count !== 0) {
        throw badRequest(`raw binary request: input '${input.name}' of shape [${input.shape.join(',')}] holds no data, got ${body.length} bytes`);
      }
      inferred = 0;
    } else {
      if (count % known !== 0) {
        throw badRequest(
          `raw binary request: ${count} ${datatype} elements do not fill input '${input.name}' of shape ` +
            `[${input.shape.join(',')}] (a multiple of ${known} needed)`,
        );
      }
      inferred = count / known;
    }
    shape = input.shape.map((d) => (d < 0 ? inferred : d));
  } else {
    throw badRequest(
      `raw binary request: cannot infer the shape of input '${input.name}' ([${input.shape.join(',')}]) ` +
        'with more than one dynamic dimension; use the JSON or binary form',
    );
  }
  const data = typedView(datatype, body, 0, count);
  if (datatype === 'BOOL') checkBool(input.name, data as Uint8Array);
  return {
    inputs: { [input.name]: { datatype, shape, data } as InputTensor },
    binaryDataOutput: true,
    parameters: {},
  };
}
