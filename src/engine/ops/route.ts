// Steps that only route an index: concat (to the input that made the channel), residual add (the larger addend,
// ties to the skip path), pad (shift), and one-to-one ops (ReLU, BN, reshape, gates...: same flat index).
import type { AddNode, ConcatNode, IdentityNode, PadNode } from '../types.ts';
import type { Kept, StepContext } from './common.ts';

export function concatCpu(node: ConcatNode, kept: Kept, ctx: StepContext) {
  const C = node.shape.at(-1)!;
  const widths = node.inputs.map((i) => ctx.shape(i).at(-1)!);
  for (const [idx, w] of kept) {
    const c = idx % C;
    const p = Math.floor(idx / C);
    let i = node.offsets.length - 1;
    while (node.offsets[i] > c) i--;
    ctx.keep(node.inputs[i], p * widths[i] + c - node.offsets[i], w);
  }
}

export function addCpu(node: AddNode, kept: Kept, ctx: StepContext) {
  const [a, b] = node.inputs.map((i) => ctx.act(i));
  for (const [idx, w] of kept) {
    const pick = a[idx] > b[idx] ? 0 : b[idx] > a[idx] ? 1 : node.skip;
    ctx.keep(node.inputs[pick], idx, w);
  }
}

export function padCpu(node: PadNode, kept: Kept, ctx: StepContext) {
  const [, Wo, Co] = node.shape;
  const [H, W, C] = ctx.shape(node.inputs[0]);
  const [t, l, c0] = node.before;
  for (const [idx, w] of kept) {
    const y = Math.floor(idx / Co / Wo) - t;
    const x = (Math.floor(idx / Co) % Wo) - l;
    const c = (idx % Co) - c0;
    if (y >= 0 && y < H && x >= 0 && x < W && c >= 0 && c < C) ctx.keep(node.inputs[0], (y * W + x) * C + c, w);
  }
}

export function identityCpu(node: IdentityNode, kept: Kept, ctx: StepContext) {
  for (const [idx, w] of kept) ctx.keep(node.inputs[0], idx, w);
}

// GPU twins. Steps with several inputs (concat, add) run one dispatch per input, each keeping only the neurons
// routed to that input, so that every kernel writes a single input node.

/** Concat, one dispatch per input: the channels [off, off + width) go to that input. */
export const concatWgsl = /* wgsl */ `
struct Concat { C: i32, off: i32, width: i32 }
@group(0) @binding(0) var<uniform> p: Concat;

fn visit(o: i32, w: f32) {
  let c = o % p.C;
  if (c >= p.off && c < p.off + p.width) { keep((o / p.C) * p.width + c - p.off, w); }
}
`;

/** Residual add, one dispatch per addend (which = 0 | 1): the larger addend, ties to the skip path. */
export const addWgsl = /* wgsl */ `
struct Add { which: i32, skip: i32 }
@group(0) @binding(0) var<uniform> p: Add;
@group(0) @binding(5) var<storage, read> a: array<f32>;
@group(0) @binding(6) var<storage, read> b: array<f32>;

fn visit(o: i32, w: f32) {
  var pick = p.skip;
  if (a[o] > b[o]) { pick = 0; } else if (b[o] > a[o]) { pick = 1; }
  if (pick == p.which) { keep(o, w); }
}
`;

export const padWgsl = /* wgsl */ `
struct Pad { Wo: i32, Co: i32, H: i32, W: i32, C: i32, t: i32, l: i32, c0: i32 }
@group(0) @binding(0) var<uniform> p: Pad;

fn visit(o: i32, w: f32) {
  let y = o / p.Co / p.Wo - p.t;
  let x = (o / p.Co) % p.Wo - p.l;
  let c = o % p.Co - p.c0;
  if (y >= 0 && y < p.H && x >= 0 && x < p.W && c >= 0 && c < p.C) { keep((y * p.W + x) * p.C + c, w); }
}
`;

/**
 * One-to-one ops normally need no kernel: the node shares its input's weights and list (see src/gpu/unravel.ts).
 * This copy runs only when the input has other consumers too (its buffers then hold more than this node's set).
 */
export const identityWgsl = /* wgsl */ `
fn visit(o: i32, w: f32) { keep(o, w); }
`;
