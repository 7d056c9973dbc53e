// ModelInferRequest (protobuf) to the DecodedInferRequest the HTTP front produces, in one pass over
// the message with no intermediate objects per element. Checks and messages follow the HTTP
// decoder's binary form; the model itself (input names, datatypes, ranks) is checked later by the
// engine, as on every front.
//
// Input data come from each input's typed `contents` or from `raw_input_contents` (one entry per
// input, in input order; then no input may set `contents`). Raw data and whole packed FP32/FP64 runs
// are views on the message buffer where aligned: the buffer must stay untouched until the inference
// that reads it has completed.
import { isDataType, type DataType } from '../engine/datatype.js';
import type { InputTensor } from '../engine/tensor.js';
import { badRequest } from '../protocol/errors.js';
import { decodeBinary } from '../protocol/binary-tensors.js';
import { checkElements, type DecodedInferRequest, type RequestedOutput } from '../protocol/infer-request.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from '../protocol/limits.js';
import { emptyParameters, readParameterEntry, type ParameterValue } from './infer-parameter.js';
import { decodeContents } from './tensor-contents.js';
import { LENGTH_DELIMITED, Reader, VARINT, malformed } from './wire.js';

export interface GrpcInferRequest {
  /** The model_name field (checked against the repository by the caller). */
  modelName: string;
  /** The model_version field; empty for the version the model's policy picks. */
  modelVersion: string;
  decoded: DecodedInferRequest;
}

const LD = LENGTH_DELIMITED;
// ModelInferRequest tags (field << 3 | wire type).
const MODEL_NAME = (1 << 3) | LD;
const MODEL_VERSION = (2 << 3) | LD;
const ID = (3 << 3) | LD;
const PARAMETERS = (4 << 3) | LD;
const INPUTS = (5 << 3) | LD;
const OUTPUTS = (6 << 3) | LD;
const RAW_INPUT_CONTENTS = (7 << 3) | LD;
// InferInputTensor / InferRequestedOutputTensor tags.
const TENSOR_NAME = (1 << 3) | LD;
const TENSOR_DATATYPE = (2 << 3) | LD;
const TENSOR_SHAPE_PACKED = (3 << 3) | LD;
const TENSOR_SHAPE = (3 << 3) | VARINT;
const TENSOR_PARAMETERS = (4 << 3) | LD;
const TENSOR_CONTENTS = (5 << 3) | LD;
const OUTPUT_PARAMETERS = (2 << 3) | LD;

/** An input as read from the message, before its data are decoded. */
interface PendingInput {
  name: string;
  datatype: string;
  /** Non-negative safe integers, or anything else the sender put there (checked in order later). */
  shape: Array<number | string>;
  parameters: Record<string, ParameterValue>;
  /** The extents of its `contents` field (start, end...; protobuf merges repeated occurrences); empty when absent. */
  contents: number[];
}

/**
 * Decodes a ModelInferRequest.
 * @throws ProtocolError (400) for malformed protobuf and for anything the HTTP decoder refuses
 *   (the element limit included); nothing else
 */
export function decodeModelInferRequest(buf: Buffer, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): GrpcInferRequest {
  const r = new Reader(buf);
  const end = buf.length;
  let modelName = '';
  let modelVersion = '';
  let id = '';
  const parameters = emptyParameters();
  const pending: PendingInput[] = [];
  let outputs: RequestedOutput[] | undefined;
  /** raw_input_contents extents: start, end, start, end... */
  const raw: number[] = [];
  while (r.pos < end) {
    const tag = r.uint32();
    switch (tag) {
      case MODEL_NAME:
        modelName = r.string(end);
        break;
      case MODEL_VERSION:
        modelVersion = r.string(end);
        break;
      case ID:
        id = r.string(end);
        break;
      case PARAMETERS:
        readParameterEntry(r, end, parameters, 'request');
        break;
      case INPUTS:
        pending.push(readInput(r, end));
        break;
      case OUTPUTS:
        (outputs ??= []).push(readOutput(r, end, outputs));
        break;
      case RAW_INPUT_CONTENTS: {
        const stop = r.delimited(end);
        raw.push(r.pos, stop);
        r.pos = stop;
        break;
      }
      default:
        skipUnknown(r, tag, end);
    }
  }

  if (parameters.classification !== undefined) throw classificationError();
  let priority: number | undefined;
  let timeoutUs: number | undefined;
  if (parameters.priority !== undefined) priority = asUint(parameters.priority, "parameter 'priority'");
  if (parameters.timeout !== undefined) timeoutUs = asUint(parameters.timeout, "parameter 'timeout' (microseconds)");

  const rawCount = raw.length / 2;
  if (rawCount > 0 && rawCount !== pending.length) {
    throw badRequest(
      `raw_input_contents has ${rawCount} entries for ${pending.length} inputs; it needs one per input, in input order`,
    );
  }
  const inputs = Object.create(null) as Record<string, InputTensor>;
  let elements = 0;
  for (let i = 0; i < pending.length; i++) {
    const p = pending[i]!;
    const name = p.name;
    if (Object.hasOwn(inputs, name)) throw badRequest(`duplicate input '${name}'`);
    const datatype = checkDatatype(name, p.datatype);
    const shape = checkShape(name, p.shape);
    const count = elementCountOf(name, shape);
    if (p.parameters.shared_memory_region !== undefined) throw badRequest(`input '${name}': shared memory is not supported`);
    const hasContents = p.contents.length > 0;
    let data: InputTensor['data'];
    if (rawCount > 0) {
      if (hasContents) throw badRequest(`input '${name}': set only one of 'contents' and raw_input_contents`);
      const start = raw[2 * i]!;
      data = decodeBinary(name, datatype, buf, start, raw[2 * i + 1]! - start, shape, count, 'raw_input_contents size');
    } else if (hasContents) {
      data = decodeContents(r, p.contents, name, datatype, shape, count);
    } else if (count === 0) {
      // Nothing to carry: proto3 cannot tell an empty `contents` from an absent one.
      data = decodeBinary(name, datatype, buf, 0, 0, shape, 0);
    } else {
      throw badRequest(`input '${name}': needs 'contents' or raw_input_contents`);
    }
    // After the data, as over HTTP: counting contents never stores past what the message holds.
    elements = checkElements(name, elements, count, limits);
    inputs[name] = { datatype, shape, data } as InputTensor;
  }

  // Over gRPC every output travels as raw bytes.
  const decoded: DecodedInferRequest = { inputs, binaryDataOutput: true, parameters };
  if (id !== '') decoded.id = id;
  if (outputs !== undefined) decoded.outputs = outputs;
  if (priority !== undefined) decoded.priority = priority;
  if (timeoutUs !== undefined) decoded.timeoutUs = timeoutUs;
  return { modelName, modelVersion, decoded };
}

/** What a front needs of a ModelInferRequest before decoding it. */
export interface PeekedRequest {
  modelName: string;
  /** Empty for the version the model's policy picks. */
  modelVersion: string;
  /** The request id, so that a stream can name the request it failed even when decoding fails. */
  id: string;
}

/**
 * The model_name, model_version and id of a ModelInferRequest without decoding it, so a front can
 * resolve the model before the single full decode (the service's decode stage). Scans the top-level
 * fields only, jumping over tensors. It reads every field rather than stopping at the first name and
 * version: protobuf's rule for a repeated singular field is "the last one wins", and the answer must
 * agree with decodeModelInferRequest's.
 * @throws ProtocolError (400) for malformed protobuf, with the decoder's messages
 */
export function peekModel(buf: Buffer): PeekedRequest {
  const r = new Reader(buf);
  const end = buf.length;
  let modelName = '';
  let modelVersion = '';
  let id = '';
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === MODEL_NAME) modelName = r.string(end);
    else if (tag === MODEL_VERSION) modelVersion = r.string(end);
    else if (tag === ID) id = r.string(end);
    else skipUnknown(r, tag, end);
  }
  return { modelName, modelVersion, id };
}

function skipUnknown(r: Reader, tag: number, end: number): void {
  // A known field with an unexpected wire type is skipped as unknown too (protobuf's C++ rule).
  if (tag >>> 3 === 0) throw malformed('field number 0', r.pos);
  r.skip(tag & 7, end);
}

function readInput(r: Reader, end: number): PendingInput {
  const stop = r.delimited(end);
  const input: PendingInput = { name: '', datatype: '', shape: [], parameters: emptyParameters(), contents: [] };
  while (r.pos < stop) {
    const tag = r.uint32();
    switch (tag) {
      case TENSOR_NAME:
        input.name = r.string(stop);
        break;
      case TENSOR_DATATYPE:
        input.datatype = r.string(stop);
        break;
      case TENSOR_SHAPE_PACKED: {
        const shapeEnd = r.delimited(stop);
        while (r.pos < shapeEnd) input.shape.push(r.int64(false));
        if (r.pos !== shapeEnd) throw malformed('packed shape runs past its length', r.pos);
        break;
      }
      case TENSOR_SHAPE:
        input.shape.push(r.int64(false));
        break;
      case TENSOR_PARAMETERS:
        readParameterEntry(r, stop, input.parameters, `input '${input.name}':`);
        break;
      case TENSOR_CONTENTS: {
        const contentsEnd = r.delimited(stop);
        input.contents.push(r.pos, contentsEnd);
        r.pos = contentsEnd;
        break;
      }
      default:
        skipUnknown(r, tag, stop);
    }
  }
  if (r.pos !== stop) throw malformed('input runs past its length', r.pos);
  return input;
}

function readOutput(r: Reader, end: number, seen: readonly RequestedOutput[]): RequestedOutput {
  const stop = r.delimited(end);
  let name = '';
  const params = emptyParameters();
  while (r.pos < stop) {
    const tag = r.uint32();
    if (tag === TENSOR_NAME) name = r.string(stop);
    else if (tag === OUTPUT_PARAMETERS) readParameterEntry(r, stop, params, 'output');
    else skipUnknown(r, tag, stop);
  }
  if (r.pos !== stop) throw malformed('output runs past its length', r.pos);
  if (seen.some((o) => o.name === name)) throw badRequest(`duplicate output '${name}'`);
  if (params.classification !== undefined) throw classificationError();
  if (params.shared_memory_region !== undefined) throw badRequest(`output '${name}': shared memory is not supported`);
  return { name, binary: true };
}

// ---------------------------------------------------------------------------------------------
// Checks, with the HTTP decoder's messages

function classificationError(): Error {
  return badRequest('classification extension is not supported');
}

function checkDatatype(name: string, value: string): DataType {
  if (value === 'BF16') throw badRequest(`input '${name}': BF16 is not supported`);
  if (!isDataType(value)) throw badRequest(`input '${name}': unknown datatype '${value}'`);
  return value;
}

function checkShape(name: string, dims: ReadonlyArray<number | string>): number[] {
  for (const d of dims) {
    if (typeof d !== 'number' || d < 0) {
      const text = `[${dims.join(',')}]`;
      throw badRequest(`input '${name}': shape must be non-negative integers, got ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`);
    }
  }
  return dims as number[];
}

function elementCountOf(name: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n)) throw badRequest(`input '${name}': shape [${shape.join(',')}] has too many elements`);
  return n;
}

function asUint(value: ParameterValue, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw badRequest(`${what} must be a non-negative integer, got ${JSON.stringify(value)}`);
  }
  return value;
}
