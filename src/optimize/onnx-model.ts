// ONNX model files in and out, on protobufjs 7 with tensorgate's own proto/onnx.proto (loaded at run
// time, as the gRPC front loads its protos). Models are plain objects (the interfaces below, field
// names as in the proto) so the optimizer edits them with ordinary code; 64-bit integers are read as
// decimal strings (exact: Slice's INT64_MAX survives) and may be written as numbers or strings.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** An int64 field: decimal strings when read, numbers or strings when written. */
export type Int64 = number | string;

export interface StringEntry {
  key?: string;
  value?: string;
}

export interface OnnxTensor {
  name?: string;
  dims?: Int64[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: ArrayLike<number>;
  int32_data?: ArrayLike<number>;
  int64_data?: Int64[];
  double_data?: ArrayLike<number>;
  uint64_data?: Int64[];
  string_data?: Uint8Array[];
  external_data?: StringEntry[];
  data_location?: number;
  doc_string?: string;
  segment?: { begin?: Int64; end?: Int64 };
  metadata_props?: StringEntry[];
}

export interface OnnxDimension {
  dim_value?: Int64;
  dim_param?: string;
  denotation?: string;
}

export interface OnnxType {
  tensor_type?: { elem_type?: number; shape?: { dim?: OnnxDimension[] } };
  sequence_type?: { elem_type?: OnnxType };
  map_type?: { key_type?: number; value_type?: OnnxType };
  optional_type?: { elem_type?: OnnxType };
  sparse_tensor_type?: { elem_type?: number; shape?: { dim?: OnnxDimension[] } };
  opaque_type?: { domain?: string; name?: string };
  denotation?: string;
}

export interface OnnxValueInfo {
  name?: string;
  type?: OnnxType;
  doc_string?: string;
  metadata_props?: StringEntry[];
}

export interface OnnxAttribute {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: OnnxTensor[];
  graphs?: OnnxGraph[];
  /** Sparse tensors and type protos: carried through untouched. */
  [other: string]: unknown;
}

export interface OnnxNode {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute?: OnnxAttribute[];
  doc_string?: string;
  [other: string]: unknown;
}

export interface OnnxGraph {
  node?: OnnxNode[];
  name?: string;
  initializer?: OnnxTensor[];
  sparse_initializer?: unknown[];
  doc_string?: string;
  input?: OnnxValueInfo[];
  output?: OnnxValueInfo[];
  value_info?: OnnxValueInfo[];
  quantization_annotation?: unknown[];
  metadata_props?: StringEntry[];
}

export interface OpsetId {
  domain?: string;
  version?: Int64;
}

export interface OnnxModel {
  ir_version?: Int64;
  opset_import?: OpsetId[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: OnnxGraph;
  metadata_props?: StringEntry[];
  [other: string]: unknown;
}

/** AttributeProto.AttributeType. */
export const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10 } as const;

/** TensorProto.DataType values the optimizer works with. */
export const ELEM = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11 } as const;

// proto/ sits two levels above this module both in src/ (tsx) and in dist/ (tsc).
const PROTO_FILE = fileURLToPath(new URL('../../proto/onnx.proto', import.meta.url));

let modelType: protobuf.Type | undefined;
function type(): protobuf.Type {
  if (!modelType) {
    const root = new protobuf.Root().loadSync(PROTO_FILE, { keepCase: true });
    root.resolveAll();
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, arrays: true, defaults: false };

/** Decodes ModelProto bytes. Byte fields (raw_data) are views on `bytes`: keep it unchanged. */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const t = type();
  let message: protobuf.Message;
  try {
    message = t.decode(bytes);
  } catch (err) {
    throw new Error(`not an ONNX model (protobuf decoding failed: ${(err as Error).message})`);
  }
  const model = t.toObject(message, TO_OBJECT) as OnnxModel;
  if (!model.graph) throw new Error('not an ONNX model: it has no graph');
  return model;
}

/** Serializes a model (protobuf's limit: the result must stay under 2 GiB; see model-file.ts). */
export function encodeModel(model: OnnxModel): Uint8Array {
  return type().encode(model as Record<string, unknown>).finish();
}

/** Every graph of the model: the main graph, then subgraphs (If/Loop/Scan bodies) depth first. */
export function allGraphs(graph: OnnxGraph): OnnxGraph[] {
  const out: OnnxGraph[] = [graph];
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      if (a.g) out.push(...allGraphs(a.g));
      for (const g of a.graphs ?? []) out.push(...allGraphs(g));
    }
  }
  return out;
}

/** Number of nodes of each op type ("domain:Op" outside the standard domain), subgraphs included. */
export function opCounts(model: OnnxModel): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const g of allGraphs(model.graph!)) {
    for (const n of g.node ?? []) {
      const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}:${n.op_type}` : String(n.op_type);
      counts[key] = (counts[key] ?? 0) + 1;
    }
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

/** The model's version of an operator set ('' is the standard one), or undefined if not imported. */
export function opsetVersion(model: OnnxModel, domain = ''): number | undefined {
  const same = (d: string | undefined) => (d ?? '') === domain || (domain === '' && d === 'ai.onnx');
  const entry = model.opset_import?.find((o) => same(o.domain));
  return entry ? Number(entry.version) : undefined;
}

/** Imports an operator set at `version` unless the model already imports it (at any version). */
export function ensureOpset(model: OnnxModel, domain: string, version: number): void {
  if (opsetVersion(model, domain) === undefined) (model.opset_import ??= []).push({ domain, version });
}

export function attribute(node: OnnxNode, name: string): OnnxAttribute | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function intAttribute(node: OnnxNode, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a?.i !== undefined ? Number(a.i) : fallback;
}

export function floatAttribute(node: OnnxNode, name: string, fallback: number): number {
  return attribute(node, name)?.f ?? fallback;
}

export const attr = {
  int: (name: string, i: number): OnnxAttribute => ({ name, type: ATTR.INT, i }),
  float: (name: string, f: number): OnnxAttribute => ({ name, type: ATTR.FLOAT, f }),
  ints: (name: string, ints: number[]): OnnxAttribute => ({ name, type: ATTR.INTS, ints }),
  string: (name: string, s: string): OnnxAttribute => ({ name, type: ATTR.STRING, s: Buffer.from(s, 'utf8') }),
  tensor: (name: string, t: OnnxTensor): OnnxAttribute => ({ name, type: ATTR.TENSOR, t }),
};

/** The element type of a value info's tensor type, or undefined for non-tensors. */
export function elemTypeOf(info: OnnxValueInfo): number | undefined {
  return info.type?.tensor_type?.elem_type;
}

/** A value info's dims: numbers, symbolic names, or null for anonymous dynamic ones; undefined if unranked. */
export function dimsOf(info: OnnxValueInfo): Array<number | string | null> | undefined {
  const shape = info.type?.tensor_type?.shape;
  if (!shape) return undefined;
  return (shape.dim ?? []).map((d) => (d.dim_value !== undefined ? Number(d.dim_value) : d.dim_param ? d.dim_param : null));
}
