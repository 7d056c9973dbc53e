// Dynamic int8 quantization of MatMul and Gemm with constant weights. Weights become s8 initializers
// (symmetric, per tensor or per output column); activations are quantized to u8 at run time:
//
//   A_q, A_scale, A_zp = DynamicQuantizeLinear(A)
//   Y = Cast(MatMulInteger(A_q, W_q, A_zp, W_zp), FLOAT) · (A_scale · W_scale)   [+ C for Gemm]
//
// the pattern ONNX Runtime fuses into one DynamicQuantizeMatMul kernel. Models below opset 11 (which
// has no DynamicQuantizeLinear) get that com.microsoft kernel directly: they then run on ONNX
// Runtime only, which the summary says.
import { GraphEditor } from './graph-edit.js';
import { attr, ELEM, ensureOpset, floatAttribute, intAttribute, opsetVersion, type OnnxModel, type OnnxNode } from './onnx-model.js';
import { channelIndexer, quantizeWeights } from './quant-math.js';
import { nodeLabel, selector, type NodeOutcome, type NodeSelection } from './selection.js';
import { makeTensor, scalar, tensorDims, transpose } from './tensor-data.js';

export const DYNAMIC_OP_TYPES = ['MatMul', 'Gemm'] as const;

export interface DynamicOptions extends NodeSelection {
  weightBits: 7 | 8;
  /** One scale per output column instead of one per weight tensor. */
  perChannel?: boolean;
}

export interface QuantizeSummary {
  outcomes: NodeOutcome[];
  /** Things the user should know about the result (ONNX Runtime-only ops, ...). */
  notes: string[];
}

interface Weight {
  /** Row-major [K, N] after any Gemm transpose. */
  values: Float32Array;
  k: number;
  n: number;
}

/** Rewrites `model` in place. */
export function quantizeDynamic(model: OnnxModel, options: DynamicOptions): QuantizeSummary {
  const g = new GraphEditor(model.graph!);
  g.constantsToInitializers();
  const pick = selector(model.graph!, options, DYNAMIC_OP_TYPES, 'dynamic');
  const qmax = options.weightBits === 8 ? 127 : 63;
  const contrib = (opsetVersion(model) ?? 0) < 11;
  const outcomes: NodeOutcome[] = [];
  const quantized = new Map<string, { w: string; scale: string; zp: string }>();
  const rewritten: OnnxNode[] = [];

  g.nodes.forEach((node, index) => {
    const label = nodeLabel(node, index);
    if (!pick(node)) {
      rewritten.push(node);
      return;
    }
    const op = node.op_type!;
    const plan = planNode(g, node);
    if (typeof plan === 'string') {
      outcomes.push({ node: label, opType: op, skipped: plan });
      rewritten.push(node);
      return;
    }
    const { weight, alpha, key } = plan;
    let q = quantized.get(key);
    if (!q) {
      const channels = options.perChannel ? weight.n : 1;
      const { values, scales } = quantizeWeights(weight.values, qmax, channels, channels > 1 ? channelIndexer([weight.k, weight.n], 1) : undefined);
      const scaleDims = channels > 1 ? [channels] : [];
      const base = node.input![1]!;
      q = {
        w: g.addInitializer(makeTensor(g.fresh(`${base}_quantized`), ELEM.INT8, [weight.k, weight.n], values)),
        scale: g.addInitializer(makeTensor(g.fresh(`${base}_scale`), ELEM.FLOAT, scaleDims, scales.map((s) => s * alpha))),
        zp: g.addInitializer(makeTensor(g.fresh(`${base}_zero_point`), ELEM.INT8, scaleDims, new Int8Array(channels))),
      };
      quantized.set(key, q);
    }
    const output = node.output![0]!;
    const a = node.input![0]!;
    const name = (suffix: string) => g.fresh(`${node.name || `${op}_${index}`}_${suffix}`);
    const c = op === 'Gemm' ? node.input![2] : undefined;
    const product = c ? name('matmul') : output;
    if (contrib) {
      rewritten.push({ op_type: 'DynamicQuantizeMatMul', domain: 'com.microsoft', name: name('quant'), input: [a, q.w, q.scale, q.zp], output: [product] });
    } else {
      const [aq, as, azp, mmi, cast, scales] = ['a_quantized', 'a_scale', 'a_zero_point', 'int32', 'float', 'scales'].map(name) as [string, string, string, string, string, string];
      rewritten.push(
        { op_type: 'DynamicQuantizeLinear', name: name('quantize_a'), input: [a], output: [aq, as, azp] },
        { op_type: 'MatMulInteger', name: name('matmul_integer'), input: [aq, q.w, azp, q.zp], output: [mmi] },
        { op_type: 'Cast', name: name('cast'), input: [mmi], output: [cast], attribute: [attr.int('to', ELEM.FLOAT)] },
        { op_type: 'Mul', name: name('scales_mul'), input: [as, q.scale], output: [scales] },
        { op_type: 'Mul', name: name('rescale'), input: [cast, scales], output: [product] },
      );
    }
    if (c) rewritten.push(...gemmBias(g, node, c, product, output, name));
    outcomes.push({ node: label, opType: op });
  });

  model.graph!.node = rewritten;
  g.removeUnusedInitializers();
  g.sort();
  const notes: string[] = [];
  if (contrib && outcomes.some((o) => !o.skipped)) {
    ensureOpset(model, 'com.microsoft', 1);
    notes.push(`opset ${opsetVersion(model) ?? 'unknown'} < 11 has no DynamicQuantizeLinear: quantized nodes use ONNX Runtime's com.microsoft DynamicQuantizeMatMul (the model now runs on ONNX Runtime only)`);
  }
  return { outcomes, notes };
}

type Plan = { weight: Weight; alpha: number; key: string } | string;

function planNode(g: GraphEditor, node: OnnxNode): Plan {
  const inputs = node.input ?? [];
  const wName = inputs[1] ?? '';
  const values = g.floatConstant(wName);
  const tensor = g.initializer(wName);
  if (!values || !tensor) return 'the weight (input B) is not a constant float tensor';
  if (tensor.data_type !== ELEM.FLOAT) return 'the weight is not FLOAT';
  const dims = tensorDims(tensor);
  if (dims.length !== 2) return `the weight has rank ${dims.length}, not 2`;
  if (g.uses(wName).inSubgraph) return 'the weight is also read inside a subgraph';
  if (node.op_type === 'MatMul') return { weight: { values, k: dims[0]!, n: dims[1]! }, alpha: 1, key: `${wName}|0|1` };
  // Gemm: Y = alpha · A' · B' + beta · C.
  if (intAttribute(node, 'transA', 0) !== 0) return 'Gemm with transA = 1 is not supported';
  const transB = intAttribute(node, 'transB', 0) !== 0;
  const alpha = floatAttribute(node, 'alpha', 1);
  const weight = transB ? { values: transpose(values, dims[0]!, dims[1]!), k: dims[1]!, n: dims[0]! } : { values, k: dims[0]!, n: dims[1]! };
  return { weight, alpha, key: `${wName}|${transB ? 1 : 0}|${alpha}` };
}

/** Gemm's `+ beta · C` after the quantized product. */
function gemmBias(g: GraphEditor, node: OnnxNode, c: string, product: string, output: string, name: (s: string) => string): OnnxNode[] {
  const beta = floatAttribute(node, 'beta', 1);
  if (beta === 1) return [{ op_type: 'Add', name: name('bias'), input: [product, c], output: [output] }];
  const constant = g.floatConstant(c);
  if (constant) {
    const scaled = g.addInitializer(makeTensor(g.fresh(`${c}_beta`), ELEM.FLOAT, tensorDims(g.initializer(c)!), constant.map((v) => v * beta)));
    return [{ op_type: 'Add', name: name('bias'), input: [product, scaled], output: [output] }];
  }
  const betaName = g.addInitializer(scalar.float(g.fresh(`${node.name || 'gemm'}_beta`), beta));
  const scaledC = name('beta_c');
  return [
    { op_type: 'Mul', name: name('beta_mul'), input: [c, betaName], output: [scaledC] },
    { op_type: 'Add', name: name('bias'), input: [product, scaledC], output: [output] },
  ];
}
