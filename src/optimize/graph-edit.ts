// Editing one ONNX graph: who produces and who consumes each value, constants, fresh names, and a
// topological re-sort after nodes are inserted anywhere. The rewrites (quantizers, fp16) build on it.
import { allGraphs, ATTR, type OnnxGraph, type OnnxNode, type OnnxTensor } from './onnx-model.js';
import { floatValues } from './tensor-data.js';

export interface Use {
  node: OnnxNode;
  /** Input slot of `node` that reads the value. */
  slot: number;
}

export class GraphEditor {
  readonly graph: OnnxGraph;
  readonly #initializers = new Map<string, OnnxTensor>();
  readonly #names = new Set<string>();
  #counter = 0;

  constructor(graph: OnnxGraph) {
    this.graph = graph;
    graph.node ??= [];
    graph.initializer ??= [];
    for (const t of graph.initializer) this.#initializers.set(t.name ?? '', t);
    for (const g of allGraphs(graph)) {
      for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.value_info ?? [])]) this.#names.add(v.name ?? '');
      for (const t of g.initializer ?? []) this.#names.add(t.name ?? '');
      for (const n of g.node ?? []) {
        if (n.name) this.#names.add(n.name);
        for (const o of n.output ?? []) this.#names.add(o);
      }
    }
  }

  get nodes(): OnnxNode[] {
    return this.graph.node!;
  }

  /** A name used nowhere in the model yet (values, nodes and initializers share one namespace here). */
  fresh(base: string): string {
    let name = base;
    while (this.#names.has(name)) name = `${base}_${++this.#counter}`;
    this.#names.add(name);
    return name;
  }

  initializer(name: string): OnnxTensor | undefined {
    return this.#initializers.get(name);
  }

  /** Float values of a constant (initializer), or undefined if `name` is not a float constant. */
  floatConstant(name: string): Float32Array | undefined {
    const t = this.#initializers.get(name);
    return t && !this.isGraphInput(name) ? floatValues(t) : undefined;
  }

  addInitializer(tensor: OnnxTensor): string {
    const name = tensor.name ?? '';
    if (this.#initializers.has(name)) throw new Error(`initializer '${name}' exists already`);
    this.graph.initializer!.push(tensor);
    this.#initializers.set(name, tensor);
    this.#names.add(name);
    return name;
  }

  isGraphInput(name: string): boolean {
    return (this.graph.input ?? []).some((v) => v.name === name);
  }

  isGraphOutput(name: string): boolean {
    return (this.graph.output ?? []).some((v) => v.name === name);
  }

  /** The node that produces `name` (undefined for graph inputs and initializers). */
  producer(name: string): OnnxNode | undefined {
    return this.nodes.find((n) => n.output?.includes(name));
  }

  /** Nodes reading `name` in this graph, and whether a subgraph reads it too (then it must not be renamed away). */
  uses(name: string): { uses: Use[]; inSubgraph: boolean } {
    const uses: Use[] = [];
    let inSubgraph = false;
    for (const node of this.nodes) {
      (node.input ?? []).forEach((input, slot) => {
        if (input === name) uses.push({ node, slot });
      });
      if (!inSubgraph && subgraphReads(node).has(name)) inSubgraph = true;
    }
    return { uses, inSubgraph };
  }

  /** Turns Constant nodes holding a tensor into initializers (as ONNX Runtime does when it loads). */
  constantsToInitializers(): number {
    let moved = 0;
    this.graph.node = this.nodes.filter((node) => {
      if (node.op_type !== 'Constant' || (node.domain ?? '') !== '' || node.attribute?.length !== 1) return true;
      const a = node.attribute[0]!;
      const out = node.output?.[0];
      if (a.name !== 'value' || a.type !== ATTR.TENSOR || !a.t || !out || this.isGraphOutput(out) || this.#initializers.has(out)) return true;
      this.graph.initializer!.push({ ...a.t, name: out });
      this.#initializers.set(out, this.graph.initializer!.at(-1)!);
      moved++;
      return false;
    });
    return moved;
  }

  /** Drops initializers that no node, subgraph or graph output reads any more. */
  removeUnusedInitializers(): void {
    const read = new Set<string>();
    for (const node of this.nodes) {
      for (const i of node.input ?? []) read.add(i);
      for (const i of subgraphReads(node)) read.add(i);
    }
    for (const o of this.graph.output ?? []) read.add(o.name ?? '');
    const dropped = new Set<string>();
    this.graph.initializer = this.graph.initializer!.filter((t) => {
      const name = t.name ?? '';
      if (read.has(name)) return true;
      this.#initializers.delete(name);
      dropped.add(name);
      return false;
    });
    // Models of IR < 4 also list initializers as graph inputs: those go with them.
    if (dropped.size > 0) this.graph.input = (this.graph.input ?? []).filter((v) => !dropped.has(v.name ?? ''));
  }

  /**
   * Re-orders nodes topologically (Kahn's algorithm; among ready nodes, the earliest in the current
   * order first), so rewrites may append nodes anywhere. Throws on a cycle.
   */
  sort(): void {
    const nodes = this.nodes;
    const producerOf = new Map<string, number>();
    nodes.forEach((n, i) => {
      for (const o of n.output ?? []) if (o) producerOf.set(o, i);
    });
    const waiting = new Array<number>(nodes.length).fill(0);
    const dependents: number[][] = nodes.map(() => []);
    nodes.forEach((n, i) => {
      const deps = new Set<number>();
      for (const input of [...(n.input ?? []), ...subgraphReads(n)]) {
        const p = producerOf.get(input);
        if (p !== undefined && p !== i) deps.add(p);
      }
      waiting[i] = deps.size;
      for (const d of deps) dependents[d]!.push(i);
    });
    const ready = new MinHeap();
    waiting.forEach((w, i) => w === 0 && ready.push(i));
    const sorted: OnnxNode[] = [];
    while (ready.size > 0) {
      const i = ready.pop();
      sorted.push(nodes[i]!);
      for (const d of dependents[i]!) if (--waiting[d]! === 0) ready.push(d);
    }
    if (sorted.length !== nodes.length) {
      const stuck = nodes.find((_, i) => waiting[i]! > 0)!;
      throw new Error(`graph has a cycle through node '${stuck.name ?? stuck.op_type}'`);
    }
    this.graph.node = sorted;
  }
}

/** A binary min-heap of node indices. */
class MinHeap {
  readonly #items: number[] = [];
  get size(): number {
    return this.#items.length;
  }
  push(v: number): void {
    const a = this.#items;
    a.push(v);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (a[p]! <= a[i]!) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): number {
    const a = this.#items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && a[l]! < a[m]!) m = l;
        if (r < a.length && a[r]! < a[m]!) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}

/** Values a node's subgraphs read from the enclosing scope (names they use but do not define). */
export function subgraphReads(node: OnnxNode): Set<string> {
  const reads = new Set<string>();
  for (const a of node.attribute ?? []) {
    for (const g of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) {
      const defined = new Set<string>([...(g.input ?? []).map((v) => v.name ?? ''), ...(g.initializer ?? []).map((t) => t.name ?? '')]);
      for (const n of g.node ?? []) {
        for (const i of [...(n.input ?? []), ...subgraphReads(n)]) if (i && !defined.has(i)) reads.add(i);
        for (const o of n.output ?? []) defined.add(o);
      }
      for (const o of g.output ?? []) if (!defined.has(o.name ?? '')) reads.add(o.name ?? '');
    }
  }
  return reads;
}
