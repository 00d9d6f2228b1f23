// Residual add: follow the larger addend, ties to the skip path. Its TF parse also takes the elementwise ops with a
// constant or a gate (bias, input scaling, ReLU6 as Minimum/Maximum, hard-swish, squeeze-excitation), which follow
// their main input one to one.
import { size, type NodeBase } from '../types.ts';
import { ftz, uniformStruct, type GpuOp, type Kept, type OpModule, type StepContext } from './common.ts';
import type { TfParse } from './tf.ts';

/** Residual add: follow the larger addend; ties go to inputs[skip]. */
export interface AddNode extends NodeBase {
  kind: 'add';
  skip: number;
}

const tf: TfParse = {
  ops: ['AddV2', 'Add', 'Mul', 'Sub', 'RealDiv', 'Div', 'Maximum', 'Minimum'],
  parse(n, c) {
    const base = { name: n.name, shape: c.shape };
    const full = c.live.filter((i) => size(c.shapeOf(i)) === size(c.shape));
    if (full.length === 0) c.fail('no input has the output shape');
    const elementwise = !['AddV2', 'Add', 'Sub'].includes(n.op);
    if (elementwise && full.length > 1 && n.op !== 'Mul')
      c.fail(`op '${n.op}' cannot be unravelled between two computed tensors (only with a constant)`);
    if (elementwise || full.length === 1) {
      // Bias, gate (squeeze-excitation) or scalar: follow the main input, same index. A Mul of two full-size
      // tensors (x * sigmoid(conv(x)), hard-swish) follows the shallower one, the data path the gate is computed
      // from; equal depths: the first by name. Never the input order, which a converter may swap.
      const main = [...full].sort((a, b) => c.depth(a) - c.depth(b) || (a < b ? -1 : a > b ? 1 : 0))[0];
      return { ...base, kind: 'identity', op: n.op, inputs: [main] };
    }
    if (n.op === 'Sub') c.fail("op 'Sub' cannot be unravelled between two computed tensors (only with a constant)");
    // The skip path is the shallower addend (an identity skip is an ancestor of the branch); equal depths: the earlier.
    const [d0, d1] = [c.depth(full[0]), c.depth(full[1])];
    const skip = d0 !== d1 ? (d0 < d1 ? 0 : 1) : c.topo(full[0]) <= c.topo(full[1]) ? 0 : 1;
    return { ...base, kind: 'add', inputs: full.slice(0, 2), skip };
  },
};

function addCpu(node: AddNode, kept: Kept, ctx: StepContext) {
  const [a, b] = node.inputs.map((i) => ctx.act(i));
  for (const [idx, w] of kept) {
    const [u, v] = [ftz(a[idx]), ftz(b[idx])];
    const pick = u > v ? 0 : v > u ? 1 : node.skip;
    ctx.keep(node.inputs[pick], idx, w);
  }
}

const Params = uniformStruct('Add', ['which', 'skip'] as const);

/** GPU twin, one dispatch per addend (which = 0 | 1, every kernel writes a single input node). */
const wgsl =
  Params.wgsl +
  /* wgsl */ `
@group(1) @binding(0) var<storage, read> a: array<f32>;
@group(2) @binding(0) var<storage, read> b: array<f32>;

fn visit(o: i32, w: f32) {
  var pick = p.skip;
  let u = ftz(a[o]);
  let v = ftz(b[o]);
  if (u > v) { pick = 0; } else if (v > u) { pick = 1; }
  if (pick == p.which) { keep(o, w); }
}
`;

const gpu: GpuOp<AddNode> = {
  wgsl,
  dispatches: (node) =>
    node.inputs.map((input, which) => ({ input, params: Params.pack({ which, skip: node.skip }), acts: node.inputs })),
};

export const add: OpModule<AddNode> = { kind: 'add', reads: (n) => n.inputs, cpu: addCpu, gpu, tf };
