// The network input: where the walk ends (no rule, no kernel).
import type { NodeBase } from '../types.ts';
import type { OpModule } from './common.ts';
import type { TfParse } from './tf.ts';

export interface InputNode extends NodeBase {
  kind: 'input';
}

const tf: TfParse = {
  ops: ['Placeholder'],
  parse(n, c) {
    if (c.shape.length !== 3) c.fail(`input must be an NHWC map [1,H,W,C], got [${c.shape}] after the batch dimension`);
    return { kind: 'input', name: n.name, shape: c.shape, inputs: [] };
  },
};

export const input: OpModule<InputNode> = { kind: 'input', reads: () => [], cpu: () => {}, tf };
