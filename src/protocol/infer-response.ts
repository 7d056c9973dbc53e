// Encoding of v2 inference responses: JSON, or JSON plus Triton's binary tensor data. Pure: returns
// the body as chunks (no concatenation copies; binary tensors are views on the engine's outputs)
// and the headers to send.
//
// JSON data conventions (where the protocol says nothing or JSON cannot say it):
// - data is flat, row-major (as Triton).
// - BOOL as true/false (as Triton).
// - INT64/UINT64 as their exact decimal digits. JSON numbers have no precision limit as text: Python
//   clients (tritonclient) read them exactly, JavaScript's JSON.parse rounds beyond 2^53. Binary
//   data is the exact form for every client.
// - FP16 as the half's exact value (Triton refuses FP16 in JSON).
// - NaN, Infinity and -Infinity are not JSON: they are written as null (numpy reads null as NaN in a
//   float array; infinities lose their sign and value). Ask for binary outputs to keep them.
// - BYTES as strings: each element's bytes decoded as UTF-8 (invalid sequences become U+FFFD). Ask
//   for binary outputs for non-text bytes.
import type { InferOutputs, OutputTensor } from '../engine/tensor.js';
import { ProtocolError } from './errors.js';
import { fromHalfBits } from './half.js';
import { INFERENCE_HEADER_CONTENT_LENGTH, type RequestedOutput } from './infer-request.js';

export interface EncodedResponse {
  /** The body, in order: the JSON header, then each binary output's bytes. */
  body: Buffer[];
  headers: Record<string, string>;
  /** The total of the chunks' lengths (the Content-Length). */
  byteLength: number;
}

export interface EncodeResponseArgs {
  modelName: string;
  modelVersion: string;
  /** The request's id, echoed (omitted when absent or empty, as Triton). */
  id?: string;
  outputs: InferOutputs;
  /** The outputs the request listed, in its order; undefined = every output, in `order`. */
  requested?: RequestedOutput[];
  /** Binary or JSON for outputs that `requested` does not cover. */
  binaryDataOutput: boolean;
  /** The model's output order. */
  order: string[];
  /** Response parameters (a routed reply names its route and target); shared objects, never mutated. */
  parameters?: Readonly<Record<string, string | number | boolean>> | undefined;
}

/** Parameter objects are shared by every reply of a routing decision: their JSON is written once. */
const parametersJson = new WeakMap<object, string>();

function jsonOfParameters(parameters: Readonly<Record<string, string | number | boolean>>): string {
  let json = parametersJson.get(parameters);
  if (json === undefined) parametersJson.set(parameters, (json = JSON.stringify(parameters)));
  return json;
}

export function encodeInferResponse(args: EncodeResponseArgs): EncodedResponse {
  const { outputs } = args;
  const chunks: Buffer[] = [];
  let binaryLength = 0;
  let anyBinary = false;
  let json = '{';
  if (args.id !== undefined && args.id !== '') json += `"id":${JSON.stringify(args.id)},`;
  json += `"model_name":${JSON.stringify(args.modelName)},"model_version":${JSON.stringify(args.modelVersion)},`;
  if (args.parameters !== undefined) json += `"parameters":${jsonOfParameters(args.parameters)},`;
  json += '"outputs":[';

  let first = true;
  const add = (name: string, tensor: OutputTensor, binary: boolean): void => {
    json += `${first ? '' : ','}{"name":${JSON.stringify(name)},"datatype":"${tensor.datatype}","shape":[${tensor.shape.join(',')}]`;
    first = false;
    if (binary) {
      const bytes = binaryOf(tensor);
      json += `,"parameters":{"binary_data_size":${bytes.length}}}`;
      anyBinary = true;
      if (bytes.length > 0) {
        chunks.push(bytes);
        binaryLength += bytes.length;
      }
    } else {
      json += `,"data":${jsonDataOf(tensor)}}`;
    }
  };

  for (const o of responseOutputs(outputs, args.requested, args.order, args.binaryDataOutput)) add(o.name, o.tensor, o.binary);
  json += ']}';

  const header = Buffer.from(json, 'utf8');
  chunks.unshift(header);
  const headers: Record<string, string> = anyBinary
    ? {
        'Content-Type': 'application/octet-stream',
        [INFERENCE_HEADER_CONTENT_LENGTH]: String(header.length),
      }
    : { 'Content-Type': 'application/json' };
  return { body: chunks, headers, byteLength: header.length + binaryLength };
}

/** One output of a response, in response order. */
export interface ResponseOutput {
  name: string;
  tensor: OutputTensor;
  /** Sent as binary data (HTTP); the gRPC front sends every output raw. */
  binary: boolean;
}

/**
 * The outputs a response carries, in its order: the requested ones in the request's order; else
 * every output in the model's order, then any the model order does not name. Every front uses this
 * rule. A requested output missing from the result is a 500.
 */
export function responseOutputs(
  outputs: InferOutputs,
  requested: readonly RequestedOutput[] | undefined,
  order: readonly string[],
  binaryDataOutput: boolean,
): ResponseOutput[] {
  const list: ResponseOutput[] = [];
  if (requested !== undefined) {
    for (const r of requested) {
      const tensor = outputs[r.name];
      if (tensor === undefined) throw new ProtocolError(500, `output '${r.name}' is missing from the result`);
      list.push({ name: r.name, tensor, binary: r.binary });
    }
    return list;
  }
  const done = new Set<string>();
  for (const name of order) {
    const tensor = outputs[name];
    if (tensor === undefined || done.has(name)) continue;
    done.add(name);
    list.push({ name, tensor, binary: binaryDataOutput });
  }
  // Anything the model order does not name still goes out, after the rest.
  for (const name of Object.keys(outputs)) {
    if (!done.has(name)) list.push({ name, tensor: outputs[name]!, binary: binaryDataOutput });
  }
  return list;
}

/** An output's binary form: little-endian raw elements; BYTES as 4-byte LE length + bytes each. */
export function binaryOf(tensor: OutputTensor): Buffer {
  if (tensor.datatype === 'BYTES') {
    const elements = tensor.data;
    let total = 0;
    for (const e of elements) total += 4 + e.length;
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    for (const e of elements) {
      out.writeUInt32LE(e.length, at);
      at += 4;
      out.set(e, at);
      at += e.length;
    }
    return out;
  }
  const data = tensor.data;
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** An output's JSON `data` array, as text. */
export function jsonDataOf(tensor: OutputTensor): string {
  switch (tensor.datatype) {
    case 'FP32':
    case 'FP64':
      return floatsJson(tensor.data);
    case 'FP16':
      return halfJson(tensor.data);
    case 'INT8':
    case 'INT16':
    case 'INT32':
    case 'UINT8':
    case 'UINT16':
    case 'UINT32':
    case 'INT64':
    case 'UINT64':
      // join() writes integers, bigints included, as exact decimal digits.
      return `[${tensor.data.join(',')}]`;
    case 'BOOL':
      return boolJson(tensor.data);
    case 'BYTES':
      return bytesJson(tensor.data);
  }
}

function floatsJson(data: Float32Array | Float64Array): string {
  const text = data.join(',');
  // Number-to-string only ever writes 'N' (NaN) or 'I' (Infinity) for non-finite values.
  if (text.indexOf('N') === -1 && text.indexOf('I') === -1) return `[${text}]`;
  let out = '[';
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    out += (i === 0 ? '' : ',') + (Number.isFinite(v) ? String(v) : 'null');
  }
  return `${out}]`;
}

function halfJson(data: Uint16Array): string {
  let out = '[';
  for (let i = 0; i < data.length; i++) {
    const v = fromHalfBits(data[i]!);
    out += (i === 0 ? '' : ',') + (Number.isFinite(v) ? String(v) : 'null');
  }
  return `${out}]`;
}

function boolJson(data: Uint8Array): string {
  let out = '[';
  for (let i = 0; i < data.length; i++) out += (i === 0 ? '' : ',') + (data[i] ? 'true' : 'false');
  return `${out}]`;
}

function bytesJson(data: readonly Uint8Array[]): string {
  let out = '[';
  for (let i = 0; i < data.length; i++) {
    const e = data[i]!;
    const text = Buffer.isBuffer(e) ? e.toString('utf8') : Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('utf8');
    out += (i === 0 ? '' : ',') + JSON.stringify(text);
  }
  return `${out}]`;
}

