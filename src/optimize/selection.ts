// Which nodes a quantizer may touch: --op-types and --exclude-nodes, checked against the graph so that
// a typo is an error, not a silent no-op.
import type { OnnxGraph, OnnxNode } from './onnx-model.js';

export interface NodeSelection {
  /** Op types to quantize (default: every type the mode supports). */
  opTypes?: readonly string[];
  /** Node names to leave in floating point. */
  excludeNodes?: readonly string[];
}

/** What a rewrite did to one node, or why it left it alone. */
export interface NodeOutcome {
  node: string;
  opType: string;
  /** Present when the node was left as it was. */
  skipped?: string;
}

export function nodeLabel(node: OnnxNode, index: number): string {
  return node.name || `${node.op_type}#${index}`;
}

/** A predicate for the nodes to rewrite; throws on unsupported op types or unknown node names. */
export function selector(graph: OnnxGraph, selection: NodeSelection, supported: readonly string[], mode: string): (node: OnnxNode) => boolean {
  const opTypes = selection.opTypes?.length ? selection.opTypes : supported;
  const bad = opTypes.filter((t) => !supported.includes(t));
  if (bad.length > 0) throw new Error(`--op-types: ${mode} quantization supports ${supported.join(', ')}; not ${bad.join(', ')}`);
  const names = new Set((graph.node ?? []).map((n) => n.name ?? ''));
  const unknown = (selection.excludeNodes ?? []).filter((n) => !names.has(n));
  if (unknown.length > 0) throw new Error(`--exclude-nodes: the model has no node named ${unknown.map((n) => `'${n}'`).join(', ')}`);
  const excluded = new Set(selection.excludeNodes ?? []);
  const wanted = new Set(opTypes);
  return (node) => (node.domain ?? '') === '' && wanted.has(node.op_type ?? '') && !excluded.has(node.name ?? '');
}
