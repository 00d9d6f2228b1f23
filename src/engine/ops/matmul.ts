// FC / MatMul: from a vector, keep every input with a positive contribution; from a flattened map, only the best.
import type { MatMulNode } from '../types.ts';
import { fanOut, type Kept, type StepContext } from './common.ts';

export function matmulCpu(node: MatMulNode, kept: Kept, ctx: StepContext) {
  const a = ctx.act(node.inputs[0]);
  const N = a.length;
  const M = node.shape.at(-1)!;
  const idx = Int32Array.from({ length: N }, (_, j) => j);
  const contrib = new Float64Array(N);
  for (const [i, w] of kept) {
    let best = 0;
    for (let j = 0; j < N; j++) {
      contrib[j] = a[j] * node.weights[j * M + (i % M)];
      if (contrib[j] > contrib[best]) best = j;
    }
    if (node.fromSpatial) ctx.keep(node.inputs[0], best, w);
    else fanOut(ctx, node.inputs[0], w, idx, contrib);
  }
}

/**
 * GPU twin of matmulCpu. Each kept output loops over the inputs twice: first the total of positive contributions
 * and the first maximum, then the shares (fanOut); sizes are small enough for one invocation per kept output.
 */
export const matmulWgsl = /* wgsl */ `
struct MatMul { N: i32, M: i32, fromSpatial: i32 }
@group(0) @binding(0) var<uniform> p: MatMul;
@group(0) @binding(5) var<storage, read> act: array<f32>;
@group(0) @binding(6) var<storage, read> wt: array<f32>; // [N, M] row-major

fn visit(o: i32, w: f32) {
  let i = o % p.M;
  var total = 0.0;
  var best = 0;
  var bestV = 0.0;
  for (var j = 0; j < p.N; j++) {
    let cj = act[j] * wt[j * p.M + i];
    if (cj > 0.0) { total += cj; }
    if (j == 0 || cj > bestV) { bestV = cj; best = j; }
  }
  if (p.fromSpatial != 0 || total <= 0.0) { keep(best, w); return; }
  for (var j = 0; j < p.N; j++) {
    let cj = act[j] * wt[j * p.M + i];
    if (cj > 0.0) { keep(j, (w * cj) / total); }
  }
}
`;
