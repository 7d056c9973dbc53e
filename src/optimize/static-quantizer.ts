// Static int8 quantization in QDQ form: QuantizeLinear/DequantizeLinear pairs at scales calibrated on
// sample data, the layout ONNX Runtime's QDQ transformers fuse into QLinearConv, QLinearMatMul, QGemm,
// QLinearAdd, QLinearMul, QLinearGlobalAveragePool and friends. Activations are u8 (asymmetric),
// weights s8 (symmetric, per tensor or per output channel), biases int32 at input·weight scale.
//
// Two kinds of node: weighted ones (Conv, MatMul, Gemm with a constant weight) and activation ones
// (Add, Mul, pools, Concat, MatMul of two activations) whose float inputs and output are quantized so
// that chains of quantized nodes stay in int8 between the weighted ones. Constant inputs of activation
// ones (Add's bias, HardSwish's 3) are quantized as u8 at their own range.
//
// Two steps, because calibration runs the model in between: planStatic says which activations need
// ranges, applyStatic inserts the nodes once they are known.
import { inferElemTypes } from './elem-types.js';
import { GraphEditor } from './graph-edit.js';
import { attr, ELEM, floatAttribute, intAttribute, opsetVersion, type OnnxModel, type OnnxNode } from './onnx-model.js';
import { upgradeOpset } from './opset-upgrade.js';
import { activationParams, channelIndexer, quantizeBias, quantizeWeights } from './quant-math.js';
import { nodeLabel, selector, type NodeOutcome, type NodeSelection } from './selection.js';
import { makeTensor, tensorDims } from './tensor-data.js';
import type { QuantizeSummary } from './dynamic-quantizer.js';

export const STATIC_OP_TYPES = ['Conv', 'MatMul', 'Gemm', 'Add', 'Mul', 'GlobalAveragePool', 'MaxPool', 'AveragePool', 'Concat'] as const;

const WEIGHTED = new Set(['Conv', 'MatMul', 'Gemm']);

/**
 * Activations that are the only reader of a quantized node's output are quantized after it instead:
 * ONNX Runtime then folds them into the QuantizeLinear (a u8 range within [0, 6] clamps alike).
 */
const FOLDABLE_ACTIVATIONS = new Set(['Relu', 'Clip']);

export interface StaticOptions extends NodeSelection {
  weightBits: 7 | 8;
  perChannel?: boolean;
}

interface PlannedNode {
  node: OnnxNode;
  /** Weighted: input 1 is a constant weight. Activation: every input in `inputs` is quantized as u8. */
  weighted: boolean;
  inputs: string[];
}

export interface StaticPlan {
  nodes: PlannedNode[];
  /** Float activations whose ranges calibration must measure. */
  tensors: string[];
  /** Float constants read by activation nodes, quantized as u8 at their own range. */
  constants: string[];
  outcomes: NodeOutcome[];
  notes: string[];
}

export interface Range {
  min: number;
  max: number;
}

/**
 * Raises the opset to 13 when needed, moves Constant nodes into initializers, and finds the nodes to
 * quantize and the activations around them. Rewrites `model` in place.
 */
export function planStatic(model: OnnxModel, options: StaticOptions): StaticPlan {
  const notes: string[] = [];
  const upgraded = upgradeOpset(model);
  if (upgraded) {
    const adapted = Object.entries(upgraded.adapted).map(([op, n]) => `${n} ${op}`).join(', ');
    notes.push(`opset ${upgraded.from} raised to ${upgraded.to} (QLinearConv needs 10, per-channel DequantizeLinear 13)${adapted ? `; adapted ${adapted}` : ''}`);
  }
  const g = new GraphEditor(model.graph!);
  g.constantsToInitializers();
  let types = inferElemTypes(model.graph!);
  const isFloat = (name: string) => types.get(name) === ELEM.FLOAT;
  const pick = selector(model.graph!, options, STATIC_OP_TYPES, 'static');
  const divisions = divisionsToProducts(g, isFloat, (node) => pick({ ...node, op_type: 'Mul' }));
  if (divisions > 0) {
    notes.push(`${divisions} Div by a constant became Mul by its reciprocal (ONNX Runtime has a quantized Mul, not a Div)`);
    types = inferElemTypes(model.graph!);
  }
  const plan: StaticPlan = { nodes: [], tensors: [], constants: [], outcomes: [], notes };
  const tensors = new Set<string>();
  const constants = new Set<string>();
  g.nodes.forEach((node, index) => {
    if (!pick(node)) return;
    const op = node.op_type!;
    const label = nodeLabel(node, index);
    const weighted = WEIGHTED.has(op) && g.floatConstant(node.input?.[1] ?? '') !== undefined;
    const inputs = weighted ? [node.input![0]!] : activationInputs(node);
    const why = weighted ? weightedUnsupported(g, node) : activationUnsupported(g, node, inputs, isFloat);
    if (why) {
      plan.outcomes.push({ node: label, opType: op, skipped: why });
      return;
    }
    plan.nodes.push({ node, weighted, inputs });
    plan.outcomes.push({ node: label, opType: op });
    for (const input of inputs) (g.initializer(input) && !g.isGraphInput(input) ? constants : tensors).add(input);
    const out = quantizedOutput(g, node.output![0]!);
    if (out) tensors.add(out);
  });
  plan.tensors = [...tensors];
  plan.constants = [...constants];
  return plan;
}

/** Rewrites Div(x, constant c) as Mul(x, 1/c), so that it can be quantized too. */
function divisionsToProducts(g: GraphEditor, isFloat: (name: string) => boolean, wanted: (node: OnnxNode) => boolean): number {
  let count = 0;
  for (const node of g.nodes) {
    if (node.op_type !== 'Div' || (node.domain ?? '') !== '' || !wanted(node)) continue;
    const [x, c] = node.input ?? [];
    const divisor = g.floatConstant(c ?? '');
    if (!x || !isFloat(x) || !divisor || g.initializer(c!)!.data_type !== ELEM.FLOAT || divisor.some((v) => v === 0 || !Number.isFinite(v))) continue;
    const reciprocal = g.addInitializer(makeTensor(g.fresh(`${c}_reciprocal`), ELEM.FLOAT, tensorDims(g.initializer(c!)!), divisor.map((v) => 1 / v)));
    node.op_type = 'Mul';
    node.input = [x, reciprocal];
    count++;
  }
  if (count > 0) g.removeUnusedInitializers();
  return count;
}

function activationInputs(node: OnnxNode): string[] {
  const inputs = node.input ?? [];
  return node.op_type === 'Concat' ? [...inputs] : node.op_type === 'Add' || node.op_type === 'Mul' || node.op_type === 'MatMul' ? inputs.slice(0, 2) : inputs.slice(0, 1);
}

function weightedUnsupported(g: GraphEditor, node: OnnxNode): string | undefined {
  const weight = node.input?.[1] ?? '';
  const t = g.initializer(weight)!;
  if (t.data_type !== ELEM.FLOAT) return 'the weight is not FLOAT';
  const x = node.input?.[0] ?? '';
  if (g.initializer(x) && !g.isGraphInput(x)) return 'input 0 is a constant';
  if (g.uses(weight).inSubgraph) return 'the weight is also read inside a subgraph';
  const rank = tensorDims(t).length;
  if (node.op_type !== 'Conv' && rank !== 2) return `the weight has rank ${rank}, not 2`;
  if (node.op_type === 'Gemm' && intAttribute(node, 'transA', 0) !== 0) return 'Gemm with transA = 1 is not supported';
  return undefined;
}

function activationUnsupported(g: GraphEditor, node: OnnxNode, inputs: string[], isFloat: (name: string) => boolean): string | undefined {
  if (node.op_type === 'Gemm') return 'the weight (input B) is not a constant float tensor';
  if (inputs.length === 0 || inputs.some((i) => !i || !isFloat(i))) return 'an input is not FP32 (or its type is unknown)';
  if (inputs.every((i) => g.initializer(i) && !g.isGraphInput(i))) return 'every input is a constant';
  if ((node.output ?? []).slice(1).some((o) => o && g.uses(o).uses.length > 0)) return 'a second output (indices) is used';
  if (!isFloat(node.output![0]!)) return 'the output is not FP32';
  return undefined;
}

/**
 * The tensor whose Q/DQ follows a quantized node's output: the output itself, or the output of a
 * foldable activation that is its only reader. None for graph outputs, which keep full precision.
 */
function quantizedOutput(g: GraphEditor, output: string): string | undefined {
  if (g.isGraphOutput(output)) return undefined;
  const { uses, inSubgraph } = g.uses(output);
  const only = uses.length === 1 && !inSubgraph ? uses[0]!.node : undefined;
  if (only && uses[0]!.slot === 0 && FOLDABLE_ACTIVATIONS.has(only.op_type ?? '') && (only.domain ?? '') === '') {
    const next = only.output![0]!;
    return g.isGraphOutput(next) ? undefined : next;
  }
  return output;
}

/** Inserts the Q/DQ nodes of `plan` at the calibrated `ranges`. */
export function applyStatic(model: OnnxModel, plan: StaticPlan, ranges: ReadonlyMap<string, Range>, options: StaticOptions): QuantizeSummary {
  const g = new GraphEditor(model.graph!);
  if ((opsetVersion(model) ?? 0) < 13) throw new Error('applyStatic: plan the model with planStatic first (it raises the opset to 13)');
  const qmax = options.weightBits === 8 ? 127 : 63;
  /** Scale of each quantized value, by the name its readers now use (the DequantizeLinear output). */
  const scaleOf = new Map<string, number>();

  const qdq = (tensor: string, scale: number, zeroPoint: number, quantized?: string): string => {
    const scaleName = g.addInitializer(makeTensor(g.fresh(`${tensor}_scale`), ELEM.FLOAT, [], Float32Array.of(scale)));
    const zpName = g.addInitializer(makeTensor(g.fresh(`${tensor}_zero_point`), ELEM.UINT8, [], Uint8Array.of(zeroPoint)));
    const dq = g.fresh(`${tensor}_dequantized`);
    if (quantized === undefined) {
      quantized = g.fresh(`${tensor}_quantized`);
      g.nodes.push({ op_type: 'QuantizeLinear', name: g.fresh(`${tensor}_QuantizeLinear`), input: [tensor, scaleName, zpName], output: [quantized] });
    }
    g.nodes.push({ op_type: 'DequantizeLinear', name: g.fresh(`${tensor}_DequantizeLinear`), input: [quantized, scaleName, zpName], output: [dq] });
    scaleOf.set(dq, Math.fround(scale));
    return dq;
  };

  for (const tensor of plan.tensors) {
    const range = ranges.get(tensor);
    if (!range) throw new Error(`calibration has no range for '${tensor}'`);
    const { scale, zeroPoint } = activationParams(range.min, range.max);
    const readers = g.uses(tensor).uses;
    const dq = qdq(tensor, scale, zeroPoint);
    for (const { node, slot } of readers) node.input![slot] = dq;
  }

  // Constant inputs of activation nodes: u8 initializers behind a DequantizeLinear.
  const constantDq = new Map<string, string>();
  const planned = new Set(plan.nodes.map((p) => p.node));
  for (const name of plan.constants) {
    const values = g.floatConstant(name)!;
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const { scale, zeroPoint } = activationParams(min, max);
    const q = Uint8Array.from(values, (v) => Math.max(0, Math.min(255, Math.round(v / scale) + zeroPoint)));
    const quantized = g.addInitializer(makeTensor(g.fresh(`${name}_quantized`), ELEM.UINT8, tensorDims(g.initializer(name)!), q));
    constantDq.set(name, qdq(name, scale, zeroPoint, quantized));
  }
  for (const node of planned) node.input = node.input!.map((i) => constantDq.get(i) ?? i);

  const weights = new Map<string, { dq: string; scales: Float32Array }>();
  for (const { node, weighted } of plan.nodes) {
    if (!weighted) continue;
    const op = node.op_type!;
    const wName = node.input![1]!;
    const dims = tensorDims(g.initializer(wName)!);
    const transB = op === 'Gemm' && intAttribute(node, 'transB', 0) !== 0;
    // The output-channel axis: Conv's M, MatMul's and Gemm's N.
    const axis = op === 'Conv' || transB ? 0 : 1;
    const key = `${wName}|${axis}`;
    let w = weights.get(key);
    if (!w) {
      const channels = options.perChannel ? dims[axis]! : 1;
      const { values, scales } = quantizeWeights(g.floatConstant(wName)!, qmax, channels, channels > 1 ? channelIndexer(dims, axis) : undefined);
      const scaleDims = channels > 1 ? [channels] : [];
      const q = g.addInitializer(makeTensor(g.fresh(`${wName}_quantized`), ELEM.INT8, dims, values));
      const s = g.addInitializer(makeTensor(g.fresh(`${wName}_scale`), ELEM.FLOAT, scaleDims, scales));
      const zp = g.addInitializer(makeTensor(g.fresh(`${wName}_zero_point`), ELEM.INT8, scaleDims, new Int8Array(channels)));
      const dq = g.fresh(`${wName}_dequantized`);
      g.nodes.push({
        op_type: 'DequantizeLinear',
        name: g.fresh(`${wName}_DequantizeLinear`),
        input: [q, s, zp],
        output: [dq],
        ...(channels > 1 ? { attribute: [attr.int('axis', axis)] } : {}),
      });
      w = { dq, scales };
      weights.set(key, w);
    }
    node.input![1] = w.dq;
    const bias = node.input![2];
    const xScale = scaleOf.get(node.input![0]!);
    if (bias && xScale !== undefined && biasQuantizable(g, node, bias, dims[axis]!)) {
      const { values, scales } = quantizeBias(g.floatConstant(bias)!, xScale, w.scales);
      const q = g.addInitializer(makeTensor(g.fresh(`${bias}_quantized`), ELEM.INT32, [values.length], values));
      const perChannel = w.scales.length > 1;
      const s = g.addInitializer(makeTensor(g.fresh(`${bias}_scale`), ELEM.FLOAT, perChannel ? [scales.length] : [], perChannel ? scales : scales.subarray(0, 1)));
      const dq = g.fresh(`${bias}_dequantized`);
      g.nodes.push({
        op_type: 'DequantizeLinear',
        name: g.fresh(`${bias}_DequantizeLinear`),
        input: [q, s],
        output: [dq],
        ...(perChannel ? { attribute: [attr.int('axis', 0)] } : {}),
      });
      node.input![2] = dq;
    }
  }

  g.removeUnusedInitializers();
  g.sort();
  return { outcomes: plan.outcomes, notes: plan.notes };
}

/** A bias that can become int32: a 1-D float constant of one value per output channel (Gemm: beta = 1). */
function biasQuantizable(g: GraphEditor, node: OnnxNode, bias: string, channels: number): boolean {
  const t = g.initializer(bias);
  if (!t || t.data_type !== ELEM.FLOAT || g.isGraphInput(bias)) return false;
  const dims = tensorDims(t);
  if (dims.length !== 1 || dims[0] !== channels) return false;
  return node.op_type !== 'Gemm' || floatAttribute(node, 'beta', 1) === 1;
}
