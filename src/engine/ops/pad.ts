// Pad: an index shift.
import type { NodeBase } from '../types.ts';
import { uniformStruct, type GpuOp, type Kept, type OpModule, type StepContext } from './common.ts';
import type { TfParse } from './tf.ts';

export interface PadNode extends NodeBase { kind: 'pad'; /** padding before (top, left, channel) */ before: [number, number, number] }

const tf: TfParse = {
  ops: ['Pad', 'PadV2', 'MirrorPad'],
  parse(n, c) {
    const p = c.need(c.ins[1]).values;
    if (p.length !== 8 || p[0] || p[1]) c.fail(`paddings must be NHWC with no batch padding, got [${[...p]}]`);
    return { kind: 'pad', name: n.name, shape: c.shape, inputs: [c.ins[0]], before: [p[2], p[4], p[6]] };
  },
};

function padCpu(node: PadNode, kept: Kept, ctx: StepContext) {
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

const Params = uniformStruct('Pad', ['Wo', 'Co', 'H', 'W', 'C', 't', 'l', 'c0'] as const);

const wgsl = Params.wgsl + /* wgsl */ `
fn visit(o: i32, w: f32) {
  let y = o / p.Co / p.Wo - p.t;
  let x = (o / p.Co) % p.Wo - p.l;
  let c = o % p.Co - p.c0;
  if (y >= 0 && y < p.H && x >= 0 && x < p.W && c >= 0 && c < p.C) { keep((y * p.W + x) * p.C + c, w); }
}
`;

const gpu: GpuOp<PadNode> = {
  wgsl,
  dispatches(node, shape) {
    const [, Wo, Co] = node.shape;
    const [H, W, C] = shape(node.inputs[0]);
    const [t, l, c0] = node.before;
    return [{ input: node.inputs[0], params: Params.pack({ Wo, Co, H, W, C, t, l, c0 }), acts: [] }];
  },
};

export const pad: OpModule<PadNode> = { kind: 'pad', reads: () => [], cpu: padCpu, gpu, tf };
