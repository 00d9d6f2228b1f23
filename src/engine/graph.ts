// TF.js graph-model topology -> the typed graph the unravelling walks (from the logits node down to the input).
// Each op module parses its own TF.js ops (ops/registry.ts); this file orders the nodes, folds BatchNorms and
// lists the captures. Unknown ops are an error naming the op and node: never a silently wrong map.
import { IDENTITY_TF_OPS } from './ops/identity.ts';
import { opOf, TF_OPS } from './ops/registry.ts';
import { tensorName, type ConstValue, type TfContext, type TfNode } from './ops/tf.ts';
import { size, type Graph, type GraphNode, type Shape } from './types.ts';

export { padBefore, tensorName, type ConstValue, type TfNode } from './ops/tf.ts';
export { size };

export interface GraphSource {
  nodes: TfNode[];
  /** Value of a Const node by name (weights, axes, paddings). */
  constant(name: string): ConstValue | undefined;
  /** Output shape of a non-const node, with the batch dimension. */
  shape(name: string): number[];
  logits: string;
}

export function buildGraph(src: GraphSource): Graph {
  const tf = new Map(src.nodes.map((n) => [n.name, n]));
  const isConst = (name: string) => tf.get(name)?.op === 'Const';
  const fail = (n: TfNode, why: string): never => {
    throw new Error(`node '${n.name}' (op ${n.op}): ${why}`);
  };
  const need = (n: TfNode, name: string): ConstValue =>
    src.constant(name) ?? fail(n, `constant input '${name}' not found in the weights`);
  const shapeOf = (name: string): Shape => src.shape(name).slice(1);
  const inputsOf = (n: TfNode) => (n.input ?? []).filter((i) => !i.startsWith('^')).map(tensorName);

  if (!tf.has(src.logits)) throw new Error(`logits node '${src.logits}' is not in the graph`);

  // Producers-first order of everything the logits depend on (DFS post-order), so that the walk can go
  // consumers-first without trusting the file's node order. Also the skip path of a residual add is the earlier one.
  const post: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const visit = (name: string) => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'open') throw new Error(`graph has a cycle through node '${name}'`);
    state.set(name, 'open');
    const n = tf.get(name) ?? fail({ name, op: '?' }, 'referenced but not defined');
    for (const i of inputsOf(n)) if (!isConst(i)) visit(i);
    state.set(name, 'done');
    post.push(name);
  };
  visit(src.logits);
  const topo = new Map(post.map((n, i) => [n, i]));
  // Longest path from the input: the skip path of a residual add is the shallower addend. The post-order alone is
  // not enough: with a projection shortcut listed second, the deep branch would come first.
  const depth = new Map<string, number>();
  for (const name of post)
    depth.set(
      name,
      Math.max(
        -1,
        ...inputsOf(tf.get(name)!)
          .filter((i) => !isConst(i))
          .map((i) => depth.get(i)!),
      ) + 1,
    );

  const built = new Map<string, GraphNode>();
  const consumers = new Map<string, number>();
  for (const name of post) {
    const node = convert(tf.get(name)!);
    built.set(name, node);
    for (const i of node.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  }

  // A BatchNorm right after a conv is folded into the conv's contributions (a negative scale flips the argmax).
  for (const node of built.values()) {
    if (node.kind !== 'identity' || !node.op.startsWith('FusedBatchNorm')) continue;
    let below = built.get(node.inputs[0]);
    while (below?.kind === 'identity' && below.op === 'BiasAdd') below = built.get(below.inputs[0]);
    if (below?.kind === 'conv' && consumers.get(below.name) === 1) {
      below.scale = multiply(below.scale, context(tf.get(node.name)!).bnScale(1));
    }
  }

  // Consumers before producers: every node is visited after all the nodes that read it.
  const order = post.map((n) => built.get(n)!).reverse();
  const inputs = order.filter((n) => n.kind === 'input');
  if (inputs.length !== 1) {
    throw new Error(
      `the logits node '${src.logits}' must depend on exactly one input placeholder, found ${inputs.length}`,
    );
  }
  const captures = new Set<string>([src.logits]);
  for (const n of order) for (const a of opOf(n).reads(n)) captures.add(a);
  return { order, byName: built, input: inputs[0] as Graph['input'], logits: src.logits, captures: [...captures] };

  function context(n: TfNode): TfContext {
    const ins = inputsOf(n);
    return {
      ins,
      live: ins.filter((i) => !isConst(i)),
      shape: shapeOf(n.name),
      shapeOf,
      isConst,
      need: (name) => need(n, name),
      fail: (why) => fail(n, why),
      depth: (name) => depth.get(name)!,
      topo: (name) => topo.get(name)!,
      bnScale(firstArg) {
        const gamma = need(n, ins[firstArg]).values;
        const variance = need(n, ins[firstArg + 3]).values;
        const eps = Number(n.attr?.epsilon?.f ?? 1e-3);
        return Float32Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + eps));
      },
      flattenedFromMap,
    };
  }

  function convert(n: TfNode): GraphNode {
    const parser = TF_OPS.get(n.op);
    if (!parser) {
      return fail(
        n,
        `op '${n.op}' cannot be unravelled (supported: conv, depthwise, matmul, pools, mean, concat, add, mul, pad, reshape and activations)`,
      );
    }
    return parser.parse(n, context(n));
  }

  /** True if the vector reaches the MatMul by flattening a spatial map (more than one position). */
  function flattenedFromMap(name: string): boolean {
    for (let cur = tf.get(name); cur;) {
      if (['Reshape', 'Flatten', 'Squeeze'].includes(cur.op)) {
        const below = shapeOf(inputsOf(cur)[0]);
        return below.length === 3 && below[0] * below[1] > 1;
      }
      if (!IDENTITY_TF_OPS.includes(cur.op)) return false;
      cur = tf.get(inputsOf(cur)[0]);
    }
    return false;
  }
}

function multiply(a: Float32Array | undefined, b: Float32Array): Float32Array {
  return a ? a.map((x, i) => x * b[i]) : b;
}
