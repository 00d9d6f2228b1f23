// One-to-one ops (ReLU, BiasAdd, BN, Softmax, Reshape, Squeeze, Identity, a Mul by a gate...): same flat index.
import { size, type NodeBase } from '../types.ts';
import type { GpuOp, Kept, OpModule, StepContext } from './common.ts';
import type { TfParse } from './tf.ts';

/** `op` is the source op (a BatchNorm is folded into the conv below it by buildGraph). */
export interface IdentityNode extends NodeBase {
  kind: 'identity';
  op: string;
}

/** TF.js ops that keep every element where it is (or only reshape): followed one to one. */
export const IDENTITY_TF_OPS: readonly string[] = [
  'Relu',
  'Relu6',
  'Elu',
  'LeakyRelu',
  'Identity',
  'Softmax',
  'BiasAdd',
  'FusedBatchNorm',
  'FusedBatchNormV3',
  'Reshape',
  'Squeeze',
  'Flatten',
  'StopGradient',
  'Snapshot',
  'Sigmoid',
  'HardSwish',
  'Tanh',
  'Selu',
  'Softplus', // elementwise and monotone, like the ReLUs
];

const tf: TfParse = {
  ops: IDENTITY_TF_OPS,
  parse(n, c) {
    const main = c.live[0];
    if (!main) c.fail('has no non-constant input');
    if (size(c.shapeOf(main)) !== size(c.shape))
      c.fail(`changes the element count (${size(c.shapeOf(main))} -> ${size(c.shape)})`);
    return { kind: 'identity', op: n.op, name: n.name, shape: c.shape, inputs: [main] };
  },
};

function identityCpu(node: IdentityNode, kept: Kept, ctx: StepContext) {
  for (const [idx, w] of kept) ctx.keep(node.inputs[0], idx, w);
}

/**
 * Normally no kernel runs: the node shares its input's weights and list (oneToOne). This copy runs only when the
 * input has other consumers too (its buffers then hold more than this node's set).
 */
const gpu: GpuOp<IdentityNode> = {
  wgsl: /* wgsl */ `
fn visit(o: i32, w: f32) { keep(o, w); }
`,
  oneToOne: true,
  dispatches: (node) => [{ input: node.inputs[0], acts: [] }],
};

export const identity: OpModule<IdentityNode> = { kind: 'identity', reads: () => [], cpu: identityCpu, gpu, tf };
