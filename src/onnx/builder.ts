// A small, deterministic ONNX graph builder over onnx-proto. Used to generate test and example
// models in code instead of checking binary .onnx files into the repository: the same calls always
// serialize to the same bytes (no timestamps, names and ordering fixed by call order).

import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { ONNX_TYPE, UNSUPPORTED_ONNX_TYPES } from '../engine/datatype.js';

// onnx-proto is CommonJS whose exports Node cannot detect statically, so take it off the default.
const { onnx } = onnxProto;

/** ONNX TensorProto.DataType values, under ONNX's own names (from the datatype table). */
export const ElemType = {
  FLOAT: ONNX_TYPE.FP32,
  UINT8: ONNX_TYPE.UINT8,
  INT8: ONNX_TYPE.INT8,
  UINT16: ONNX_TYPE.UINT16,
  INT16: ONNX_TYPE.INT16,
  INT32: ONNX_TYPE.INT32,
  INT64: ONNX_TYPE.INT64,
  STRING: ONNX_TYPE.BYTES,
  BOOL: ONNX_TYPE.BOOL,
  FLOAT16: ONNX_TYPE.FP16,
  DOUBLE: ONNX_TYPE.FP64,
  UINT32: ONNX_TYPE.UINT32,
  UINT64: ONNX_TYPE.UINT64,
  BFLOAT16: UNSUPPORTED_ONNX_TYPES.find((t) => t.name === 'BF16')!.onnx,
} as const;
export type ElemType = (typeof ElemType)[keyof typeof ElemType];

/**
 * One dimension of a graph input or output: a fixed size, a symbolic name ('batch'), or
 * -1 / null for an anonymous dynamic dimension.
 */
export type Dim = number | string | null;

/**
 * Initializer contents. Numbers for float/int types; bigints (or safe-integer numbers) for
 * INT64/UINT64; raw IEEE bit patterns for FLOAT16 and BFLOAT16; 0/1 or booleans for BOOL;
 * strings or byte arrays for STRING.
 */
export type TensorData =
  | ArrayLike<number>
  | ArrayLike<bigint>
  | readonly boolean[]
  | ReadonlyArray<string | Uint8Array>;

/** An attribute value, made with the `attr` helpers so int and float are never confused. */
export type AttrValue =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'int'; readonly value: number | bigint }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'ints'; readonly value: ReadonlyArray<number | bigint> }
  | { readonly kind: 'string'; readonly value: string }
  | { readonly kind: 'strings'; readonly value: readonly string[] }
  | { readonly kind: 'tensor'; readonly value: OnnxTypes.ITensorProto };

export const attr = {
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  int: (value: number | bigint): AttrValue => ({ kind: 'int', value }),
  floats: (value: ArrayLike<number>): AttrValue => ({ kind: 'floats', value: Array.from(value) }),
  ints: (value: ArrayLike<number | bigint>): AttrValue => ({ kind: 'ints', value: Array.from(value) }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
  strings: (value: readonly string[]): AttrValue => ({ kind: 'strings', value: [...value] }),
  tensor: (elemType: ElemType, dims: readonly number[], data: TensorData): AttrValue => ({
    kind: 'tensor',
    value: makeTensor('', elemType, dims, data),
  }),
};

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface BuildOptions {
  opsetImports?: OpsetImport[];
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  graphName?: string;
  docString?: string;
}

export const DEFAULT_OPSETS: readonly OpsetImport[] = [
  { domain: '', version: 17 },
  { domain: 'ai.onnx.ml', version: 3 },
];

export class GraphBuilder {
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly names = new Set<string>();
  private readonly counters = new Map<string, number>();

  /** Declares a graph input. */
  input(name: string, elemType: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(this.claim(name), elemType, dims));
    return name;
  }

  /** Declares a graph output; `name` must be produced by a node or be an input/initializer. */
  output(name: string, elemType: ElemType, dims: readonly Dim[]): string {
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Adds a constant tensor (stored as little-endian raw_data, or string_data for STRING). */
  initializer(name: string, elemType: ElemType, dims: readonly number[], data: TensorData): string {
    this.initializers.push(makeTensor(this.claim(name), elemType, dims, data));
    return name;
  }

  /** Adds a node. Attributes are emitted sorted by name so the bytes do not depend on key order. */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attributes: Readonly<Record<string, AttrValue>> = {},
    domain = '',
  ): string[] {
    for (const out of outputs) this.claim(out);
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      opType,
      domain,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.keys(attributes)
        .sort()
        .map((key) => makeAttribute(key, attributes[key]!)),
    });
    return [...outputs];
  }

  /** Adds a single-output node whose output gets a fresh name; returns that name. */
  op(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, AttrValue>> = {},
    domain = '',
  ): string {
    const out = this.fresh(opType.toLowerCase());
    this.node(opType, inputs, [out], attributes, domain);
    return out;
  }

  /** A name not used yet in this graph: `${prefix}_${n}` with n counting per prefix. */
  fresh(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name = `${prefix}_${n}`;
    while (this.names.has(name)) name = `${prefix}_${++n}`;
    this.counters.set(prefix, n + 1);
    return name;
  }

  /** Serializes a ModelProto. */
  build(options: BuildOptions = {}): Uint8Array {
    const model: OnnxTypes.IModelProto = {
      irVersion: options.irVersion ?? 8,
      producerName: options.producerName ?? 'tensorgate-builder',
      producerVersion: options.producerVersion ?? '',
      docString: options.docString ?? '',
      opsetImport: (options.opsetImports ?? DEFAULT_OPSETS).map((o) => ({ domain: o.domain, version: o.version })),
      graph: {
        name: options.graphName ?? 'main',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }

  private claim(name: string): string {
    if (name === '') throw new Error('tensor names must not be empty');
    if (this.names.has(name)) throw new Error(`tensor name ${name} is already defined`);
    this.names.add(name);
    return name;
  }
}

function valueInfo(name: string, elemType: ElemType, dims: readonly Dim[]): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map(dimension) } } },
  };
}

function dimension(dim: Dim): OnnxTypes.TensorShapeProto.IDimension {
  if (dim === null || dim === -1) return {};
  if (typeof dim === 'string') return { dimParam: dim };
  if (!Number.isSafeInteger(dim) || dim < 0) throw new Error(`invalid dimension ${dim}`);
  return { dimValue: dim };
}

function makeAttribute(name: string, a: AttrValue): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'int':
      return { name, type: T.INT, i: int64(a.value) };
    case 'floats':
      return { name, type: T.FLOATS, floats: [...a.value] };
    case 'ints':
      return { name, type: T.INTS, ints: a.value.map(int64) };
    case 'string':
      return { name, type: T.STRING, s: utf8(a.value) };
    case 'strings':
      return { name, type: T.STRINGS, strings: a.value.map(utf8) };
    case 'tensor':
      return { name, type: T.TENSOR, t: a.value };
  }
}

function makeTensor(
  name: string,
  elemType: ElemType,
  dims: readonly number[],
  data: TensorData,
): OnnxTypes.ITensorProto {
  const count = dims.reduce((n, d) => n * d, 1);
  if (data.length !== count) {
    throw new Error(`tensor ${name}: ${data.length} values for shape [${dims.join(', ')}]`);
  }
  const tensor: OnnxTypes.ITensorProto = { name, dataType: elemType, dims: dims.map(int64) };
  if (elemType === ElemType.STRING) {
    tensor.stringData = Array.from(data as ArrayLike<unknown>, stringElement);
  } else {
    tensor.rawData = encodeRaw(elemType, data);
  }
  return tensor;
}

function stringElement(value: unknown): Uint8Array {
  if (typeof value === 'string') return utf8(value);
  if (value instanceof Uint8Array) return value;
  throw new Error('STRING tensors take strings or Uint8Arrays');
}

/** Element size in bytes and a little-endian writer for each fixed-size type. */
const RAW_WRITERS: Record<number, [number, (view: DataView, offset: number, v: unknown) => void]> = {
  [ElemType.FLOAT]: [4, (d, o, v) => d.setFloat32(o, Number(v), true)],
  [ElemType.DOUBLE]: [8, (d, o, v) => d.setFloat64(o, Number(v), true)],
  [ElemType.UINT8]: [1, (d, o, v) => d.setUint8(o, Number(v))],
  [ElemType.INT8]: [1, (d, o, v) => d.setInt8(o, Number(v))],
  [ElemType.BOOL]: [1, (d, o, v) => d.setUint8(o, v ? 1 : 0)],
  [ElemType.UINT16]: [2, (d, o, v) => d.setUint16(o, Number(v), true)],
  [ElemType.INT16]: [2, (d, o, v) => d.setInt16(o, Number(v), true)],
  [ElemType.FLOAT16]: [2, (d, o, v) => d.setUint16(o, Number(v), true)],
  [ElemType.BFLOAT16]: [2, (d, o, v) => d.setUint16(o, Number(v), true)],
  [ElemType.UINT32]: [4, (d, o, v) => d.setUint32(o, Number(v), true)],
  [ElemType.INT32]: [4, (d, o, v) => d.setInt32(o, Number(v), true)],
  [ElemType.INT64]: [8, (d, o, v) => d.setBigInt64(o, BigInt(v as number | bigint), true)],
  [ElemType.UINT64]: [8, (d, o, v) => d.setBigUint64(o, BigInt(v as number | bigint), true)],
};

function encodeRaw(elemType: ElemType, data: TensorData): Uint8Array {
  const writer = RAW_WRITERS[elemType];
  if (!writer) throw new Error(`unsupported initializer element type ${elemType}`);
  const [size, write] = writer;
  const bytes = new Uint8Array(data.length * size);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) write(view, i * size, data[i]);
  return bytes;
}

/** onnx-proto's own 64-bit integer type (its protobufjs copy, not ours). */
type Long = Exclude<NonNullable<OnnxTypes.ITensorProto['int64Data']>[number], number>;

/** protobufjs takes int64 as a number when safe, otherwise as {low, high} words (a Long-like). */
function int64(value: number | bigint): number | Long {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error(`int64 value ${value} is not a safe integer`);
    return value;
  }
  const v = BigInt.asIntN(64, value);
  if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  return { low: Number(BigInt.asIntN(32, v)), high: Number(BigInt.asIntN(32, v >> 32n)), unsigned: false } as unknown as Long;
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Seeded PRNG (mulberry32): a deterministic stream of floats in [0, 1) (one implementation: sample-data.ts). */
export { seededRandom as mulberry32 } from './sample-data.js';

/** `count` float32 values uniform in [-scale, scale) drawn from `rng`. */
export function uniform(rng: () => number, count: number, scale = 1): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (rng() * 2 - 1) * scale;
  return out;
}
