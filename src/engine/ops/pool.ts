// Pooling. Max pool: the pooling switch. Average pools (global or not) follow the 'gap' rule: the authors'
// argmax position, or every positive position with its share (the pool is linear with positive weights),
// optionally only the strong ones (a >= gapThreshold * the window's max).
// Two node kinds (pool, and gap: a mean over H and W) share the CPU rule and the kernel.
import type { NodeBase } from '../types.ts';
import { fanOut, ftz, uniformStruct, type GpuOp, type Kept, type OpModule, type StepContext } from './common.ts';
import { attrHW, padBefore, type TfParse } from './tf.ts';

export interface PoolNode extends NodeBase {
  kind: 'pool';
  op: 'max' | 'avg';
  kernel: [number, number];
  strides: [number, number];
  pad: [number, number];
}
/** Mean over H and W (global average pool). */
export interface GapNode extends NodeBase {
  kind: 'gap';
}

const poolTf: TfParse = {
  ops: ['MaxPool', 'AvgPool'],
  parse(n, c) {
    const { ins, shape } = c;
    const [ky, kx] = attrHW(n, c, 'ksize');
    const [sy, sx] = attrHW(n, c, 'strides');
    const inShape = c.shapeOf(ins[0]);
    // An average pool whose one window covers the whole map is a global average pool.
    if (n.op === 'AvgPool' && shape[0] === 1 && shape[1] === 1 && ky >= inShape[0] && kx >= inShape[1]) {
      return { kind: 'gap', name: n.name, shape, inputs: [ins[0]] };
    }
    return {
      kind: 'pool',
      name: n.name,
      shape,
      op: n.op === 'MaxPool' ? 'max' : 'avg',
      inputs: [ins[0]],
      kernel: [ky, kx],
      strides: [sy, sx],
      pad: [padBefore(n, inShape[0], shape[0], ky, sy, 1, 0), padBefore(n, inShape[1], shape[1], kx, sx, 1, 1)],
    };
  },
};

const gapTf: TfParse = {
  ops: ['Mean'],
  parse(n, c) {
    const axes = [...c.need(c.ins[1]).values].map((a) => (a < 0 ? a + 4 : a)).sort();
    if (c.shapeOf(c.ins[0]).length !== 3 || axes.join() !== '1,2')
      c.fail(`only a mean over H and W of an NHWC map is supported, got axes [${axes}]`);
    return { kind: 'gap', name: n.name, shape: c.shape, inputs: [c.ins[0]] };
  },
};

function poolCpu(node: PoolNode | GapNode, kept: Kept, ctx: StepContext) {
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
        if (best < 0 || ftz(a[j]) > ftz(a[best])) best = j;
        cand.push(j);
        vals.push(ftz(a[j]));
      }
    }
    const cut = ftz(Math.fround(Math.fround(threshold) * ftz(a[best]))); // f32, as the WGSL twin's GAP_THRESHOLD * bestV
    if (argmaxOnly) ctx.keep(node.inputs[0], best, w);
    else if (cut <= 0) fanOut(ctx, node.inputs[0], w, cand, vals);
    else
      fanOut(
        ctx,
        node.inputs[0],
        w,
        cand,
        vals.map((v) => (v >= cut ? v : 0)),
      );
  }
}

const Params = uniformStruct('Pool', ['H', 'W', 'C', 'Wo', 'KH', 'KW', 'sy', 'sx', 'pt', 'pl', 'isMax'] as const);

/**
 * GPU twin of poolCpu (a global average pool is a pool whose window is the whole map). Max pools and the
 * 'argmax' rule keep the first maximum in row-major window order; 'positive' fans out like the CPU's fanOut,
 * over the positions with a >= GAP_THRESHOLD * max.
 */
const wgsl =
  Params.wgsl +
  /* wgsl */ `
override GAP_POSITIVE: bool = false;
override GAP_THRESHOLD: f32 = 0.0;
@group(1) @binding(0) var<storage, read> act: array<f32>;

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
      let v = ftz(act[j]);
      if (best < 0 || v > bestV) { best = j; bestV = v; }
    }
  }
  let cut = ftz(GAP_THRESHOLD * bestV); // 0 without a threshold: every positive position
  var total = 0.0;
  var positive = false; // by the candidates' signs, never by the sum being 0
  for (var y = ya; y < yb; y++) {
    for (var x = xa; x < xb; x++) {
      let v = ftz(act[(y * p.W + x) * p.C + c]);
      if (v > 0.0 && v >= cut) { total += v; positive = true; }
    }
  }
  if (p.isMax != 0 || !GAP_POSITIVE || !positive) { keep(best, w); return; }
  for (var y = ya; y < yb; y++) {
    for (var x = xa; x < xb; x++) {
      let j = (y * p.W + x) * p.C + c;
      let v = ftz(act[j]);
      if (v > 0.0 && v >= cut) { keep(j, (w * v) / total); }
    }
  }
}
`;

function gpu<N extends PoolNode | GapNode>(): GpuOp<N> {
  return {
    wgsl,
    constants: (rules) => ({ GAP_POSITIVE: rules.gap === 'positive' ? 1 : 0, GAP_THRESHOLD: rules.gapThreshold ?? 0 }),
    dispatches(node, shape) {
      const [H, W, C] = shape(node.inputs[0]);
      const window =
        node.kind === 'gap'
          ? { Wo: 1, KH: H, KW: W, sy: 1, sx: 1, pt: 0, pl: 0, isMax: 0 } // one window over the whole map
          : {
              Wo: node.shape[1],
              KH: node.kernel[0],
              KW: node.kernel[1],
              sy: node.strides[0],
              sx: node.strides[1],
              pt: node.pad[0],
              pl: node.pad[1],
              isMax: node.op === 'max' ? 1 : 0,
            };
      return [{ input: node.inputs[0], params: Params.pack({ H, W, C, ...window }), acts: [node.inputs[0]] }];
    },
  };
}

export const pool: OpModule<PoolNode> = {
  kind: 'pool',
  reads: (n) => [n.inputs[0]],
  cpu: poolCpu,
  gpu: gpu(),
  tf: poolTf,
};
export const gap: OpModule<GapNode> = { kind: 'gap', reads: (n) => [n.inputs[0]], cpu: poolCpu, gpu: gpu(), tf: gapTf };
