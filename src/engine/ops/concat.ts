// Concat over channels: a kept neuron goes to the input that made its channel.
import type { NodeBase } from '../types.ts';
import { uniformStruct, type GpuOp, type Kept, type OpModule, type StepContext } from './common.ts';
import type { TfParse } from './tf.ts';

export interface ConcatNode extends NodeBase {
  kind: 'concat';
  /** channel offset of each input */ offsets: number[];
}

const tf: TfParse = {
  ops: ['ConcatV2', 'Concat'],
  parse(n, c) {
    const { ins, shape } = c;
    const axisName = n.op === 'ConcatV2' ? ins[ins.length - 1] : ins[0];
    const parts = ins.filter((i) => i !== axisName);
    const rank = shape.length + 1;
    const axis = c.need(axisName).values[0];
    if (axis !== -1 && axis !== rank - 1)
      c.fail(`only concatenation over the channel axis is supported, got axis ${axis}`);
    if (parts.some(c.isConst)) c.fail('concatenation with a constant is not supported');
    const offsets: number[] = [];
    let off = 0;
    for (const p of parts) {
      offsets.push(off);
      off += c.shapeOf(p).at(-1)!;
    }
    return { kind: 'concat', name: n.name, shape, inputs: parts, offsets };
  },
};

function concatCpu(node: ConcatNode, kept: Kept, ctx: StepContext) {
  const C = node.shape.at(-1)!;
  const widths = node.inputs.map((i) => ctx.shape(i).at(-1)!);
  for (const [idx, w] of kept) {
    const c = idx % C;
    const p = Math.floor(idx / C);
    let i = node.offsets.length - 1;
    while (node.offsets[i] > c) i--;
    ctx.keep(node.inputs[i], p * widths[i] + c - node.offsets[i], w);
  }
}

const Params = uniformStruct('Concat', ['C', 'off', 'width'] as const);

/** GPU twin, one dispatch per input (every kernel writes a single input node): the channels [off, off + width) go to it. */
const wgsl =
  Params.wgsl +
  /* wgsl */ `
fn visit(o: i32, w: f32) {
  let c = o % p.C;
  if (c >= p.off && c < p.off + p.width) { keep((o / p.C) * p.width + c - p.off, w); }
}
`;

const gpu: GpuOp<ConcatNode> = {
  wgsl,
  dispatches: (node, shape) =>
    node.inputs.map((input, i) => ({
      input,
      params: Params.pack({ C: node.shape.at(-1)!, off: node.offsets[i], width: shape(input).at(-1)! }),
      acts: [],
    })),
};

export const concat: OpModule<ConcatNode> = { kind: 'concat', reads: () => [], cpu: concatCpu, gpu, tf };
