// TF.js graph-model topology -> the typed graph the unravelling walks (from the logits node down to the input).
// Unknown ops are an error naming the op and node: never a silently wrong map.
import type { AddNode, ConvNode, Graph, GraphNode, Shape } from './types.ts';

/** A node of model.json's modelTopology.node. */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, any>;
}
export interface ConstValue { values: Float32Array | Int32Array; shape: number[] }

export interface GraphSource {
  nodes: TfNode[];
  /** Value of a Const node by name (weights, axes, paddings). */
  constant(name: string): ConstValue | undefined;
  /** Output shape of a non-const node, with the batch dimension. */
  shape(name: string): number[];
  logits: string;
}

const IDENTITY_OPS = new Set([
  'Relu', 'Relu6', 'Elu', 'LeakyRelu', 'Identity', 'Softmax', 'BiasAdd', 'FusedBatchNorm', 'FusedBatchNormV3',
  'Reshape', 'Squeeze', 'Flatten', 'StopGradient', 'Snapshot', 'Sigmoid', 'HardSwish',
]);

export function tensorName(input: string): string {
  return input.replace(/^\^/, '').replace(/:\d+$/, '');
}

function attrStr(n: TfNode, key: string): string | undefined {
  const s = n.attr?.[key]?.s;
  return s === undefined ? undefined : atob(s);
}
function attrInts(n: TfNode, key: string): number[] {
  return (n.attr?.[key]?.list?.i ?? []).map(Number);
}
function attrBool(n: TfNode, key: string): boolean {
  return !!n.attr?.[key]?.b;
}

/** Window origin padding exactly as TF: SAME pads floor(total/2) before (asymmetric at stride 2), VALID none. */
export function padBefore(
  node: TfNode, inSize: number, outSize: number, k: number, s: number, d: number, axis: 0 | 1,
): number {
  const mode = attrStr(node, 'padding') ?? 'VALID';
  if (mode === 'VALID') return 0;
  if (mode === 'SAME') return Math.floor(Math.max((outSize - 1) * s + (k - 1) * d + 1 - inSize, 0) / 2);
  if (mode === 'EXPLICIT') return attrInts(node, 'explicit_paddings')[2 + 2 * axis] ?? 0; // NHWC: [n0,n1,h0,h1,w0,w1,..]
  throw new Error(`node '${node.name}' (${node.op}): unsupported padding '${mode}'`);
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
  for (const name of post) depth.set(name, Math.max(-1, ...inputsOf(tf.get(name)!).filter((i) => !isConst(i)).map((i) => depth.get(i)!)) + 1);

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
      below.scale = multiply(below.scale, bnScale(tf.get(node.name)!, 1));
    }
  }

  // Consumers before producers: every node is visited after all the nodes that read it.
  const order = post.map((n) => built.get(n)!).reverse();
  const inputs = order.filter((n) => n.kind === 'input');
  if (inputs.length !== 1) {
    throw new Error(`the logits node '${src.logits}' must depend on exactly one input placeholder, found ${inputs.length}`);
  }
  const captures = new Set<string>([src.logits]);
  for (const n of order) {
    if (['conv', 'matmul', 'pool', 'gap'].includes(n.kind)) captures.add(n.inputs[0]);
    if (n.kind === 'add') n.inputs.forEach((i) => captures.add(i));
  }
  return { order, byName: built, input: inputs[0] as Graph['input'], logits: src.logits, captures: [...captures] };

  function bnScale(n: TfNode, firstArg: number): Float32Array {
    const ins = inputsOf(n);
    const gamma = need(n, ins[firstArg]).values;
    const variance = need(n, ins[firstArg + 3]).values;
    const eps = Number(n.attr?.epsilon?.f ?? 1e-3);
    return Float32Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + eps));
  }

  function convert(n: TfNode): GraphNode {
    const ins = inputsOf(n);
    const shape = shapeOf(n.name);
    const live = ins.filter((i) => !isConst(i));
    const base = { name: n.name, shape };
    switch (n.op) {
      case 'Placeholder':
        if (shape.length !== 3) fail(n, `input must be NHWC [1,H,W,C], got [${src.shape(n.name)}]`);
        return { ...base, kind: 'input', inputs: [] };
      case 'Conv2D': case '_FusedConv2D': case 'DepthwiseConv2dNative': case 'FusedDepthwiseConv2dNative': {
        if ((attrStr(n, 'data_format') ?? 'NHWC') !== 'NHWC') fail(n, 'only NHWC convolutions are supported');
        const depthwise = n.op.includes('Depthwise');
        const w = need(n, ins[1]);
        if (w.shape.length !== 4) fail(n, `weights '${ins[1]}' must be 4-D, got [${w.shape}]`);
        const inShape = shapeOf(ins[0]);
        const [sy, sx] = stride2(n, 'strides');
        const dil = attrInts(n, 'dilations');
        const [dy, dx] = dil.length === 4 ? [dil[1], dil[2]] : [1, 1];
        const node: ConvNode = {
          ...base, kind: 'conv', inputs: [ins[0]], weights: Float32Array.from(w.values),
          kernel: [w.shape[0], w.shape[1]], strides: [sy, sx], dilations: [dy, dx], depthwise,
          pad: [
            padBefore(n, inShape[0], shape[0], w.shape[0], sy, dy, 0),
            padBefore(n, inShape[1], shape[1], w.shape[1], sx, dx, 1),
          ],
        };
        const fused = (n.attr?.fused_ops?.list?.s ?? []).map((s: string) => atob(s));
        if (fused.includes('FusedBatchNorm')) node.scale = bnScale(n, 2);
        return node;
      }
      case 'MatMul': case '_FusedMatMul': {
        if (attrBool(n, 'transpose_a')) fail(n, 'transpose_a is not supported');
        const w = need(n, ins[1]);
        const [r, c] = w.shape;
        const weights = attrBool(n, 'transpose_b') ? transpose(w.values, r, c) : Float32Array.from(w.values);
        return { ...base, kind: 'matmul', inputs: [ins[0]], weights, fromSpatial: flattenedFromMap(ins[0]) };
      }
      case 'MaxPool': case 'AvgPool': {
        const [ky, kx] = stride2(n, 'ksize');
        const [sy, sx] = stride2(n, 'strides');
        const inShape = shapeOf(ins[0]);
        // An average pool whose one window covers the whole map is a global average pool.
        if (n.op === 'AvgPool' && shape[0] === 1 && shape[1] === 1 && ky >= inShape[0] && kx >= inShape[1]) {
          return { ...base, kind: 'gap', inputs: [ins[0]] };
        }
        return {
          ...base, kind: 'pool', op: n.op === 'MaxPool' ? 'max' : 'avg', inputs: [ins[0]],
          kernel: [ky, kx], strides: [sy, sx],
          pad: [padBefore(n, inShape[0], shape[0], ky, sy, 1, 0), padBefore(n, inShape[1], shape[1], kx, sx, 1, 1)],
        };
      }
      case 'Mean': {
        const axes = [...need(n, ins[1]).values].map((a) => (a < 0 ? a + 4 : a)).sort();
        if (shapeOf(ins[0]).length !== 3 || axes.join() !== '1,2') fail(n, `only a mean over H and W of an NHWC map is supported, got axes [${axes}]`);
        return { ...base, kind: 'gap', inputs: [ins[0]] };
      }
      case 'ConcatV2': case 'Concat': {
        const axisName = n.op === 'ConcatV2' ? ins[ins.length - 1] : ins[0];
        const parts = ins.filter((i) => i !== axisName);
        const rank = shape.length + 1;
        const axis = need(n, axisName).values[0];
        if (axis !== -1 && axis !== rank - 1) fail(n, `only concatenation over the channel axis is supported, got axis ${axis}`);
        if (parts.some(isConst)) fail(n, 'concatenation with a constant is not supported');
        const offsets: number[] = [];
        let off = 0;
        for (const p of parts) { offsets.push(off); off += shapeOf(p).at(-1)!; }
        return { ...base, kind: 'concat', inputs: parts, offsets };
      }
      case 'AddV2': case 'Add': case 'Mul': case 'Sub': case 'RealDiv': case 'Div': case 'Maximum': case 'Minimum': {
        const full = live.filter((i) => size(shapeOf(i)) === size(shape));
        if (full.length === 0) fail(n, 'no input has the output shape');
        const elementwise = !['AddV2', 'Add', 'Sub'].includes(n.op);
        if (elementwise && full.length > 1 && n.op !== 'Mul') fail(n, `op '${n.op}' cannot be unravelled between two computed tensors (only with a constant)`);
        // e.g. input scaling (x*2-1 in TF Hub graphs), ReLU6 as Minimum/Maximum, hard-swish, SE gates.
        if (elementwise || full.length === 1) {
          // Bias, gate (squeeze-excitation) or scalar: follow the main input, same index.
          return { ...base, kind: 'identity', op: n.op, inputs: [full[0]] };
        }
        if (n.op === 'Sub') fail(n, "op 'Sub' cannot be unravelled between two computed tensors (only with a constant)");
        const node: AddNode = { ...base, kind: 'add', inputs: full.slice(0, 2), skip: 0 };
        // The skip path is the shallower addend (an identity skip is an ancestor of the branch); equal depths: the earlier.
        const [d0, d1] = [depth.get(full[0])!, depth.get(full[1])!];
        node.skip = d0 !== d1 ? (d0 < d1 ? 0 : 1) : topo.get(full[0])! <= topo.get(full[1])! ? 0 : 1;
        return node;
      }
      case 'Pad': case 'PadV2': case 'MirrorPad': {
        const p = need(n, ins[1]).values;
        if (p.length !== 8 || p[0] || p[1]) fail(n, `paddings must be NHWC with no batch padding, got [${[...p]}]`);
        return { ...base, kind: 'pad', inputs: [ins[0]], before: [p[2], p[4], p[6]] };
      }
      default:
        if (IDENTITY_OPS.has(n.op)) {
          const main = live[0];
          if (!main) fail(n, 'has no non-constant input');
          if (size(shapeOf(main)) !== size(shape)) fail(n, `changes the element count (${size(shapeOf(main))} -> ${size(shape)})`);
          return { ...base, kind: 'identity', op: n.op, inputs: [main] };
        }
        return fail(n, `op '${n.op}' cannot be unravelled (supported: conv, depthwise, matmul, pools, mean, concat, add, mul, pad, reshape and activations)`);
    }
  }

  function stride2(n: TfNode, key: string): [number, number] {
    const v = attrInts(n, key);
    if (v.length !== 4) fail(n, `attribute '${key}' must have 4 entries (NHWC), got [${v}]`);
    return [v[1], v[2]];
  }

  /** True if the vector reaches the MatMul by flattening a spatial map (more than one position). */
  function flattenedFromMap(name: string): boolean {
    for (let cur = tf.get(name); cur; ) {
      if (['Reshape', 'Flatten', 'Squeeze'].includes(cur.op)) {
        const below = shapeOf(inputsOf(cur)[0]);
        return below.length === 3 && below[0] * below[1] > 1;
      }
      if (!IDENTITY_OPS.has(cur.op)) return false;
      cur = tf.get(inputsOf(cur)[0]);
    }
    return false;
  }
}

export function size(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}
function transpose(v: ArrayLike<number>, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = v[i * c + j];
  return out;
}
function multiply(a: Float32Array | undefined, b: Float32Array): Float32Array {
  return a ? a.map((x, i) => x * b[i]) : b;
}
