// What an op module needs to parse its TF.js graph-model nodes (model.json's modelTopology.node): the node format,
// attribute readers, TF's padding arithmetic, and the context buildGraph hands to each parse.
import type { GraphNode, Shape } from '../types.ts';

/** A node of model.json's modelTopology.node. */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, any>;
}
export interface ConstValue {
  values: Float32Array | Int32Array;
  shape: number[];
}

/** What buildGraph knows when it converts one node (see ops/registry.ts for who parses which op). */
export interface TfContext {
  /** Producer names of the node's inputs, control inputs dropped. */
  ins: string[];
  /** The inputs that are not constants. */
  live: string[];
  /** Output shape of the node (batch dropped). */
  shape: Shape;
  shapeOf(name: string): Shape;
  isConst(name: string): boolean;
  /** A constant input's value; an error naming the node when it is missing. */
  need(name: string): ConstValue;
  /** Throws `node 'NAME' (op OP): why`. */
  fail(why: string): never;
  /** Longest path from the input, and the producers-first position: the skip path of a residual add is the shallower. */
  depth(name: string): number;
  topo(name: string): number;
  /** BatchNorm factor gamma / sqrt(var + eps) per channel, gamma being input `firstArg`. */
  bnScale(firstArg: number): Float32Array;
  /** True if the vector reaches this node by flattening a spatial map (more than one position). */
  flattenedFromMap(name: string): boolean;
}

/** How an op module reads TF.js graph nodes. A parse may yield another kind (an AvgPool over the whole map is a gap). */
export interface TfParse {
  ops: readonly string[];
  parse(n: TfNode, c: TfContext): GraphNode;
}

export function tensorName(input: string): string {
  return input.replace(/^\^/, '').replace(/:\d+$/, '');
}

export function attrStr(n: TfNode, key: string): string | undefined {
  const s = n.attr?.[key]?.s;
  return s === undefined ? undefined : atob(s);
}
export function attrInts(n: TfNode, key: string): number[] {
  return (n.attr?.[key]?.list?.i ?? []).map(Number);
}
export function attrBool(n: TfNode, key: string): boolean {
  return !!n.attr?.[key]?.b;
}
/** The H and W entries of an NHWC attribute such as strides or ksize. */
export function attrHW(n: TfNode, c: TfContext, key: string): [number, number] {
  const v = attrInts(n, key);
  if (v.length !== 4) c.fail(`attribute '${key}' must have 4 entries (NHWC), got [${v}]`);
  return [v[1], v[2]];
}

/** Window origin padding exactly as TF: SAME pads floor(total/2) before (asymmetric at stride 2), VALID none. */
export function padBefore(
  node: TfNode,
  inSize: number,
  outSize: number,
  k: number,
  s: number,
  d: number,
  axis: 0 | 1,
): number {
  const mode = attrStr(node, 'padding') ?? 'VALID';
  if (mode === 'VALID') return 0;
  if (mode === 'SAME') return Math.floor(Math.max((outSize - 1) * s + (k - 1) * d + 1 - inSize, 0) / 2);
  if (mode === 'EXPLICIT') return attrInts(node, 'explicit_paddings')[2 + 2 * axis] ?? 0; // NHWC: [n0,n1,h0,h1,w0,w1,..]
  throw new Error(`node '${node.name}' (${node.op}): unsupported padding '${mode}'`);
}
