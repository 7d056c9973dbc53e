// Decoding of v2 inference requests (KServe Open Inference Protocol REST, plus Triton's
// binary_tensor_data extension) into engine input tensors. Pure: the HTTP layer hands in the body
// and the Inference-Header-Content-Length value; nothing here does I/O. This file reads the request
// (id, parameters, inputs, outputs); the tensor data is json-tensors.ts, binary-tensors.ts and
// raw-request.ts. Decoding checks what it needs to read the request; whether the model takes the
// inputs (names, datatypes, ranks, dims) is checked once, by the engine (src/engine/input-check.ts).
//
// Three body forms:
// - JSON (no Inference-Header-Content-Length): the whole body is the JSON request.
// - Binary (header = N > 0): the first N bytes are the JSON request; the raw tensors of the inputs
//   that carry `parameters.binary_data_size` follow, in the order the inputs are listed.
// - Raw binary (header = 0, as Triton): the whole body is the single input of a single-input model.
//
// Binary inputs are views on the body's memory whenever alignment allows: the body must stay
// untouched until the inference that reads it has completed.
import { isDataType, type DataType } from '../engine/datatype.js';
import type { InputTensor, TensorMetadata } from '../engine/tensor.js';
import { decodeBinary } from './binary-tensors.js';
import { badRequest } from './errors.js';
import { checkJsonBounds } from './json-scan.js';
import { decodeJson } from './json-tensors.js';
import { asBool, asParameters, asUint, describe, isObject } from './json-values.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './limits.js';
import { decodeRaw } from './raw-request.js';

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

/** What decoding needs to know of the model: its inputs (the raw form reads its single input's). */
export interface DecodeModel {
  inputs: ReadonlyArray<Pick<TensorMetadata, 'name' | 'datatype' | 'shape'>>;
}

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
 * @param limits how deep the JSON may nest and how many elements the request may carry
 * @throws ProtocolError (400) for anything malformed, inconsistent or over the limits; nothing else
 */
export function decodeInferRequest(
  body: Buffer,
  headerLength: number | undefined,
  model: DecodeModel,
  limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
): DecodedInferRequest {
  if (headerLength === 0) return decodeRaw(body, model, limits);
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
  const request = parseJsonObject(body, jsonEnd, limits);
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
  // No prototype: an input name such as "__proto__" stays an ordinary key.
  const inputs: Record<string, InputTensor> = Object.create(null) as Record<string, InputTensor>;
  let binaryOffset = 0;
  let elements = 0;
  for (let i = 0; i < rawInputs.length; i++) {
    const raw: unknown = rawInputs[i];
    if (!isObject(raw)) throw badRequest(`inputs[${i}] must be an object, got ${describe(raw)}`);
    const name = raw.name;
    if (typeof name !== 'string') throw badRequest(`inputs[${i}]: 'name' must be a string, got ${describe(name)}`);
    if (Object.hasOwn(inputs, name)) throw badRequest(`duplicate input '${name}'`);
    const datatype = checkDatatype(name, raw.datatype);
    const shape = checkShape(name, raw.shape);
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
    // After the data: a shape that lies about it fails on the data (neither path allocates past what
    // the body holds; the JSON scanner bounded the values before parsing).
    elements = checkElements(name, elements, count, limits);
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

function parseJsonObject(body: Buffer, end: number, limits: DecodeLimits): Record<string, unknown> {
  checkJsonBounds(body, 0, end, limits);
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

/** The datatype an input declares: a v2 name tensorgate runs (whether the model takes it is the engine's check). */
function checkDatatype(name: string, value: unknown): DataType {
  if (typeof value !== 'string') throw badRequest(`input '${name}': 'datatype' must be a string, got ${describe(value)}`);
  if (value === 'BF16') throw badRequest(`input '${name}': BF16 is not supported`);
  if (!isDataType(value)) throw badRequest(`input '${name}': unknown datatype '${value}'`);
  return value;
}

/** The shape an input declares: non-negative integers (whether the model takes it is the engine's check). */
function checkShape(name: string, value: unknown): number[] {
  if (!Array.isArray(value)) throw badRequest(`input '${name}': 'shape' must be an array, got ${describe(value)}`);
  for (const d of value) {
    if (!Number.isSafeInteger(d) || (d as number) < 0) {
      throw badRequest(`input '${name}': shape must be non-negative integers, got ${describe(value)}`);
    }
  }
  return value as number[];
}

/** The request's element total once input `name` adds `count` (400 past the limit). */
export function checkElements(name: string, total: number, count: number, limits: DecodeLimits): number {
  const sum = total + count;
  if (sum > limits.maxElements) {
    throw badRequest(`input '${name}': the request carries more than ${limits.maxElements} elements (the server's limit per request)`);
  }
  return sum;
}

function elementCountOf(name: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n)) throw badRequest(`input '${name}': shape [${shape.join(',')}] has too many elements`);
  return n;
}
