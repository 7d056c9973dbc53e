// fp32 → fp16: float initializers and every float value computed by a convertible node become FLOAT16;
// nodes of blocked op types (or named with --block-nodes) keep computing in fp32 behind Casts at the
// region's borders. Constants are clamped to fp16's finite range (±65504) first, so a large fp32
// constant turns into the largest half rather than infinity. fp16 halves weight bytes and is what
// GPU providers (CUDA, TensorRT) run fast; ONNX Runtime's CPU provider has few fp16 kernels and casts
// around the rest, so on CPU it is usually slower than fp32.
import { inferElemTypes } from './elem-types.js';
import { GraphEditor } from './graph-edit.js';
import { allGraphs, attr, attribute, ELEM, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './onnx-model.js';
import { floatValues, makeTensor, tensorDims, toHalf } from './tensor-data.js';

/** Kept in fp32 by default: no fp16 form in the spec, or fp16 would hurt their result. */
export const DEFAULT_BLOCK_OPS = [
  'NonMaxSuppression',
  'RoiAlign',
  'Range',
  'CumSum',
  'RandomNormal',
  'RandomNormalLike',
  'RandomUniform',
  'RandomUniformLike',
  'Multinomial',
  'Upsample',
  'QuantizeLinear',
  'DequantizeLinear',
  'DynamicQuantizeLinear',
] as const;

/** Inputs that must stay FLOAT whatever the data type (Resize's scales). */
const FLOAT_ONLY_SLOTS: Record<string, number[]> = { Resize: [2] };

export interface Fp16Options {
  /** Keep the model's float inputs and outputs FP32 (Casts at the edges). */
  keepIoTypes?: boolean;
  /** Op types kept in fp32 (default DEFAULT_BLOCK_OPS); operators outside the standard domain always are. */
  blockOps?: readonly string[];
  /** Node names kept in fp32. */
  blockNodes?: readonly string[];
}

export interface Fp16Summary {
  convertedInitializers: number;
  /** Constant values outside ±65504 that were clamped. */
  clampedValues: number;
  /** Nodes left in fp32, by op type. */
  blocked: Record<string, number>;
  casts: number;
  notes: string[];
}

/** Converts `model` in place. */
export function convertToFp16(model: OnnxModel, options: Fp16Options = {}): Fp16Summary {
  if (allGraphs(model.graph!).length > 1) throw new Error('convert-fp16: models with control-flow subgraphs (If, Loop, Scan) are not supported');
  const g = new GraphEditor(model.graph!);
  g.constantsToInitializers();
  const names = new Set(g.nodes.map((n) => n.name ?? ''));
  const unknown = (options.blockNodes ?? []).filter((n) => !names.has(n));
  if (unknown.length > 0) throw new Error(`--block-nodes: the model has no node named ${unknown.map((n) => `'${n}'`).join(', ')}`);
  const blockOps = new Set(options.blockOps ?? DEFAULT_BLOCK_OPS);
  const blockNodes = new Set(options.blockNodes ?? []);
  const blocked = (n: OnnxNode) => ((n.domain ?? '') !== '' && n.domain !== 'ai.onnx') || blockOps.has(n.op_type ?? '') || blockNodes.has(n.name ?? '');

  const types = inferElemTypes(model.graph!);
  const isFloat = (name: string) => name !== '' && types.get(name) === ELEM.FLOAT;
  /** How each float value is held now: 'half' or 'single'. */
  const held = new Map<string, 'half' | 'single'>();
  const summary: Fp16Summary = { convertedInitializers: 0, clampedValues: 0, blocked: {}, casts: 0, notes: [] };

  for (const input of model.graph!.input ?? []) {
    const name = input.name ?? '';
    if (!isFloat(name) || g.initializer(name)) continue;
    if (options.keepIoTypes) held.set(name, 'single');
    else {
      setElemType(input, ELEM.FLOAT16);
      held.set(name, 'half');
    }
  }

  // Float initializers: fp16 unless a reader needs fp32; then a half copy serves the others.
  const readers = new Map<string, Array<{ node: OnnxNode; slot: number }>>();
  for (const node of g.nodes) (node.input ?? []).forEach((i, slot) => i && readers.set(i, [...(readers.get(i) ?? []), { node, slot }]));
  const wantsSingle = (node: OnnxNode, slot: number) => blocked(node) || (FLOAT_ONLY_SLOTS[node.op_type ?? ''] ?? []).includes(slot);
  const halfCopies = new Map<string, string>();
  for (const t of [...(model.graph!.initializer ?? [])]) {
    const name = t.name ?? '';
    if (t.data_type !== ELEM.FLOAT || g.isGraphInput(name)) continue;
    const uses = readers.get(name) ?? [];
    if (uses.length === 0 && !g.isGraphOutput(name)) continue;
    const half = halfTensor(t, name, summary);
    if (uses.every((u) => !wantsSingle(u.node, u.slot)) && !g.isGraphOutput(name)) {
      Object.assign(t, half, { name });
      held.set(name, 'half');
    } else {
      held.set(name, 'single');
      if (uses.some((u) => !wantsSingle(u.node, u.slot))) halfCopies.set(name, g.addInitializer({ ...half, name: g.fresh(`${name}_fp16`) }));
    }
  }

  const casts = new Map<string, string>();
  const castTo = (name: string, to: 'half' | 'single', out: OnnxNode[]): string => {
    const key = `${name}|${to}`;
    let cast = casts.get(key);
    if (!cast) {
      cast = g.fresh(`${name}_${to === 'half' ? 'fp16' : 'fp32'}`);
      out.push({ op_type: 'Cast', name: g.fresh(`${name}_Cast`), input: [name], output: [cast], attribute: [attr.int('to', to === 'half' ? ELEM.FLOAT16 : ELEM.FLOAT)] });
      casts.set(key, cast);
      summary.casts++;
    }
    return cast;
  };

  const rewritten: OnnxNode[] = [];
  for (const node of g.nodes) {
    const single = blocked(node);
    if (single) summary.blocked[node.op_type ?? ''] = (summary.blocked[node.op_type ?? ''] ?? 0) + 1;
    node.input = (node.input ?? []).map((name, slot) => {
      if (!isFloat(name) || !held.has(name)) return name;
      const need = wantsSingle(node, slot) ? 'single' : 'half';
      if (held.get(name) === need) return name;
      if (need === 'half' && halfCopies.has(name)) return halfCopies.get(name)!;
      return castTo(name, need, rewritten);
    });
    if (!single) convertAttributes(node, summary);
    rewritten.push(node);
    for (const o of node.output ?? []) if (isFloat(o)) held.set(o, single ? 'single' : 'half');
  }

  // Graph outputs: FLOAT16, or FP32 through a final Cast with --keep-io-types.
  for (const output of model.graph!.output ?? []) {
    const name = output.name ?? '';
    if (!isFloat(name) || !held.has(name)) continue;
    const state = held.get(name)!;
    if (!options.keepIoTypes) {
      if (state === 'single') setElemType(output, ELEM.FLOAT);
      else setElemType(output, ELEM.FLOAT16);
      continue;
    }
    if (state === 'single') continue;
    const inner = g.fresh(`${name}_fp16`);
    for (const n of rewritten) {
      n.output = (n.output ?? []).map((o) => (o === name ? inner : o));
      n.input = (n.input ?? []).map((i) => (i === name ? inner : i));
    }
    rewritten.push({ op_type: 'Cast', name: g.fresh(`${name}_Cast`), input: [inner], output: [name], attribute: [attr.int('to', ELEM.FLOAT)] });
    summary.casts++;
  }

  model.graph!.node = rewritten;
  for (const v of model.graph!.value_info ?? []) {
    if (elemTypeIs(v, ELEM.FLOAT) && held.get(v.name ?? '') === 'half') setElemType(v, ELEM.FLOAT16);
  }
  g.removeUnusedInitializers();
  g.sort();
  if (summary.clampedValues > 0) summary.notes.push(`${summary.clampedValues} constant values beyond fp16's ±65504 were clamped`);
  summary.notes.push("fp16 is for GPU providers (CUDA, TensorRT); ONNX Runtime's CPU provider lacks most fp16 kernels and casts around them, so expect it to be slower on CPU");
  return summary;
}

function halfTensor(t: OnnxTensor, name: string, summary: Fp16Summary): OnnxTensor {
  const { bits, clamped } = toHalf(floatValues(t)!);
  summary.convertedInitializers++;
  summary.clampedValues += clamped;
  return makeTensor(name, ELEM.FLOAT16, tensorDims(t), bits);
}

/** Cast targets and tensor-valued attributes of a node that now computes in fp16. */
function convertAttributes(node: OnnxNode, summary: Fp16Summary): void {
  const op = node.op_type;
  if (op === 'Cast') {
    const to = attribute(node, 'to');
    if (to && Number(to.i) === ELEM.FLOAT) to.i = ELEM.FLOAT16;
  }
  if (op === 'ConstantOfShape' || op === 'Constant') {
    const value = attribute(node, 'value');
    if (value?.t && value.t.data_type === ELEM.FLOAT) value.t = halfTensor(value.t, value.t.name ?? '', summary);
  }
}

function elemTypeIs(v: OnnxValueInfo, t: number): boolean {
  return v.type?.tensor_type?.elem_type === t;
}

function setElemType(v: OnnxValueInfo, t: number): void {
  if (v.type?.tensor_type) v.type.tensor_type.elem_type = t;
}
