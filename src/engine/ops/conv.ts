// Conv KxK, 1x1 and depthwise: pick the input channel whose window contributes most, then a location in it.
import type { ConvNode } from '../types.ts';
import type { Kept, StepContext } from './common.ts';

export function convCpu(node: ConvNode, kept: Kept, ctx: StepContext) {
  const a = ctx.act(node.inputs[0]);
  const [H, W, Cin] = ctx.shape(node.inputs[0]);
  const [, Wo, Cout] = node.shape;
  const [KH, KW] = node.kernel;
  const [sy, sx] = node.strides;
  const [dy, dx] = node.dilations;
  const [pt, pl] = node.pad;
  const mult = node.depthwise ? Cout / Cin : 1;
  const wt = node.weights;
  // Weight of input channel k, tap (u,v), for output channel c.
  const wIndex = node.depthwise
    ? (u: number, v: number, k: number, c: number) => ((u * KW + v) * Cin + k) * mult + (c % mult)
    : (u: number, v: number, k: number, c: number) => ((u * KW + v) * Cin + k) * Cout + c;
  for (const [idx, w] of kept) {
    const c = idx % Cout;
    const x = Math.floor(idx / Cout) % Wo;
    const y = Math.floor(idx / Cout / Wo);
    const y0 = y * sy - pt;
    const x0 = x * sx - pl;
    const sign = node.scale ? node.scale[c] : 1;
    let bestK = node.depthwise ? Math.floor(c / mult) : 0;
    if (!node.depthwise) {
      let best = -Infinity;
      for (let k = 0; k < Cin; k++) {
        let s = 0;
        for (let u = 0; u < KH; u++) {
          const iy = y0 + u * dy;
          if (iy < 0 || iy >= H) continue;
          for (let v = 0; v < KW; v++) {
            const ix = x0 + v * dx;
            if (ix < 0 || ix >= W) continue;
            s += a[(iy * W + ix) * Cin + k] * wt[wIndex(u, v, k, c)];
          }
        }
        s *= sign;
        if (s > best) { best = s; bestK = k; }
      }
    }
    let iy: number, ix: number;
    if (ctx.rules.location === 'center') {
      iy = clamp(y0 + Math.floor(((KH - 1) * dy) / 2), H);
      ix = clamp(x0 + Math.floor(((KW - 1) * dx) / 2), W);
    } else {
      // Position of the chosen channel's largest contribution inside the window.
      let best = -Infinity;
      iy = clamp(y0, H); ix = clamp(x0, W);
      for (let u = 0; u < KH; u++) {
        const ty = y0 + u * dy;
        if (ty < 0 || ty >= H) continue;
        for (let v = 0; v < KW; v++) {
          const tx = x0 + v * dx;
          if (tx < 0 || tx >= W) continue;
          const s = a[(ty * W + tx) * Cin + bestK] * wt[wIndex(u, v, bestK, c)] * sign;
          if (s > best) { best = s; iy = ty; ix = tx; }
        }
      }
    }
    ctx.keep(node.inputs[0], (iy * W + ix) * Cin + bestK, w);
  }
}

export function clamp(v: number, n: number): number {
  return v < 0 ? 0 : v >= n ? n - 1 : v;
}
