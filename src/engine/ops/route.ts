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
