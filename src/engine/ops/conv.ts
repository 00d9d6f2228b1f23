// Conv KxK, 1x1 and depthwise: pick the input channel whose window contributes most (or, with channelRatio, every
// channel close to it), then a location in it.
// One module: the node, its TF.js parse, the CPU rule, and its WGSL twin with the code that drives it.
import type { NodeBase } from '../types.ts';
import {
  ftz,
  PICK_MARGIN,
  twinForTest,
  uniformStruct,
  type GpuOp,
  type Kept,
  type OpModule,
  type StepContext,
} from './common.ts';
import { attrInts, attrHW, attrStr, padBefore, type TfParse } from './tf.ts';

export interface ConvNode extends NodeBase {
  kind: 'conv';
  /** HWIO for conv, HW·C·M for depthwise (channel multiplier M). */
  weights: Float32Array;
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** Padding before (top, left); the amount after follows from the shapes. */
  pad: [number, number];
  depthwise: boolean;
  /** Per output channel factor folded in from a BatchNorm (gamma/sqrt(var+eps)); a negative one flips the argmax. */
  scale?: Float32Array;
  /** The graph constant `weights` was read from, unchanged (the GPU path binds the model's own copy of it). */
  source?: string;
}

const tf: TfParse = {
  ops: ['Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative'],
  parse(n, c) {
    if ((attrStr(n, 'data_format') ?? 'NHWC') !== 'NHWC') c.fail('only NHWC convolutions are supported');
    const { ins, shape } = c;
    const w = c.need(ins[1]);
    if (w.shape.length !== 4) c.fail(`weights '${ins[1]}' must be 4-D, got [${w.shape}]`);
    const inShape = c.shapeOf(ins[0]);
    const [sy, sx] = attrHW(n, c, 'strides');
    const dil = attrInts(n, 'dilations');
    const [dy, dx] = dil.length === 4 ? [dil[1], dil[2]] : [1, 1];
    const node: ConvNode = {
      kind: 'conv',
      name: n.name,
      shape,
      inputs: [ins[0]],
      weights: Float32Array.from(w.values),
      source: ins[1],
      kernel: [w.shape[0], w.shape[1]],
      strides: [sy, sx],
      dilations: [dy, dx],
      depthwise: n.op.includes('Depthwise'),
      pad: [
        padBefore(n, inShape[0], shape[0], w.shape[0], sy, dy, 0),
        padBefore(n, inShape[1], shape[1], w.shape[1], sx, dx, 1),
      ],
    };
    const fused = (n.attr?.fused_ops?.list?.s ?? []).map((s: string) => atob(s));
    if (fused.includes('FusedBatchNorm')) node.scale = c.bnScale(2);
    return node;
  },
};

function convCpu(node: ConvNode, kept: Kept, ctx: StepContext) {
  const a = ctx.act(node.inputs[0]);
  const [H, W, Cin] = ctx.shape(node.inputs[0]);
  const [, Wo, Cout] = node.shape;
  const [KH, KW] = node.kernel;
  const [sy, sx] = node.strides;
  const [dy, dx] = node.dilations;
  const [pt, pl] = node.pad;
  const mult = node.depthwise ? Cout / Cin : 1;
  const wt = node.weights;
  const ratio = node.depthwise ? 0 : f32(ctx.rules.channelRatio ?? 0);
  const margin = f32(twinForTest.margin);
  const contrib = new Float32Array(Cin);
  const mags = new Float32Array(Cin); // each contribution's sum of magnitudes: the scale of its rounding error
  const terms: number[] = [];
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
    // The kept input neuron of channel k: its window position by the location rule.
    const locate = (k: number) => {
      let iy: number, ix: number;
      if (ctx.rules.location === 'center') {
        iy = clamp(y0 + Math.floor(((KH - 1) * dy) / 2), H);
        ix = clamp(x0 + Math.floor(((KW - 1) * dx) / 2), W);
      } else {
        // Position of the channel's largest contribution inside the window: the first within the margin of it.
        let best = -Infinity;
        let scale = 0;
        const s: number[] = [];
        const at: number[] = [];
        for (let u = 0; u < KH; u++) {
          const ty = y0 + u * dy;
          if (ty < 0 || ty >= H) continue;
          for (let v = 0; v < KW; v++) {
            const tx = x0 + v * dx;
            if (tx < 0 || tx >= W) continue;
            const p = ftz(f32(f32(a[(ty * W + tx) * Cin + k] * wt[wIndex(u, v, k, c)]) * sign));
            s.push(p);
            at.push(ty * W + tx);
            if (p > best) best = p;
            scale = Math.max(scale, Math.abs(p));
          }
        }
        const cut = f32(best - f32(margin * scale));
        const j = s.findIndex((p) => p >= cut);
        if (j < 0) {
          iy = clamp(y0, H);
          ix = clamp(x0, W);
        } else {
          iy = Math.floor(at[j] / W);
          ix = at[j] % W;
        }
      }
      return (iy * W + ix) * Cin + k;
    };
    if (node.depthwise) {
      ctx.keep(node.inputs[0], locate(Math.floor(c / mult)), w);
      continue;
    }
    let best = -Infinity;
    let bestK = 0;
    for (let k = 0; k < Cin; k++) {
      terms.length = 0;
      for (let u = 0; u < KH; u++) {
        const iy = y0 + u * dy;
        if (iy < 0 || iy >= H) continue;
        for (let v = 0; v < KW; v++) {
          const ix = x0 + v * dx;
          if (ix < 0 || ix >= W) continue;
          terms.push(a[(iy * W + ix) * Cin + k], wt[wIndex(u, v, k, c)]);
        }
      }
      const [s, m] = windowSum(terms);
      contrib[k] = ftz(f32(s * sign));
      mags[k] = f32(m * Math.abs(sign));
      if (contrib[k] > best) {
        best = contrib[k];
        bestK = k;
      }
    }
    // Near-ties within the margin of the two sums' error scales go to the first channel (see PICK_MARGIN). A channel
    // compared false (NaN: the sparse fallback's unread ones) is never chosen.
    const mBest = mags[bestK];
    const tolOf = (k: number) => f32(margin * Math.max(mags[k], mBest));
    for (let k = 0; k < bestK; k++)
      if (contrib[k] >= f32(best - tolOf(k))) {
        bestK = k;
        break;
      }
    if (ratio <= 0 || !(best > f32(margin * mBest))) {
      ctx.keep(node.inputs[0], locate(bestK), w);
      continue;
    }
    // channelRatio: every clearly positive channel close to the best, each with its share of their total.
    const rb = f32(ratio * best);
    const close = (k: number) => contrib[k] >= f32(rb - tolOf(k)) && contrib[k] > f32(margin * mags[k]);
    let total = 0;
    for (let k = 0; k < Cin; k++) if (close(k)) total = f32(total + contrib[k]);
    for (let k = 0; k < Cin; k++) if (close(k)) ctx.keep(node.inputs[0], locate(k), (w * contrib[k]) / total);
  }
}

/**
 * A window's sum of products a*w and sum of their magnitudes (the scale of its rounding error), pairs flattened in
 * `terms`. In the GPU's order (f32, product rounded, then added, tap by tap), or as twinForTest.order says.
 */
function windowSum(terms: number[]): [number, number] {
  let s = 0,
    m = 0;
  const n = terms.length;
  switch (twinForTest.order) {
    case 'f32':
      for (let i = 0; i < n; i += 2) {
        const p = f32(terms[i] * terms[i + 1]);
        s = f32(s + p);
        m = f32(m + Math.abs(p));
      }
      return [s, m];
    case 'f64':
      for (let i = 0; i < n; i += 2) {
        const p = terms[i] * terms[i + 1];
        s += p;
        m += Math.abs(p);
      }
      return [f32(s), f32(m)];
    case 'reverse':
      for (let i = n - 2; i >= 0; i -= 2) {
        const p = f32(terms[i] * terms[i + 1]);
        s = f32(s + p);
        m = f32(m + Math.abs(p));
      }
      return [s, m];
    case 'fma': // s = fma(a, w, s): the product exact (f64 holds it), one rounding per step
      for (let i = 0; i < n; i += 2) {
        const p = terms[i] * terms[i + 1];
        s = f32(s + p);
        m = f32(m + Math.abs(p));
      }
      return [s, m];
  }
}

// The channel and location choices are made in f32, operation by operation as the WGSL twin does, so that near-ties
// go the same way on both (an f64 sum can order two channels differently from the GPU's f32 sum).
const f32 = Math.fround;

function clamp(v: number, n: number): number {
  return v < 0 ? 0 : v >= n ? n - 1 : v;
}

const Params = uniformStruct('Conv', [
  'H',
  'W',
  'Cin',
  'Wo',
  'Cout',
  'KH',
  'KW',
  'sy',
  'sx',
  'dy',
  'dx',
  'pt',
  'pl',
  'mult',
  'depthwise',
] as const);

/**
 * GPU twin of convCpu: one invocation per kept output neuron; same loops, same margins and first-candidate
 * tie-breaking. The channel contributions are recomputed rather than stored: a second pass finds the first channel
 * within the margin of the best (only channels before the first exact maximum can be it), and with CHANNEL_RATIO a
 * third and fourth pass take the total, then the keeps.
 */
const wgsl =
  Params.wgsl +
  /* wgsl */ `
override MAX_LOCATION: bool = false;
override CHANNEL_RATIO: f32 = 0.0;
const PICK_MARGIN: f32 = ${PICK_MARGIN};
@group(1) @binding(0) var<storage, read> act: array<f32>;
@group(0) @binding(5) var<storage, read> wt: array<f32>;
@group(0) @binding(6) var<storage, read> scale: array<f32>; // BN factor per output channel (ones if none)

fn wIndex(u: i32, v: i32, k: i32, c: i32) -> i32 {
  if (p.depthwise != 0) { return ((u * p.KW + v) * p.Cin + k) * p.mult + c % p.mult; }
  return ((u * p.KW + v) * p.Cin + k) * p.Cout + c;
}

// Contribution of input channel k's window to output channel c (times the BN sign), and its sum of magnitudes.
fn contribution(k: i32, c: i32, y0: i32, x0: i32, sign: f32) -> vec2<f32> {
  var s = 0.0;
  var m = 0.0;
  for (var u = 0; u < p.KH; u++) {
    let iy = y0 + u * p.dy;
    if (iy < 0 || iy >= p.H) { continue; }
    for (var v = 0; v < p.KW; v++) {
      let ix = x0 + v * p.dx;
      if (ix < 0 || ix >= p.W) { continue; }
      let t = act[(iy * p.W + ix) * p.Cin + k] * wt[wIndex(u, v, k, c)];
      s += t;
      m += abs(t);
    }
  }
  return vec2<f32>(ftz(s * sign), m * abs(sign));
}

// The kept input neuron of channel k: its window position by the location rule.
fn locate(k: i32, c: i32, y0: i32, x0: i32, sign: f32) -> i32 {
  var iy = clamp(y0, 0, p.H - 1);
  var ix = clamp(x0, 0, p.W - 1);
  if (!MAX_LOCATION) {
    iy = clamp(y0 + ((p.KH - 1) * p.dy) / 2, 0, p.H - 1);
    ix = clamp(x0 + ((p.KW - 1) * p.dx) / 2, 0, p.W - 1);
    return (iy * p.W + ix) * p.Cin + k;
  }
  // The best product and the largest magnitude, then the first position within the margin of the best.
  var best = 0.0;
  var found = false;
  var mag = 0.0;
  for (var u = 0; u < p.KH; u++) {
    let ty = y0 + u * p.dy;
    if (ty < 0 || ty >= p.H) { continue; }
    for (var v = 0; v < p.KW; v++) {
      let tx = x0 + v * p.dx;
      if (tx < 0 || tx >= p.W) { continue; }
      let s = ftz(act[(ty * p.W + tx) * p.Cin + k] * wt[wIndex(u, v, k, c)] * sign);
      if (!found || s > best) { found = true; best = s; }
      mag = max(mag, abs(s));
    }
  }
  let cut = best - PICK_MARGIN * mag;
  for (var u = 0; u < p.KH; u++) {
    let ty = y0 + u * p.dy;
    if (ty < 0 || ty >= p.H) { continue; }
    for (var v = 0; v < p.KW; v++) {
      let tx = x0 + v * p.dx;
      if (tx < 0 || tx >= p.W) { continue; }
      let s = ftz(act[(ty * p.W + tx) * p.Cin + k] * wt[wIndex(u, v, k, c)] * sign);
      if (s >= cut) { return (ty * p.W + tx) * p.Cin + k; }
    }
  }
  return (iy * p.W + ix) * p.Cin + k;
}

fn visit(o: i32, w: f32) {
  let c = o % p.Cout;
  let x = (o / p.Cout) % p.Wo;
  let y = o / p.Cout / p.Wo;
  let y0 = y * p.sy - p.pt;
  let x0 = x * p.sx - p.pl;
  let sign = scale[c];
  if (p.depthwise != 0) { keep(locate(c / p.mult, c, y0, x0, sign), w); return; }
  var best = 0.0;
  var bestK = 0;
  var mBest = 0.0;
  for (var k = 0; k < p.Cin; k++) {
    let r = contribution(k, c, y0, x0, sign);
    if (k == 0 || r.x > best) { best = r.x; bestK = k; mBest = r.y; }
  }
  // Near-ties within the margin of the two sums' error scales go to the first channel (PICK_MARGIN in
  // src/engine/ops/common.ts): only channels before the first exact maximum can be it.
  for (var k = 0; k < bestK; k++) {
    let r = contribution(k, c, y0, x0, sign);
    if (r.x >= best - PICK_MARGIN * max(r.y, mBest)) { bestK = k; break; }
  }
  if (CHANNEL_RATIO <= 0.0 || !(best > PICK_MARGIN * mBest)) { keep(locate(bestK, c, y0, x0, sign), w); return; }
  let rb = CHANNEL_RATIO * best;
  var total = 0.0;
  for (var k = 0; k < p.Cin; k++) {
    let r = contribution(k, c, y0, x0, sign);
    if (r.x >= rb - PICK_MARGIN * max(r.y, mBest) && r.x > PICK_MARGIN * r.y) { total += r.x; }
  }
  for (var k = 0; k < p.Cin; k++) {
    let r = contribution(k, c, y0, x0, sign);
    if (r.x >= rb - PICK_MARGIN * max(r.y, mBest) && r.x > PICK_MARGIN * r.y) { keep(locate(k, c, y0, x0, sign), (w * r.x) / total); }
  }
}
`;

const gpu: GpuOp<ConvNode> = {
  wgsl,
  constants: (rules) => ({ MAX_LOCATION: rules.location === 'max' ? 1 : 0, CHANNEL_RATIO: rules.channelRatio ?? 0 }),
  dispatches(node, shape) {
    const [H, W, Cin] = shape(node.inputs[0]);
    const [, Wo, Cout] = node.shape;
    const mult = node.depthwise ? Cout / Cin : 1;
    const want = node.kernel[0] * node.kernel[1] * Cin * (node.depthwise ? mult : Cout);
    if (node.weights.length !== want)
      throw new Error(`node '${node.name}' (conv): ${node.weights.length} weights, expected ${want}`);
    const [KH, KW] = node.kernel,
      [sy, sx] = node.strides,
      [dy, dx] = node.dilations,
      [pt, pl] = node.pad;
    return [
      {
        input: node.inputs[0],
        params: Params.pack({
          H,
          W,
          Cin,
          Wo,
          Cout,
          KH,
          KW,
          sy,
          sx,
          dy,
          dx,
          pt,
          pl,
          mult,
          depthwise: node.depthwise ? 1 : 0,
        }),
        acts: [node.inputs[0]],
        fixed: [
          { label: `conv weights of ${node.name}`, data: node.weights, constant: node.source },
          { label: `scale of ${node.name}`, data: node.scale ?? new Float32Array(Cout).fill(1) },
        ],
      },
    ];
  },
};

export const conv: OpModule<ConvNode> = { kind: 'conv', reads: (n) => [n.inputs[0]], cpu: convCpu, gpu, tf };
