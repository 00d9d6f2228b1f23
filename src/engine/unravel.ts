// The CPU reference of the unravelling: from the class neuron down to the input pixels, one rule per op.
// Every GPU kernel is checked against this.
import type { Graph, GraphNode, InputFixation, KeptLayer, Rules } from './types.ts';
import { FIXED_SCALE, fixedWeight, quanta, type Kept, type StepContext } from './ops/common.ts';
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
export function* unravelWalk(
  graph: Graph,
  act: Activations,
  classIndex: number,
  rules: Rules,
): Generator<{ node: GraphNode; kept: Kept }, UnravelResult> {
  const logitsSize = graph.byName.get(graph.logits)!.shape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= logitsSize) {
    throw new Error(`class index ${classIndex} is out of range 0..${logitsSize - 1} of '${graph.logits}'`);
  }
  const pending = new Map<string, Kept>([[graph.logits, new Map([[classIndex, FIXED_SCALE]])]]); // fixed-point units
  const ctx: StepContext = {
    rules,
    act,
    shape: (name) => graph.byName.get(name)!.shape,
    keep(target, index, w) {
      let m = pending.get(target);
      if (!m) pending.set(target, (m = new Map()));
      // Merged neurons add their weights, in fixed point as the GPU twin (quanta(): exact, order-free, never 0);
      // under 'count' every kept neuron weighs 1 (de-duplicated).
      m.set(index, rules.weights === 'count' ? FIXED_SCALE : (m.get(index) ?? 0) + quanta(w));
    },
  };
  const layers: KeptLayer[] = [];
  for (const node of graph.order) {
    const kept = new Map<number, number>();
    for (const [i, units] of pending.get(node.name) ?? []) kept.set(i, fixedWeight(units));
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
