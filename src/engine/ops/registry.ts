// Every kind of graph node the unravelling walks, and the module that holds all of it. The CPU walk
// (src/engine/unravel.ts), the GPU walk (src/gpu/unravel.ts), the captures and the TF.js parse (src/engine/graph.ts)
// look ops up here; none of them switches on the kind.
//
// How to add an op:
// * If it keeps every element where it is (an activation such as LeakyRelu, Sigmoid, HardSwish, Clip; a reshape),
//   it is an 'identity' node: make an IdentityNode { kind: 'identity', op: 'Clip', inputs: [main] } in your importer
//   (TF.js ops: add the op name to IDENTITY_TF_OPS in identity.ts). Nothing else to do.
// * Otherwise write ops/<kind>.ts beside the others (conv.ts is the fullest example), exporting:
//   - the node interface (extends NodeBase, with `kind: '<kind>'`), added to the GraphNode union in types.ts;
//   - an OpModule (common.ts): `reads` (activations its rule needs), `cpu` (the reference rule: one ctx.keep per kept
//     input neuron, ties to the first maximum), `gpu` (WGSL `fn visit(o, w)` calling keep(), its uniform struct made
//     with uniformStruct() so the struct and its packing share one field list, override constants from the rules,
//     and `dispatches`: one per input node it writes), and `tf` if TF.js graph models use it;
//   - then one line in OPS below (the compiler insists on an entry for every kind of the union).
//   Tests: a hand-built graph with hand-worked fixations in tests/fixtures/graphs.ts runs through the CPU rule
//   (tests/unit/rules.test.ts) and GPU = CPU (tests/browser/gpu/unravel.spec.ts) under every rule combination.
import type { GraphNode } from '../types.ts';
import { add } from './add.ts';
import type { OpModule } from './common.ts';
import { concat } from './concat.ts';
import { conv } from './conv.ts';
import { identity } from './identity.ts';
import { input } from './input.ts';
import { matmul } from './matmul.ts';
import { pad } from './pad.ts';
import { gap, pool } from './pool.ts';
import type { TfParse } from './tf.ts';

type Kind = GraphNode['kind'];
export const OPS: { [K in Kind]: OpModule<Extract<GraphNode, { kind: K }>> } = {
  input,
  conv,
  matmul,
  pool,
  gap,
  concat,
  add,
  pad,
  identity,
};

/** The module of a node's kind. */
export function opOf<N extends GraphNode>(node: N): OpModule<N> {
  const op = OPS[node.kind as Kind] as unknown as OpModule<N> | undefined;
  if (!op) throw new Error(`node '${node.name}': unknown node kind '${String(node.kind)}'`);
  return op;
}

/** TF.js op name -> the module parse that converts it. */
export const TF_OPS: ReadonlyMap<string, TfParse> = new Map(
  Object.values(OPS).flatMap((m) => (m.tf ? m.tf.ops.map((op) => [op, m.tf!] as const) : [])),
);
