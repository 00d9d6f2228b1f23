// The CPU reference of the unravelling: from the class neuron down to the input pixels, one rule per op.
// Every GPU kernel is checked against this.
import type { Graph, GraphNode, InputFixation, KeptLayer, Rules } from './types.ts';
import type { Kept, StepContext } from './ops/common.ts';
import { opOf } from './ops/registry.ts';

export interface UnravelResult {
  /** Kept neurons of every visited node, from the logits down to the input. */
  layers: KeptLayer[];
  /** Kept input neurons in network-input pixels. */
  inputFixations: InputFixation[];
}

export type Activations = (name: string) => Float32Array;

export function unravelCpu(graph: Graph, act: Activations, classIndex: number, rules: Rules): UnravelResult {
  const walk = unravelWalk(graph, act, classIndex, rules);
  for (;;) {
    const r = walk.next();
    if (r.done) return r.value;
  }
}

/**
 * The same walk one node at a time: it yields each node with its kept neurons before that node's step reads the
 * activations, so that a caller can fetch just what the step reads (the fallback reads back only those).
 */
export function* unravelWalk(graph: Graph, act: Activations, classIndex: number, rules: Rules): Generator<{ node: GraphNode; kept: Kept }, UnravelResult> {
  const logitsSize = graph.byName.get(graph.logits)!.shape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= logitsSize) {
    throw new Error(`class index ${classIndex} is out of range 0..${logitsSize - 1} of '${graph.logits}'`);
  }
  const pending = new Map<string, Kept>([[graph.logits, new Map([[classIndex, 1]])]]);
  const ctx: StepContext = {
    rules,
    act,
    shape: (name) => graph.byName.get(name)!.shape,
    keep(target, index, w) {
      let m = pending.get(target);
      if (!m) pending.set(target, (m = new Map()));
      // Merged neurons add their weights; under 'count' every kept neuron weighs 1 (de-duplicated).
      m.set(index, rules.weights === 'count' ? 1 : (m.get(index) ?? 0) + w);
    },
  };
  const layers: KeptLayer[] = [];
  for (const node of graph.order) {
    const kept = pending.get(node.name) ?? new Map<number, number>();
    pending.delete(node.name);
    layers.push(toLayer(node, kept));
    yield { node, kept };
    opOf(node).cpu(node, kept, ctx);
  }
  const input = layers[layers.length - 1];
  const [, W, C] = input.shape;
  const inputFixations = Array.from(input.indices, (idx, i) => ({
    x: Math.floor(idx / C) % W,
    y: Math.floor(idx / C / W),
    c: idx % C,
    w: input.weights[i],
  }));
  return { layers, inputFixations };
}

function toLayer(node: GraphNode, kept: Kept): KeptLayer {
  const indices = Int32Array.from(kept.keys()).sort();
  return { name: node.name, shape: node.shape, indices, weights: Float32Array.from(indices, (i) => kept.get(i)!) };
}
