// ModelInferResponse and ModelStreamInferResponse encoding. Every output's data go in
// raw_output_contents, as Triton's server sends them (little-endian, row-major; BYTES as a 4-byte
// LE length + bytes per element); outputs in the order every front uses (responseOutputs). The
// size is computed first, then one Buffer is filled: each tensor's bytes are copied once.
import type { OutputTensor } from '../engine/tensor.js';
import { responseOutputs, type EncodeResponseArgs, type ResponseOutput } from '../protocol/infer-response.js';
import { parameterSizes, writeParameters, type ParameterSizes, type ParameterValue } from './infer-parameter.js';
import { LENGTH_DELIMITED, Writer, int64Size, varintSize } from './wire.js';

export interface GrpcResponseArgs extends Omit<EncodeResponseArgs, 'binaryDataOutput'> {
  /** Response parameters (the `parameters` map). */
  parameters?: Readonly<Record<string, ParameterValue>>;
}

// ModelInferResponse fields.
const MODEL_NAME = 1;
const MODEL_VERSION = 2;
const ID = 3;
const PARAMETERS = 4;
const OUTPUTS = 5;
const RAW_OUTPUT_CONTENTS = 6;
// InferOutputTensor fields.
const TENSOR_NAME = 1;
const TENSOR_DATATYPE = 2;
const TENSOR_SHAPE = 3;
// ModelStreamInferResponse fields.
const ERROR_MESSAGE = 1;
const INFER_RESPONSE = 2;

/** Encodes a ModelInferResponse. */
export function encodeModelInferResponse(args: GrpcResponseArgs): Buffer {
  const plan = planResponse(args);
  const w = new Writer(Buffer.allocUnsafe(plan.size));
  writeResponse(w, args, plan);
  return done(w);
}

/**
 * Encodes a ModelStreamInferResponse that carries a response, straight into the stream message:
 * the same bytes as encodeStreamResponse(encodeModelInferResponse(args)) without the second copy.
 */
export function encodeStreamInferResponse(args: GrpcResponseArgs): Buffer {
  const plan = planResponse(args);
  const w = new Writer(Buffer.allocUnsafe(fieldSize(plan.size)));
  w.tag(INFER_RESPONSE, LENGTH_DELIMITED);
  w.varint(plan.size);
  writeResponse(w, args, plan);
  return done(w);
}

/**
 * Encodes a ModelStreamInferResponse from an encoded ModelInferResponse and/or an error message
 * (a failed request on the stream: error set, no response).
 */
export function encodeStreamResponse(infer: Buffer | undefined, errorMessage: string | undefined): Buffer {
  const errorLength = errorMessage ? Buffer.byteLength(errorMessage, 'utf8') : 0;
  const size = (errorLength > 0 ? fieldSize(errorLength) : 0) + (infer !== undefined ? fieldSize(infer.length) : 0);
  const w = new Writer(Buffer.allocUnsafe(size));
  if (errorLength > 0) {
    w.tag(ERROR_MESSAGE, LENGTH_DELIMITED);
    w.string(errorMessage!, errorLength);
  }
  if (infer !== undefined) {
    w.tag(INFER_RESPONSE, LENGTH_DELIMITED);
    w.varint(infer.length);
    w.raw(infer);
  }
  return done(w);
}

// ---------------------------------------------------------------------------------------------

/** Byte lengths worked out before writing, so nothing is measured twice. */
interface Plan {
  size: number;
  outputs: ResponseOutput[];
  /** Per output: name length, datatype length, packed shape length, tensor message length, raw length. */
  lengths: number[];
  strings: [modelName: number, modelVersion: number, id: number];
  parameters: ParameterSizes | undefined;
}

const PER_OUTPUT = 5;

/** A length-delimited field of `length` bytes, with its tag (fields 1..15: one byte) and prefix. */
function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

function planResponse(args: GrpcResponseArgs): Plan {
  const outputs = responseOutputs(args.outputs, args.requested, args.order, true);
  const modelName = Buffer.byteLength(args.modelName, 'utf8');
  const modelVersion = Buffer.byteLength(args.modelVersion, 'utf8');
  const id = args.id ? Buffer.byteLength(args.id, 'utf8') : 0;
  let size = (modelName > 0 ? fieldSize(modelName) : 0) + (modelVersion > 0 ? fieldSize(modelVersion) : 0) + (id > 0 ? fieldSize(id) : 0);
  const parameters = args.parameters ? parameterSizes(PARAMETERS, args.parameters) : undefined;
  if (parameters) size += parameters.total;
  const lengths = new Array<number>(outputs.length * PER_OUTPUT);
  for (let i = 0; i < outputs.length; i++) {
    const { name, tensor } = outputs[i]!;
    const nameLength = Buffer.byteLength(name, 'utf8');
    const datatypeLength = tensor.datatype.length; // ASCII
    let shapeLength = 0;
    for (const d of tensor.shape) shapeLength += int64Size(d);
    const tensorLength =
      (nameLength > 0 ? fieldSize(nameLength) : 0) + fieldSize(datatypeLength) + (shapeLength > 0 ? fieldSize(shapeLength) : 0);
    const rawLength = rawSize(tensor);
    const at = i * PER_OUTPUT;
    lengths[at] = nameLength;
    lengths[at + 1] = datatypeLength;
    lengths[at + 2] = shapeLength;
    lengths[at + 3] = tensorLength;
    lengths[at + 4] = rawLength;
    size += fieldSize(tensorLength) + fieldSize(rawLength);
  }
  return { size, outputs, lengths, strings: [modelName, modelVersion, id], parameters };
}

function rawSize(tensor: OutputTensor): number {
  if (tensor.datatype !== 'BYTES') return tensor.data.byteLength;
  let total = 0;
  for (const e of tensor.data) total += 4 + e.length;
  return total;
}

function writeResponse(w: Writer, args: GrpcResponseArgs, plan: Plan): void {
  const [modelName, modelVersion, id] = plan.strings;
  if (modelName > 0) {
    w.tag(MODEL_NAME, LENGTH_DELIMITED);
    w.string(args.modelName, modelName);
  }
  if (modelVersion > 0) {
    w.tag(MODEL_VERSION, LENGTH_DELIMITED);
    w.string(args.modelVersion, modelVersion);
  }
  if (id > 0) {
    w.tag(ID, LENGTH_DELIMITED);
    w.string(args.id!, id);
  }
  if (plan.parameters) writeParameters(w, PARAMETERS, args.parameters!, plan.parameters);
  const { outputs, lengths } = plan;
  for (let i = 0; i < outputs.length; i++) {
    const { name, tensor } = outputs[i]!;
    const at = i * PER_OUTPUT;
    w.tag(OUTPUTS, LENGTH_DELIMITED);
    w.varint(lengths[at + 3]!);
    if (lengths[at]! > 0) {
      w.tag(TENSOR_NAME, LENGTH_DELIMITED);
      w.string(name, lengths[at]!);
    }
    w.tag(TENSOR_DATATYPE, LENGTH_DELIMITED);
    w.string(tensor.datatype, lengths[at + 1]!);
    if (lengths[at + 2]! > 0) {
      w.tag(TENSOR_SHAPE, LENGTH_DELIMITED);
      w.varint(lengths[at + 2]!);
      for (const d of tensor.shape) w.int64(d);
    }
  }
  // After the tensors, as one entry each in output order.
  for (let i = 0; i < outputs.length; i++) {
    const tensor = outputs[i]!.tensor;
    w.tag(RAW_OUTPUT_CONTENTS, LENGTH_DELIMITED);
    w.varint(lengths[i * PER_OUTPUT + 4]!);
    if (tensor.datatype === 'BYTES') {
      for (const e of tensor.data) {
        w.uint32LE(e.length);
        w.raw(e);
      }
    } else {
      const data = tensor.data;
      w.raw(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }
}

function done(w: Writer): Buffer {
  // Sizes and writes must agree exactly: allocUnsafe leaves any byte we miss as stale memory.
  if (w.pos !== w.buf.length) throw new Error(`internal: encoded ${w.pos} bytes into a ${w.buf.length}-byte message`);
  return w.buf;
}
