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
