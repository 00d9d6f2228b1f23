// Pooling. Max pool: the pooling switch. Average pools (global or not) follow the 'gap' rule: the authors'
// argmax position, or every positive position with its share (the pool is linear with positive weights),
// optionally only the strong ones (a >= gapThreshold * the window's max).
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
  const threshold = ctx.rules.gapThreshold ?? 0;
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
    const cut = threshold * a[best];
    if (argmaxOnly) ctx.keep(node.inputs[0], best, w);
    else if (cut <= 0) fanOut(ctx, node.inputs[0], w, cand, vals);
    else fanOut(ctx, node.inputs[0], w, cand, vals.map((v) => (v >= cut ? v : 0)));
  }
}

/**
 * GPU twin of poolCpu (a global average pool is a pool whose window is the whole map). Max pools and the
 * 'argmax' rule keep the first maximum in row-major window order; 'positive' fans out like the CPU's fanOut,
 * over the positions with a >= GAP_THRESHOLD * max.
 */
export const poolWgsl = /* wgsl */ `
struct Pool { H: i32, W: i32, C: i32, Wo: i32, KH: i32, KW: i32, sy: i32, sx: i32, pt: i32, pl: i32, isMax: i32 }
override GAP_POSITIVE: bool = false;
override GAP_THRESHOLD: f32 = 0.0;
@group(0) @binding(0) var<uniform> p: Pool;
@group(0) @binding(5) var<storage, read> act: array<f32>;

fn visit(o: i32, w: f32) {
  let c = o % p.C;
  let q = o / p.C;
  let y0 = (q / p.Wo) * p.sy - p.pt;
  let x0 = (q % p.Wo) * p.sx - p.pl;
  let ya = max(y0, 0);
  let yb = min(y0 + p.KH, p.H);
  let xa = max(x0, 0);
  let xb = min(x0 + p.KW, p.W);
  var best = -1;
  var bestV = 0.0;
  for (var y = ya; y < yb; y++) {
    for (var x = xa; x < xb; x++) {
      let j = (y * p.W + x) * p.C + c;
      let v = act[j];
      if (best < 0 || v > bestV) { best = j; bestV = v; }
    }
  }
  let cut = GAP_THRESHOLD * bestV; // 0 without a threshold: every positive position
  var total = 0.0;
  for (var y = ya; y < yb; y++) {
    for (var x = xa; x < xb; x++) {
      let v = act[(y * p.W + x) * p.C + c];
      if (v > 0.0 && v >= cut) { total += v; }
    }
  }
  if (p.isMax != 0 || !GAP_POSITIVE || total <= 0.0) { keep(best, w); return; }
  for (var y = ya; y < yb; y++) {
    for (var x = xa; x < xb; x++) {
      let j = (y * p.W + x) * p.C + c;
      let v = act[j];
      if (v > 0.0 && v >= cut) { keep(j, (w * v) / total); }
    }
  }
}
`;
