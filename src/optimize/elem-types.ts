// The element type of every value in a graph, propagated from the inputs and initializers through the
// operators' type rules (most ops keep their first input's type). Rewrites use it to touch float
// values only: an Add of INT64 shape arithmetic must not get a u8 QuantizeLinear or an fp16 Cast.
// Declared value_info wins where present; unknown stays undefined (callers then leave it alone).
import { attribute, ELEM, type OnnxGraph, type OnnxNode } from './onnx-model.js';

const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin', 'NonMaxSuppression']);
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT32_OUT = new Set(['MatMulInteger', 'ConvInteger']);
/** Ops whose outputs may differ from input 0 in ways not modelled here. */
const OPAQUE = new Set(['If', 'Loop', 'Scan', 'SequenceAt', 'SplitToSequence', 'ConcatFromSequence', 'Optional', 'OptionalGetElement']);

export function inferElemTypes(graph: OnnxGraph): Map<string, number> {
  const types = new Map<string, number>();
  for (const v of graph.input ?? []) if (v.type?.tensor_type?.elem_type) types.set(v.name ?? '', v.type.tensor_type.elem_type);
  for (const t of graph.initializer ?? []) if (t.data_type) types.set(t.name ?? '', t.data_type);
  const declared = new Map<string, number>();
  for (const v of [...(graph.value_info ?? []), ...(graph.output ?? [])]) {
    const e = v.type?.tensor_type?.elem_type;
    if (e) declared.set(v.name ?? '', e);
  }
  for (const node of graph.node ?? []) {
    const outs = outputTypes(node, (name) => types.get(name));
    (node.output ?? []).forEach((o, i) => {
      const t = declared.get(o) ?? outs[i];
      if (o && t !== undefined) types.set(o, t);
    });
  }
  return types;
}

function outputTypes(node: OnnxNode, typeOf: (name: string) => number | undefined): Array<number | undefined> {
  const op = node.op_type ?? '';
  const domain = node.domain ?? '';
  const inputs = node.input ?? [];
  const first = typeOf(inputs[0] ?? '');
  const n = node.output?.length ?? 0;
  const all = (t: number | undefined) => Array.from({ length: n }, () => t);
  if (domain === 'com.microsoft') {
    if (op === 'DynamicQuantizeMatMul' || op === 'MatMulIntegerToFloat' || op === 'DequantizeLinear') return all(ELEM.FLOAT);
    if (op === 'QuantizeLinear') return all(typeOf(inputs[2] ?? '') ?? ELEM.UINT8);
    return all(first);
  }
  if (domain !== '' && domain !== 'ai.onnx') return all(undefined);
  if (OPAQUE.has(op)) return all(undefined);
  if (INT64_OUT.has(op)) return all(ELEM.INT64);
  if (BOOL_OUT.has(op)) return all(ELEM.BOOL);
  if (INT32_OUT.has(op)) return all(ELEM.INT32);
  switch (op) {
    case 'Cast':
      return all(Number(attribute(node, 'to')?.i));
    case 'CastLike':
      return all(typeOf(inputs[1] ?? ''));
    case 'Constant': {
      const a = node.attribute?.[0];
      if (a?.t) return all(a.t.data_type);
      return all(a?.name === 'value_float' || a?.name === 'value_floats' ? ELEM.FLOAT : a?.name?.startsWith('value_int') ? ELEM.INT64 : undefined);
    }
    case 'ConstantOfShape':
      return all(attribute(node, 'value')?.t?.data_type ?? ELEM.FLOAT);
    case 'TopK':
    case 'MaxPool':
      return [first, ELEM.INT64];
    case 'QuantizeLinear':
      return all(typeOf(inputs[2] ?? '') ?? ELEM.UINT8);
    case 'DequantizeLinear':
      return all(typeOf(inputs[1] ?? '') ?? ELEM.FLOAT);
    case 'DynamicQuantizeLinear':
      return [ELEM.UINT8, ELEM.FLOAT, ELEM.UINT8];
    case 'Where':
      return all(typeOf(inputs[1] ?? ''));
    case 'OneHot':
      return all(typeOf(inputs[2] ?? ''));
    case 'RandomNormal':
    case 'RandomUniform':
      return all(Number(attribute(node, 'dtype')?.i ?? ELEM.FLOAT));
    case 'Dropout':
      return [first, ELEM.BOOL];
    case 'Unique':
      return [first, ELEM.INT64, ELEM.INT64, ELEM.INT64];
    default:
      return all(first ?? inputs.map(typeOf).find((t) => t !== undefined));
  }
}
