// Model factories for tests, examples and benchmarks. Every factory is deterministic: the same
// options give the same bytes, and weights come from a seeded PRNG so tests can recompute them.

import { ElemType, GraphBuilder, attr, mulberry32, uniform, type Dim } from './builder.js';

const F = ElemType.FLOAT;

/** "x + 1 on 16 floats": x FP32 [batch, 16] -> y = x + 1. The overhead-bound benchmark model. */
export function tinyModel(): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', F, ['batch', 16]);
  const one = g.initializer('one', F, [16], new Float32Array(16).fill(1));
  g.node('Add', ['x', one], ['y']);
  g.output('y', F, ['batch', 16]);
  return g.build();
}

/** y = Identity(x) for any element type (including STRING, BOOL, FLOAT16, BFLOAT16). */
export function identityModel(elemType: ElemType, dims: readonly Dim[]): Uint8Array {
  const g = new GraphBuilder();
  g.input('x', elemType, dims);
  g.node('Identity', ['x'], ['y']);
  g.output('y', elemType, dims);
  return g.build();
}

/**
 * sum = a + b with a, b of shape [batch, n]. ORT's CPU Add kernel covers FLOAT, DOUBLE, INT32 and
 * INT64 (plus FLOAT16 in recent releases); other types load but fail to find a kernel.
 */
export function addModel(elemType: ElemType = F): Uint8Array {
  const g = new GraphBuilder();
  g.input('a', elemType, ['batch', 'n']);
  g.input('b', elemType, ['batch', 'n']);
  g.node('Add', ['a', 'b'], ['sum']);
  g.output('sum', elemType, ['batch', 'n']);
  return g.build();
}

// ---------------------------------------------------------------------------------------------
// MLP

export interface MlpOptions {
  inputSize?: number;
  hidden?: readonly number[];
  outputSize?: number;
  seed?: number;
}

export interface DenseLayer {
  fanIn: number;
  fanOut: number;
  /** Row-major [fanIn, fanOut], so y = x·W + b. */
  weight: Float32Array;
  bias: Float32Array;
  relu: boolean;
}

/**
 * The MLP's layers. Weights are He-uniform (±sqrt(6/fanIn)) so activations keep unit scale through
 * ReLU; biases are small. Exposed so tests can run an independent forward pass.
 */
export function mlpLayers(options: MlpOptions = {}): DenseLayer[] {
  const { inputSize = 256, hidden = [1024, 1024], outputSize = 16, seed = 1 } = options;
  const rng = mulberry32(seed);
  const sizes = [inputSize, ...hidden, outputSize];
  return sizes.slice(1).map((fanOut, i) => {
    const fanIn = sizes[i]!;
    return {
      fanIn,
      fanOut,
      weight: uniform(rng, fanIn * fanOut, Math.sqrt(6 / fanIn)),
      bias: uniform(rng, fanOut, 0.1),
      relu: i < hidden.length,
    };
  });
}

/** x FP32 [batch, inputSize] -> (Gemm + Relu) per hidden layer -> Gemm -> y FP32 [batch, outputSize]. */
export function mlpModel(options: MlpOptions = {}): Uint8Array {
  const layers = mlpLayers(options);
  const g = new GraphBuilder();
  let h = g.input('x', F, ['batch', layers[0]!.fanIn]);
  layers.forEach((layer, i) => {
    const w = g.initializer(`w${i}`, F, [layer.fanIn, layer.fanOut], layer.weight);
    const b = g.initializer(`b${i}`, F, [layer.fanOut], layer.bias);
    const last = i === layers.length - 1;
    const out = last ? 'y' : g.fresh('gemm');
    g.node('Gemm', [h, w, b], [out]);
    h = layer.relu ? g.op('Relu', [out]) : out;
  });
  g.output('y', F, ['batch', layers[layers.length - 1]!.fanOut]);
  return g.build();
}

// ---------------------------------------------------------------------------------------------
// Transformer encoder block

export interface EncoderOptions {
  /** Sequence dimension of the input: a fixed size or a symbolic name. Default 'seq'. */
  seqLen?: number | string;
  dModel?: number;
  heads?: number;
  ffn?: number;
  seed?: number;
}

/**
 * One post-norm encoder block from opset-17 primitives (no contrib ops):
 *   h = LayerNorm(x + MHA(x));  y = LayerNorm(h + W2·gelu(W1·h))
 * x, y: FP32 [batch, seq, dModel]. Both LayerNorms have gamma = 1 and beta = 0, so every row of y
 * has mean 0 and variance 1 (up to epsilon).
 */
export function transformerEncoderModel(options: EncoderOptions = {}): Uint8Array {
  const { seqLen = 'seq', dModel = 64, heads = 4, ffn = 256, seed = 2 } = options;
  if (dModel % heads !== 0) throw new Error(`dModel ${dModel} is not divisible by heads ${heads}`);
  const g = new GraphBuilder();
  const dense = denseFactory(g, mulberry32(seed));
  const shape: Dim[] = ['batch', seqLen, dModel];

  const x = g.input('x', F, shape);
  const attention = selfAttention(g, dense, x, dModel, heads);
  const h = layerNorm(g, g.op('Add', [x, attention]), dModel);
  const ff = dense(gelu(g, dense(h, dModel, ffn)), ffn, dModel);
  const y = layerNorm(g, g.op('Add', [h, ff]), dModel, 'y');
  g.output(y, F, shape);
  return g.build();
}

type Dense = (input: string, fanIn: number, fanOut: number) => string;

/** MatMul + Add with Xavier-scaled weights; MatMul broadcasts over the leading [batch, seq]. */
function denseFactory(g: GraphBuilder, rng: () => number): Dense {
  return (input, fanIn, fanOut) => {
    const w = g.initializer(g.fresh('w'), F, [fanIn, fanOut], uniform(rng, fanIn * fanOut, Math.sqrt(3 / fanIn)));
    const b = g.initializer(g.fresh('b'), F, [fanOut], uniform(rng, fanOut, 0.1));
    return g.op('Add', [g.op('MatMul', [input, w]), b]);
  };
}

/** Multi-head self-attention over [batch, seq, dModel]; Reshape's 0 entries keep batch and seq dynamic. */
function selfAttention(g: GraphBuilder, dense: Dense, x: string, dModel: number, heads: number): string {
  const headDim = dModel / heads;
  const splitShape = g.initializer('split_heads_shape', ElemType.INT64, [4], [0, 0, heads, headDim]);
  const mergeShape = g.initializer('merge_heads_shape', ElemType.INT64, [3], [0, 0, dModel]);
  const scale = g.initializer('attention_scale', F, [], [Math.sqrt(headDim)]);
  // [b, s, d] -> [b, s, h, hd] -> transpose to `perm`.
  const project = (perm: number[]): string =>
    g.op('Transpose', [g.op('Reshape', [dense(x, dModel, dModel), splitShape])], { perm: attr.ints(perm) });

  const q = project([0, 2, 1, 3]); // [b, h, s, hd]
  const kT = project([0, 2, 3, 1]); // [b, h, hd, s]
  const v = project([0, 2, 1, 3]); // [b, h, s, hd]
  const scores = g.op('Div', [g.op('MatMul', [q, kT]), scale]);
  const probs = g.op('Softmax', [scores], { axis: attr.int(-1) });
  const context = g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: attr.ints([0, 2, 1, 3]) });
  return dense(g.op('Reshape', [context, mergeShape]), dModel, dModel);
}

/** LayerNormalization over the last axis with gamma = 1, beta = 0. */
function layerNorm(g: GraphBuilder, input: string, size: number, output?: string): string {
  const gamma = g.initializer(g.fresh('ln_gamma'), F, [size], new Float32Array(size).fill(1));
  const beta = g.initializer(g.fresh('ln_beta'), F, [size], new Float32Array(size));
  const out = output ?? g.fresh('layernorm');
  g.node('LayerNormalization', [input, gamma, beta], [out], { axis: attr.int(-1), epsilon: attr.float(1e-5) });
  return out;
}

/** Exact GELU: 0.5·x·(1 + erf(x/√2)). */
function gelu(g: GraphBuilder, x: string): string {
  const invSqrt2 = g.initializer(g.fresh('inv_sqrt2'), F, [], [Math.SQRT1_2]);
  const one = g.initializer(g.fresh('one'), F, [], [1]);
  const half = g.initializer(g.fresh('half'), F, [], [0.5]);
  const erf = g.op('Erf', [g.op('Mul', [x, invSqrt2])]);
  return g.op('Mul', [g.op('Mul', [x, half]), g.op('Add', [erf, one])]);
}

// ---------------------------------------------------------------------------------------------
// Tree ensemble (ai.onnx.ml TreeEnsembleRegressor)

export interface TreeEnsembleOptions {
  features?: number;
  trees?: number;
  depth?: number;
  seed?: number;
}

/**
 * A complete binary tree in breadth-first order: node i's children are 2i+1 (taken when
 * x[feature] <= threshold) and 2i+2. Nodes 0 .. 2^depth - 2 branch; the rest are leaves.
 */
export interface Tree {
  depth: number;
  featureIds: number[];
  /** Float32-representable, so JS and ORT compare the same values. */
  thresholds: number[];
  /** Leaf weights, indexed by node id - (2^depth - 1). */
  leafWeights: number[];
}

export interface TreeEnsemble {
  features: number;
  trees: Tree[];
  baseValue: number;
}

export function treeEnsembleParams(options: TreeEnsembleOptions = {}): TreeEnsemble {
  const { features = 8, trees = 10, depth = 3, seed = 3 } = options;
  const rng = mulberry32(seed);
  const branches = 2 ** depth - 1;
  const make = (): Tree => ({
    depth,
    featureIds: Array.from({ length: branches }, () => Math.floor(rng() * features)),
    thresholds: Array.from({ length: branches }, () => Math.fround(rng() * 2 - 1)),
    leafWeights: Array.from({ length: branches + 1 }, () => Math.fround(rng() * 2 - 1)),
  });
  return { features, trees: Array.from({ length: trees }, make), baseValue: 0.25 };
}

/** x FP32 [batch, features] -> y FP32 [batch, 1]: base value + sum of one leaf per tree. */
export function treeEnsembleModel(options: TreeEnsembleOptions = {}): Uint8Array {
  return treeEnsembleModelFrom(treeEnsembleParams(options));
}

/** Serializes a given ensemble as a classic (ai.onnx.ml v3) TreeEnsembleRegressor. */
export function treeEnsembleModelFrom(ensemble: TreeEnsemble): Uint8Array {
  const nodes = flattenTrees(ensemble);
  const leaves = nodes.filter((n) => n.leaf);
  const child = (n: FlatNode, side: 1 | 2): number => (n.leaf ? 0 : 2 * n.id + side);
  const g = new GraphBuilder();
  g.input('x', F, ['batch', ensemble.features]);
  const attributes = {
    aggregate_function: attr.string('SUM'),
    base_values: attr.floats([ensemble.baseValue]),
    n_targets: attr.int(1),
    nodes_falsenodeids: attr.ints(nodes.map((n) => child(n, 2))),
    nodes_featureids: attr.ints(nodes.map((n) => n.featureId)),
    nodes_modes: attr.strings(nodes.map((n) => (n.leaf ? 'LEAF' : 'BRANCH_LEQ'))),
    nodes_nodeids: attr.ints(nodes.map((n) => n.id)),
    nodes_treeids: attr.ints(nodes.map((n) => n.treeId)),
    nodes_truenodeids: attr.ints(nodes.map((n) => child(n, 1))),
    nodes_values: attr.floats(nodes.map((n) => n.value)),
    post_transform: attr.string('NONE'),
    target_ids: attr.ints(leaves.map(() => 0)),
    target_nodeids: attr.ints(leaves.map((n) => n.id)),
    target_treeids: attr.ints(leaves.map((n) => n.treeId)),
    target_weights: attr.floats(leaves.map((n) => n.value)),
  };
  g.node('TreeEnsembleRegressor', ['x'], ['y'], attributes, 'ai.onnx.ml');
  g.output('y', F, ['batch', 1]);
  return g.build();
}

/** One row of the node table; `value` is the threshold of a branch or the weight of a leaf. */
interface FlatNode {
  treeId: number;
  id: number;
  leaf: boolean;
  featureId: number;
  value: number;
}

function flattenTrees(ensemble: TreeEnsemble): FlatNode[] {
  return ensemble.trees.flatMap((tree, treeId) => {
    const branches = tree.featureIds.length;
    return Array.from({ length: 2 * branches + 1 }, (_, id): FlatNode => {
      const leaf = id >= branches;
      return leaf
        ? { treeId, id, leaf, featureId: 0, value: tree.leafWeights[id - branches]! }
        : { treeId, id, leaf, featureId: tree.featureIds[id]!, value: tree.thresholds[id]! };
    });
  });
}

/** Pure-JS evaluation of a TreeEnsemble on row-major x [batch, features]; returns y [batch]. */
export function treeEnsembleReference(ensemble: TreeEnsemble, x: Float32Array): Float32Array {
  const batch = x.length / ensemble.features;
  const y = new Float32Array(batch);
  for (let row = 0; row < batch; row++) {
    let sum = ensemble.baseValue;
    for (const tree of ensemble.trees) {
      const branches = tree.featureIds.length;
      let id = 0;
      while (id < branches) {
        const value = x[row * ensemble.features + tree.featureIds[id]!]!;
        id = value <= tree.thresholds[id]! ? 2 * id + 1 : 2 * id + 2;
      }
      sum += tree.leafWeights[id - branches]!;
    }
    y[row] = sum;
  }
  return y;
}

// ---------------------------------------------------------------------------------------------
// Slow model

export interface SlowModelOptions {
  /** Target time of one run on one core with intraOpNumThreads = 1. Default 50. */
  ms?: number;
  /** Rows M and width N of each M×N · N×N MatMul. Default 512. */
  size?: number;
}

/**
 * Measured time of one 512×512 · 512×512 FP32 MatMul (268 MFLOP) in onnxruntime-node 1.30 with
 * intraOpNumThreads = 1 on a 2.6 GHz Sapphire Rapids core (AVX-512, turbo): 34 layers ran in a
 * median 48 ms, ~190 GFLOP/s. A core limited to AVX2 runs about half as fast.
 */
export const SLOW_MODEL_MS_PER_LAYER = 1.42;

/**
 * A model whose one run keeps an ORT thread busy for about `ms` milliseconds, used to check that
 * inference does not block the event loop. x FP32 [1, N] is expanded to [N, N] and multiplied by
 * one shared N×N weight `layers` times, then averaged back to y FP32 [1, N] (N = size).
 * Each layer costs 2·N³ FLOP, so time ≈ layers · SLOW_MODEL_MS_PER_LAYER · (N/512)³, and
 * layers = round(ms / that per-layer time): 35 layers for the default 50 ms.
 * The weight is shared, so the file stays ~N²·4 bytes (1 MiB) however slow the model is. It is a
 * signed permutation matrix: values never grow or shrink however many layers (no overflow, no slow
 * denormals), while the dense MatMul kernel costs the same as for any other values.
 */
export function slowModel(options: SlowModelOptions = {}): Uint8Array {
  const { ms = 50, size = 512 } = options;
  const perLayer = SLOW_MODEL_MS_PER_LAYER * (size / 512) ** 3;
  const layers = Math.max(1, Math.round(ms / perLayer));
  const g = new GraphBuilder();
  g.input('x', F, [1, size]);
  const w = g.initializer('w', F, [size, size], signedPermutation(size, mulberry32(4)));
  const rows = g.initializer('expand_shape', ElemType.INT64, [2], [size, size]);
  let h = g.op('Expand', ['x', rows]);
  for (let i = 0; i < layers; i++) h = g.op('MatMul', [h, w]);
  g.node('ReduceMean', [h], ['y'], { axes: attr.ints([0]), keepdims: attr.int(1) });
  g.output('y', F, [1, size]);
  return g.build();
}

/** A dense N×N matrix with one ±1 per row and column (Fisher–Yates over the columns). */
function signedPermutation(n: number, rng: () => number): Float32Array {
  const perm = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const w = new Float32Array(n * n);
  perm.forEach((col, row) => (w[row * n + col] = rng() < 0.5 ? -1 : 1));
  return w;
}

/**
 * A batchable slow model for scheduling tests: y = x + 0·f(x), where f runs the same MatMul chain as
 * slowModel on Expand(ReduceSum(x over the batch)). So y equals x exactly (for finite x), every run
 * costs about `ms` whatever the batch size, and ORT cannot fold the slow branch away (it depends on x).
 * x and y are FP32 ['batch', size].
 */
export function slowBatchModel(options: SlowModelOptions = {}): Uint8Array {
  const { ms = 20, size = 256 } = options;
  const perLayer = SLOW_MODEL_MS_PER_LAYER * (size / 512) ** 3;
  const layers = Math.max(1, Math.round(ms / perLayer));
  const g = new GraphBuilder();
  g.input('x', F, ['batch', size]);
  const w = g.initializer('w', F, [size, size], signedPermutation(size, mulberry32(5)));
  const square = g.initializer('expand_shape', ElemType.INT64, [2], [size, size]);
  const zero = g.initializer('zero', F, [], [0]);
  const sum = g.op('ReduceSum', ['x', g.initializer('axes', ElemType.INT64, [1], [0])], { keepdims: attr.int(1) });
  let h = g.op('Expand', [sum, square]);
  for (let i = 0; i < layers; i++) h = g.op('MatMul', [h, w]);
  const mean = g.op('ReduceMean', [h], { keepdims: attr.int(0) });
  g.node('Add', ['x', g.op('Mul', [mean, zero])], ['y']);
  g.output('y', F, ['batch', size]);
  return g.build();
}

// ---------------------------------------------------------------------------------------------
// Traffic-management test models

export interface OffsetModelOptions {
  /** y = x + offset: the answer says which model served it. */
  offset: number;
  /** Row width. Default 4. */
  width?: number;
  /**
   * Fail (an ORT runtime error, a 500) whenever some element of x exceeds this: the run reshapes to
   * [batch, width + 1], which cannot hold the batch's elements. A candidate that errors on some inputs.
   */
  failAbove?: number;
  /** Make every run slow: this many 256×256 MatMuls (~0.1–0.2 ms each on one core) on the side. */
  slowLayers?: number;
}

/**
 * x FP32 ['batch', width] -> y = x + offset, optionally failing on some inputs and optionally slow:
 * the "good" and "bad" canary candidates of the traffic tests and simulation.
 */
export function offsetModel(options: OffsetModelOptions): Uint8Array {
  const { offset, width = 4, failAbove, slowLayers = 0 } = options;
  const g = new GraphBuilder();
  g.input('x', F, ['batch', width]);
  const k = g.initializer('k', F, [width], new Float32Array(width).fill(offset));
  let y = g.op('Add', ['x', k]);
  if (slowLayers > 0) {
    const n = 256;
    const eye = new Float32Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    const w = g.initializer('w', F, [n, n], eye);
    const square = g.initializer('square', ElemType.INT64, [2], [n, n]);
    const zero = g.initializer('zero', F, [], [0]);
    let h = g.op('Expand', [g.op('ReduceSum', ['x'], { keepdims: attr.int(1) }), square]);
    for (let i = 0; i < slowLayers; i++) h = g.op('MatMul', [h, w]);
    y = g.op('Add', [y, g.op('Mul', [g.op('ReduceMean', [h], { keepdims: attr.int(0) }), zero])]);
  }
  if (failAbove !== undefined) {
    const threshold = g.initializer('threshold', F, [], [failAbove]);
    const flag = g.op('Cast', [g.op('Greater', [g.op('ReduceMax', ['x'], { keepdims: attr.int(0) }), threshold])], { to: attr.int(ElemType.INT64) });
    const one = g.initializer('one_dim', ElemType.INT64, [1], [1]);
    const zeroDim = g.initializer('zero_dim', ElemType.INT64, [1], [0]);
    const delta = g.op('Concat', [zeroDim, g.op('Reshape', [flag, one])], { axis: attr.int(0) });
    const shape = g.op('Add', [g.op('Shape', ['x']), delta]); // [batch, width + flag]
    y = g.op('Reshape', [y, shape]);
  }
  g.node('Identity', [y], ['y']);
  g.output('y', F, ['batch', width]);
  return g.build();
}
