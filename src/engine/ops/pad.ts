// Pad: an index shift. MirrorPad's border neurons are copies of input neurons: they map to the mirrored one.
import type { NodeBase } from '../types.ts';
import { uniformStruct, type GpuOp, type Kept, type OpModule, type StepContext } from './common.ts';
import { attrStr, type TfParse } from './tf.ts';

/** Index of each mode = its code in the WGSL twin. */
export const PAD_MODES = ['constant', 'reflect', 'symmetric'] as const;
export type PadMode = (typeof PAD_MODES)[number];

export interface PadNode extends NodeBase {
  kind: 'pad';
  /** padding before (top, left, channel) */
  before: [number, number, number];
  /** constant: padding neurons keep nothing; reflect / symmetric (MirrorPad): the mirrored input neuron. */
  mode: PadMode;
}

const tf: TfParse = {
  ops: ['Pad', 'PadV2', 'MirrorPad'],
  parse(n, c) {
    const p = c.need(c.ins[1]).values;
    if (p.length !== 8 || p[0] || p[1]) c.fail(`paddings must be NHWC with no batch padding, got [${[...p]}]`);
    let mode: PadMode = 'constant';
    if (n.op === 'MirrorPad') {
      const m = attrStr(n, 'mode');
      if (m !== 'REFLECT' && m !== 'SYMMETRIC') c.fail(`MirrorPad mode must be REFLECT or SYMMETRIC, got '${m}'`);
      mode = m === 'REFLECT' ? 'reflect' : 'symmetric';
    }
    return { kind: 'pad', name: n.name, shape: c.shape, inputs: [c.ins[0]], before: [p[2], p[4], p[6]], mode };
  },
};

function padCpu(node: PadNode, kept: Kept, ctx: StepContext) {
  const [, Wo, Co] = node.shape;
  const [H, W, C] = ctx.shape(node.inputs[0]);
  const [t, l, c0] = node.before;
  const m = PAD_MODES.indexOf(node.mode);
  for (const [idx, w] of kept) {
    const y = mirror(Math.floor(idx / Co / Wo) - t, H, m);
    const x = mirror((Math.floor(idx / Co) % Wo) - l, W, m);
    const c = mirror((idx % Co) - c0, C, m);
    if (y >= 0 && y < H && x >= 0 && x < W && c >= 0 && c < C) ctx.keep(node.inputs[0], (y * W + x) * C + c, w);
  }
}

/** Source index of a padded position i in a size-n axis: mode 0 constant (out of range), 1 reflect, 2 symmetric. */
function mirror(i: number, n: number, mode: number): number {
  if (mode === 0 || (i >= 0 && i < n)) return i;
  const r = mode === 1 ? 0 : 1; // SYMMETRIC repeats the edge, REFLECT does not
  return i < 0 ? -i - r : 2 * (n - 1) - i + r;
}

const Params = uniformStruct('Pad', ['Wo', 'Co', 'H', 'W', 'C', 't', 'l', 'c0', 'mode'] as const);

const wgsl =
  Params.wgsl +
  /* wgsl */ `
fn mirror(i: i32, n: i32) -> i32 {
  if (p.mode == 0 || (i >= 0 && i < n)) { return i; }
  let r = select(1, 0, p.mode == 1);
  if (i < 0) { return -i - r; }
  return 2 * (n - 1) - i + r;
}

fn visit(o: i32, w: f32) {
  let y = mirror(o / p.Co / p.Wo - p.t, p.H);
  let x = mirror((o / p.Co) % p.Wo - p.l, p.W);
  let c = mirror(o % p.Co - p.c0, p.C);
  if (y >= 0 && y < p.H && x >= 0 && x < p.W && c >= 0 && c < p.C) { keep((y * p.W + x) * p.C + c, w); }
}
`;

const gpu: GpuOp<PadNode> = {
  wgsl,
  dispatches(node, shape) {
    const [, Wo, Co] = node.shape;
    const [H, W, C] = shape(node.inputs[0]);
    const [t, l, c0] = node.before;
    return [
      {
        input: node.inputs[0],
        params: Params.pack({ Wo, Co, H, W, C, t, l, c0, mode: PAD_MODES.indexOf(node.mode) }),
        acts: [],
      },
    ];
  },
};

export const pad: OpModule<PadNode> = { kind: 'pad', reads: () => [], cpu: padCpu, gpu, tf };
