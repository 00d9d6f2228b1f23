// FC / MatMul: from a vector, keep every input with a positive contribution (with fcThreshold, only those close to the
// best); from a flattened map, only the best.
// One module: the node, its TF.js parse, the CPU rule, and its WGSL twin with the code that drives it.
import { size, type NodeBase } from '../types.ts';
import { fanOut, ftz, uniformStruct, type GpuOp, type Kept, type OpModule, type StepContext } from './common.ts';
import { attrBool, type TfParse } from './tf.ts';

export interface MatMulNode extends NodeBase {
  kind: 'matmul';
  /** [N, M] row-major, already transposed if the graph said transpose_b. */
  weights: Float32Array;
  /** The input vector is a flattened spatial map: keep only the single best input. */
  fromSpatial: boolean;
  /** The graph constant `weights` was read from, unchanged (not transposed); the GPU path binds its GPU copy. */
  source?: string;
}

const tf: TfParse = {
  ops: ['MatMul', '_FusedMatMul'],
  parse(n, c) {
    if (attrBool(n, 'transpose_a')) c.fail('transpose_a is not supported');
    const w = c.need(c.ins[1]);
    const [r, k] = w.shape;
    const transposed = attrBool(n, 'transpose_b');
    const weights = transposed ? transpose(w.values, r, k) : Float32Array.from(w.values);
    return {
      kind: 'matmul',
      name: n.name,
      shape: c.shape,
      inputs: [c.ins[0]],
      weights,
      fromSpatial: c.flattenedFromMap(c.ins[0]),
      ...(transposed ? {} : { source: c.ins[1] }),
    };
  },
};

function transpose(v: ArrayLike<number>, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = v[i * c + j];
  return out;
}

function matmulCpu(node: MatMulNode, kept: Kept, ctx: StepContext) {
  const a = ctx.act(node.inputs[0]);
  const N = a.length;
  const M = node.shape.at(-1)!;
  const idx = Int32Array.from({ length: N }, (_, j) => j);
  const contrib = new Float32Array(N); // f32 products, as the WGSL twin compares them
  const thr = Math.fround(ctx.rules.fcThreshold ?? 0);
  for (const [i, w] of kept) {
    let best = 0;
    for (let j = 0; j < N; j++) {
      contrib[j] = ftz(Math.fround(a[j] * node.weights[j * M + (i % M)]));
      if (contrib[j] > contrib[best]) best = j;
    }
    if (node.fromSpatial) ctx.keep(node.inputs[0], best, w);
    else if (thr <= 0 || contrib[best] <= 0) fanOut(ctx, node.inputs[0], w, idx, contrib);
    else {
      const cut = Math.fround(thr * contrib[best]); // f32, as the WGSL twin's FC_THRESHOLD * max
      fanOut(
        ctx,
        node.inputs[0],
        w,
        idx,
        contrib.map((v) => (v >= cut ? v : 0)),
      );
    }
  }
}

const Params = uniformStruct('MatMul', ['N', 'M', 'fromSpatial'] as const);

/**
 * GPU twin of matmulCpu. Each kept output loops over the inputs three times: the first maximum, the total of the
 * positive contributions at or above FC_THRESHOLD * max, then the shares (fanOut); sizes are small enough for one
 * invocation per kept output.
 */
const wgsl =
  Params.wgsl +
  /* wgsl */ `
override FC_THRESHOLD: f32 = 0.0;
@group(1) @binding(0) var<storage, read> act: array<f32>;
@group(0) @binding(5) var<storage, read> wt: array<f32>; // [N, M] row-major

fn visit(o: i32, w: f32) {
  let i = o % p.M;
  var best = 0;
  var bestV = 0.0;
  for (var j = 0; j < p.N; j++) {
    let cj = ftz(act[j] * wt[j * p.M + i]);
    if (j == 0 || cj > bestV) { bestV = cj; best = j; }
  }
  let cut = FC_THRESHOLD * max(bestV, 0.0); // 0 without a threshold: every positive input
  var total = 0.0;
  var positive = false; // by the candidates' signs, never by the sum being 0
  for (var j = 0; j < p.N; j++) {
    let cj = ftz(act[j] * wt[j * p.M + i]);
    if (cj > 0.0 && cj >= cut) { total += cj; positive = true; }
  }
  if (p.fromSpatial != 0 || !positive) { keep(best, w); return; }
  for (var j = 0; j < p.N; j++) {
    let cj = ftz(act[j] * wt[j * p.M + i]);
    if (cj > 0.0 && cj >= cut) { keep(j, (w * cj) / total); }
  }
}
`;

const gpu: GpuOp<MatMulNode> = {
  wgsl,
  constants: (rules) => ({ FC_THRESHOLD: rules.fcThreshold ?? 0 }),
  dispatches(node, shape) {
    const N = size(shape(node.inputs[0]));
    const M = node.shape.at(-1)!;
    if (node.weights.length !== N * M)
      throw new Error(`node '${node.name}' (matmul): ${node.weights.length} weights, expected ${N}x${M}`);
    return [
      {
        input: node.inputs[0],
        params: Params.pack({ N, M, fromSpatial: node.fromSpatial ? 1 : 0 }),
        acts: [node.inputs[0]],
        fixed: [{ label: `matmul weights of ${node.name}`, data: node.weights, constant: node.source }],
      },
    ];
  },
};

export const matmul: OpModule<MatMulNode> = { kind: 'matmul', reads: (n) => [n.inputs[0]], cpu: matmulCpu, gpu, tf };
