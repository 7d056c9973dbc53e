// The requests `tensorgate perf` sends: the model's inputs (from its metadata, with --shape for dims
// that are not fixed and -b rows when it batches) filled with random data, zeros, or the entries of
// an --input-data file, each set encoded once up front in the wire format of the protocol in use.
import { seededRandom } from '../onnx/sample-data.js';
import { DATATYPE_TABLE, type AnyTypedArray, type DataType } from '../engine/datatype.js';
import { protoRoot } from '../grpc/messages.js';
import { toHalfBits } from '../protocol/half.js';
import type { PerfOptions } from './options.js';

export interface TensorSpec {
  name: string;
  datatype: DataType;
  /** As the metadata reports it: -1 for a dim that is not fixed (the batch dim included). */
  shape: number[];
}

export interface ModelInfo {
  inputs: TensorSpec[];
  outputs: string[];
  maxBatchSize: number;
}

export interface Tensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: AnyTypedArray | string[];
}

/** One request's body, ready to send. */
export interface Payload {
  /** HTTP: the body and the extra headers it needs; gRPC: the encoded ModelInferRequest. */
  body: Buffer;
  headers: Record<string, string>;
}

const carrier = (datatype: DataType) => DATATYPE_TABLE.find((r) => r.name === datatype)!.carrier;

function resolveShape(spec: TensorSpec, info: ModelInfo, options: PerfOptions): number[] {
  const batched = info.maxBatchSize > 0;
  const own = batched ? spec.shape.slice(1) : spec.shape;
  const given = options.shapes.get(spec.name);
  let dims = own;
  if (given !== undefined) {
    if (given.length !== own.length || given.some((d, i) => own[i] !== -1 && own[i] !== d)) {
      throw new Error(`--shape ${spec.name}:${given.join(',')} does not fit the model's [${own.join(',')}]${batched ? ' (without the batch dimension)' : ''}`);
    }
    dims = given;
  } else if (own.some((d) => d < 0)) {
    throw new Error(`input '${spec.name}' has dims that are not fixed ([${own.join(',')}]${batched ? ' without the batch dimension' : ''}): give --shape ${spec.name}:...`);
  }
  return batched ? [options.batchSize, ...dims] : dims;
}

function fill(datatype: DataType, count: number, next: (() => number) | undefined): AnyTypedArray | string[] {
  if (datatype === 'BYTES') return Array.from({ length: count }, () => (next ? Math.floor(next() * 1e9).toString(36) : ''));
  const Ctor = carrier(datatype)!;
  const out = new Ctor(count);
  if (!next) return out;
  for (let i = 0; i < count; i++) {
    const u = next();
    switch (datatype) {
      case 'FP32':
      case 'FP64':
        (out as Float32Array)[i] = u;
        break;
      case 'FP16':
        (out as Uint16Array)[i] = toHalfBits(u);
        break;
      case 'BOOL':
        (out as Uint8Array)[i] = u < 0.5 ? 0 : 1;
        break;
      case 'INT64':
        (out as BigInt64Array)[i] = BigInt(Math.floor(u * 100) - 50);
        break;
      case 'UINT64':
        (out as BigUint64Array)[i] = BigInt(Math.floor(u * 100));
        break;
      default:
        (out as Int32Array)[i] = Math.floor(u * 100) - (datatype.startsWith('INT') ? 50 : 0);
    }
  }
  return out;
}

function fromFile(spec: TensorSpec, shape: number[], value: unknown, where: string): Tensor {
  const entry = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as { content?: unknown; shape?: unknown }) : { content: value };
  const own = Array.isArray(entry.shape) ? (entry.shape as number[]) : shape;
  const flat = Array.isArray(entry.content) ? (entry.content as unknown[]).flat(Infinity) : undefined;
  const count = own.reduce((a, b) => a * b, 1);
  if (flat === undefined || flat.length !== count) throw new Error(`${where}: input '${spec.name}' needs ${count} values for shape [${own.join(',')}], got ${flat?.length ?? 'none'}`);
  if (spec.datatype === 'BYTES') return { name: spec.name, datatype: spec.datatype, shape: own, data: flat.map(String) };
  const data = new (carrier(spec.datatype)!)(count);
  flat.forEach((v, i) => {
    const n = Number(v);
    if (spec.datatype === 'INT64' || spec.datatype === 'UINT64') (data as BigInt64Array)[i] = BigInt(Math.trunc(n));
    else if (spec.datatype === 'FP16') (data as Uint16Array)[i] = toHalfBits(n);
    else (data as Float32Array)[i] = n;
  });
  return { name: spec.name, datatype: spec.datatype, shape: own, data };
}

/** The input sets requests cycle through. */
export function inputSets(info: ModelInfo, options: PerfOptions): Tensor[][] {
  const data = options.inputData;
  if (typeof data === 'object') {
    return data.sets.map((set, k) =>
      info.inputs.map((spec) => {
        if (!(spec.name in set)) throw new Error(`${data.file}: entry ${k} has no input '${spec.name}'`);
        const value = set[spec.name];
        const own = value !== null && typeof value === 'object' && Array.isArray((value as { shape?: unknown }).shape);
        // An entry that gives its shape needs no --shape.
        return fromFile(spec, own ? [] : resolveShape(spec, info, options), value, `${data.file} entry ${k}`);
      }),
    );
  }
  const shapes = info.inputs.map((spec) => resolveShape(spec, info, options));
  const next = data === 'random' ? seededRandom(options.seed) : undefined;
  return [info.inputs.map((spec, i) => ({ name: spec.name, datatype: spec.datatype, shape: shapes[i]!, data: fill(spec.datatype, shapes[i]!.reduce((a, b) => a * b, 1), next) }))];
}

/** A tensor's raw bytes as the binary extension and gRPC's raw contents carry them. */
export function rawBytes(t: Tensor): Buffer {
  if (t.datatype !== 'BYTES') {
    const a = t.data as AnyTypedArray;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  }
  const parts: Buffer[] = [];
  for (const s of t.data as string[]) {
    const b = Buffer.from(s);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    parts.push(len, b);
  }
  return Buffer.concat(parts);
}

function jsonValues(t: Tensor): unknown[] {
  if (t.datatype === 'BYTES') return t.data as string[];
  const a = t.data as AnyTypedArray;
  if (a instanceof BigInt64Array || a instanceof BigUint64Array) return Array.from(a, Number);
  if (t.datatype === 'BOOL') return Array.from(a as Uint8Array, (v) => v !== 0);
  return Array.from(a as Float32Array);
}

/** The v2 HTTP body of one input set (binary tensor extension or JSON). */
export function httpPayload(tensors: Tensor[], info: ModelInfo, options: PerfOptions): Payload {
  const binaryOut = options.outputFormat === 'binary';
  const outputs = binaryOut ? info.outputs.map((name) => ({ name, parameters: { binary_data: true } })) : undefined;
  if (options.inputFormat === 'json') {
    const body = JSON.stringify({ inputs: tensors.map((t) => ({ name: t.name, shape: t.shape, datatype: t.datatype, data: jsonValues(t) })), ...(outputs ? { outputs } : {}) });
    return { body: Buffer.from(body), headers: { 'content-type': 'application/json' } };
  }
  const raws = tensors.map(rawBytes);
  const header = Buffer.from(
    JSON.stringify({
      inputs: tensors.map((t, i) => ({ name: t.name, shape: t.shape, datatype: t.datatype, parameters: { binary_data_size: raws[i]!.length } })),
      ...(outputs ? { outputs } : {}),
    }),
  );
  return { body: Buffer.concat([header, ...raws]), headers: { 'inference-header-content-length': String(header.length), 'content-type': 'application/octet-stream' } };
}

/** The encoded ModelInferRequest of one input set (raw contents). */
export function grpcPayload(tensors: Tensor[], options: PerfOptions): Payload {
  const type = protoRoot.lookupType('inference.ModelInferRequest');
  const message = type.fromObject({
    model_name: options.model,
    model_version: options.version ?? '',
    inputs: tensors.map((t) => ({ name: t.name, datatype: t.datatype, shape: t.shape })),
    raw_input_contents: tensors.map(rawBytes),
  });
  const bytes = type.encode(message).finish();
  return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), headers: {} };
}
