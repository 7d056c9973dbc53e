// Raises a model's standard operator set to 13, for rewrites that need newer operators: ONNX Runtime
// fuses QDQ patterns into QLinearConv/QLinearMatMul (opset 10) and per-channel DequantizeLinear needs
// its axis attribute (opset 13). Most operators mean the same from opset 7 to 13; the ones that moved
// attributes into inputs or changed semantics are adapted here, and anything else that changed is
// refused with its name rather than guessed at.
import { GraphEditor } from './graph-edit.js';
import { allGraphs, attribute, ELEM, intAttribute, opsetVersion, type OnnxModel, type OnnxNode, type OnnxValueInfo, attr } from './onnx-model.js';
import { makeTensor } from './tensor-data.js';

const TARGET = 13;

/** Operators whose opset 7–12 forms run unchanged at opset 13 (new types and negative axes only). */
const UNCHANGED = new Set(
  (
    'Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization BitShift Cast Ceil Celu Compress ' +
    'Concat Constant ConstantOfShape Conv ConvInteger ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear Det Div Einsum Elu ' +
    'Equal Erf Exp Expand EyeLike Flatten Floor GRU Gather GatherElements GatherND Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool ' +
    'Greater GreaterOrEqual HardSigmoid Identity InstanceNormalization IsInf IsNaN LRN LSTM LeakyRelu Less LessOrEqual Log LpNormalization ' +
    'LpPool MatMul MatMulInteger Max MaxPool MaxRoiPool MaxUnpool Mean MeanVarianceNormalization Min Mod Mul Multinomial Neg ' +
    'NonMaxSuppression NonZero Not OneHot Or PRelu Pow QLinearConv QLinearMatMul QuantizeLinear RNN RandomNormal RandomNormalLike ' +
    'RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ' +
    'ReduceProd ReduceSumSquare Relu Reshape ReverseSequence RoiAlign Round ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign ' +
    'Sin Sinh Size Softplus Softsign SpaceToDepth Sqrt Sub Sum Tan Tanh ThresholdedRelu Tile Transpose Where Xor DynamicQuantizeLinear'
  ).split(' '),
);

/** Operators adapted below, with the first opset of their opset-13 form. */
const ADAPTED: Record<string, number> = {
  Clip: 11,
  Slice: 10,
  Softmax: 13,
  LogSoftmax: 13,
  Hardmax: 13,
  Squeeze: 13,
  Unsqueeze: 13,
  ReduceSum: 13,
  Split: 13,
  Pad: 11,
  TopK: 10,
  Dropout: 12,
};

export interface UpgradeResult {
  from: number;
  to: number;
  /** Nodes rewritten, by op type. */
  adapted: Record<string, number>;
}

/** Upgrades `model` in place to opset 13 when it is older; returns undefined when nothing was needed. */
export function upgradeOpset(model: OnnxModel): UpgradeResult | undefined {
  const from = opsetVersion(model);
  if (from === undefined || from >= TARGET) return undefined;
  if (from < 7) throw new Error(`opset ${from} is too old to upgrade (7 or newer is needed): convert the model to opset 13 first`);
  if (allGraphs(model.graph!).length > 1) throw new Error(`opset ${from} with control-flow subgraphs: convert the model to opset 13 first`);
  const g = new GraphEditor(model.graph!);
  const refused = new Set<string>();
  for (const node of g.nodes) {
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') continue;
    const op = node.op_type ?? '';
    if (!UNCHANGED.has(op) && ADAPTED[op] === undefined) refused.add(op);
    if (op === 'BatchNormalization' && intAttribute(node, 'spatial', 1) !== 1) refused.add('BatchNormalization(spatial=0)');
  }
  if (refused.size > 0) {
    throw new Error(`cannot raise opset ${from} to ${TARGET}: ${[...refused].sort().join(', ')} changed meaning in between; convert the model to opset ${TARGET} first`);
  }
  const ranks = knownRanks(model.graph!.input ?? [], model.graph!.output ?? [], model.graph!.value_info ?? []);
  const adapted: Record<string, number> = {};
  const out: OnnxNode[] = [];
  for (const node of g.nodes) {
    const op = node.op_type ?? '';
    const since = ADAPTED[op];
    const standard = (node.domain ?? '') === '' || node.domain === 'ai.onnx';
    if (!standard || since === undefined || from >= since) {
      if (op === 'BatchNormalization' && standard) dropAttributes(node, ['spatial', 'is_test', 'consumed_inputs']);
      out.push(node);
      continue;
    }
    out.push(...adapt(g, node, ranks));
    adapted[op] = (adapted[op] ?? 0) + 1;
  }
  model.graph!.node = out;
  for (const o of model.opset_import ?? []) if ((o.domain ?? '') === '' || o.domain === 'ai.onnx') o.version = TARGET;
  return { from, to: TARGET, adapted };
}

function knownRanks(...lists: OnnxValueInfo[][]): Map<string, number> {
  const ranks = new Map<string, number>();
  for (const v of lists.flat()) {
    const dims = v.type?.tensor_type?.shape?.dim;
    if (dims) ranks.set(v.name ?? '', dims.length);
  }
  return ranks;
}

function dropAttributes(node: OnnxNode, names: string[]): void {
  node.attribute = (node.attribute ?? []).filter((a) => !names.includes(a.name ?? ''));
}

function takeInts(node: OnnxNode, name: string): number[] | undefined {
  const a = attribute(node, name);
  return a ? (a.ints ?? []).map(Number) : undefined;
}

function int64s(g: GraphEditor, base: string, values: number[]): string {
  return g.addInitializer(makeTensor(g.fresh(base), ELEM.INT64, [values.length], BigInt64Array.from(values, BigInt)));
}

function floatScalar(g: GraphEditor, base: string, value: number): string {
  return g.addInitializer(makeTensor(g.fresh(base), ELEM.FLOAT, [], Float32Array.of(value)));
}

/** The node(s) that do at opset 13 what `node` did at its old opset. */
function adapt(g: GraphEditor, node: OnnxNode, ranks: Map<string, number>): OnnxNode[] {
  const base = node.name || node.op_type!;
  const inputs = [...(node.input ?? [])];
  const moveInts = (attrName: string, optional: boolean): string => {
    const values = takeInts(node, attrName);
    dropAttributes(node, [attrName]);
    if (values === undefined) {
      if (!optional) throw new Error(`${node.op_type} '${base}' has no '${attrName}'`);
      return '';
    }
    return int64s(g, `${base}_${attrName}`, values);
  };
  switch (node.op_type) {
    case 'Clip': {
      const min = attribute(node, 'min')?.f;
      const max = attribute(node, 'max')?.f;
      dropAttributes(node, ['min', 'max']);
      node.input = [inputs[0]!, min === undefined ? '' : floatScalar(g, `${base}_min`, min), max === undefined ? '' : floatScalar(g, `${base}_max`, max)];
      while (node.input.at(-1) === '') node.input.pop();
      return [node];
    }
    case 'Slice': {
      const starts = moveInts('starts', false);
      const ends = moveInts('ends', false);
      const axes = moveInts('axes', true);
      node.input = [inputs[0]!, starts, ends, ...(axes ? [axes] : [])];
      return [node];
    }
    case 'Squeeze':
    case 'Unsqueeze':
    case 'ReduceSum': {
      const axes = moveInts('axes', node.op_type === 'Squeeze' || node.op_type === 'ReduceSum');
      node.input = [inputs[0]!, ...(axes ? [axes] : [])];
      return [node];
    }
    case 'Split': {
      const split = moveInts('split', true);
      node.input = [inputs[0]!, ...(split ? [split] : [])];
      return [node];
    }
    case 'TopK': {
      const k = attribute(node, 'k');
      dropAttributes(node, ['k']);
      node.input = [inputs[0]!, int64s(g, `${base}_k`, [Number(k?.i ?? 0)])];
      return [node];
    }
    case 'Pad': {
      const pads = moveInts('pads', false);
      const value = attribute(node, 'value')?.f;
      dropAttributes(node, ['value']);
      node.input = [inputs[0]!, pads, ...(value !== undefined && value !== 0 ? [floatScalar(g, `${base}_value`, value)] : [])];
      return [node];
    }
    case 'Dropout': {
      const ratio = attribute(node, 'ratio')?.f;
      dropAttributes(node, ['ratio', 'is_test', 'consumed_inputs']);
      node.input = [inputs[0]!, ...(ratio !== undefined ? [floatScalar(g, `${base}_ratio`, ratio)] : [])];
      return [node];
    }
    default:
      return adaptSoftmax(g, node, ranks);
  }
}

/**
 * Softmax, LogSoftmax and Hardmax before opset 13 flatten the input to 2-D at `axis` (default 1) and
 * normalize each row; from 13 they normalize along `axis` only. Same thing when `axis` is the last
 * axis; otherwise flatten, normalize the rows and reshape back.
 */
function adaptSoftmax(g: GraphEditor, node: OnnxNode, ranks: Map<string, number>): OnnxNode[] {
  const axis = intAttribute(node, 'axis', 1);
  const x = node.input![0]!;
  const rank = ranks.get(x) ?? ranks.get(node.output![0]!);
  dropAttributes(node, ['axis']);
  if (axis === -1 || (rank !== undefined && (axis < 0 ? axis + rank : axis) === rank - 1)) {
    node.attribute!.push(attr.int('axis', -1));
    return [node];
  }
  const base = node.name || node.op_type!;
  const [shape, flat, normalized] = ['shape', 'flat', 'rows'].map((s) => g.fresh(`${base}_${s}`)) as [string, string, string];
  const y = node.output![0]!;
  node.input = [flat];
  node.output = [normalized];
  node.attribute!.push(attr.int('axis', 1));
  return [
    { op_type: 'Shape', name: g.fresh(`${base}_Shape`), input: [x], output: [shape] },
    { op_type: 'Flatten', name: g.fresh(`${base}_Flatten`), input: [x], output: [flat], attribute: [attr.int('axis', axis)] },
    node,
    { op_type: 'Reshape', name: g.fresh(`${base}_Reshape`), input: [normalized, shape], output: [y] },
  ];
}
