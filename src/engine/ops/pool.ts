// Pooling. Max pool: the pooling switch. Average pools (global or not) follow the 'gap' rule: the authors'
// argmax position, or every positive position with its share (the pool is linear with positive weights).
import type { GapNode, PoolNode } from '../types.ts';
import { fanOut, type Kept, type StepContext } from './common.ts';

export function poolCpu(node: PoolNode | GapNode, kept: Kept, ctx: StepContext) {
  const a = ctx.act(node.inputs[0]);
  const [H, W, C] = ctx.shape(node.inputs[0]);
  const global = node.kind === 'gap';
  const [KH, KW] = global ? [H, W] : node.kernel;
  const [sy, sx] = global ? [1, 1] : node.strides;
  const [pt, pl] = global ? [0, 0] : node.pad;
  const Wo = global ? 1 : node.shape[1];
  const argmaxOnly = (!global && node.op === 'max') || ctx.rules.gap === 'argmax';
  for (const [idx, w] of kept) {
    const c = idx % C;
    const p = Math.floor(idx / C);
    const y0 = Math.floor(p / Wo) * sy - pt;
    const x0 = (p % Wo) * sx - pl;
    const cand: number[] = [];
    const vals: number[] = [];
    let best = -1;
    for (let y = Math.max(y0, 0); y < Math.min(y0 + KH, H); y++) {
      for (let x = Math.max(x0, 0); x < Math.min(x0 + KW, W); x++) {
        const j = (y * W + x) * C + c;
        if (best < 0 || a[j] > a[best]) best = j;
        cand.push(j); vals.push(a[j]);
      }
    }
    if (argmaxOnly) ctx.keep(node.inputs[0], best, w);
    else fanOut(ctx, node.inputs[0], w, cand, vals);
  }
}
