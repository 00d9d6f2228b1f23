// Building a TF.js graph model in memory: GraphDef-JSON nodes (op names and attrs as tfjs-converter emits them),
// their constants as weightSpecs + one weightData buffer. The result loads with loadGraphModel(io.fromMemory(...)).
import type { io } from '@tensorflow/tfjs-core';
import type { TfNode } from '../../engine/graph.ts';

/** A tensor of the graph being built: its node name and its shape without the batch dimension. */
export interface Tensor {
  name: string;
  shape: number[];
}

const b64 = (s: string) => btoa(s);
export const attr = {
  ints: (v: number[]) => ({ list: { i: v.map(String) } }),
  str: (s: string) => ({ s: b64(s) }),
  f: (x: number) => ({ f: x }),
  b: (x: boolean) => ({ b: x }),
  float: { type: 'DT_FLOAT' },
  int: { type: 'DT_INT32' },
};
const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });

export class GraphDefBuilder {
  readonly nodes: TfNode[] = [];
  private readonly specs: io.WeightsManifestEntry[] = [];
  private readonly data: ArrayBuffer[] = [];
  private readonly taken = new Set<string>();

  /** A node name not used yet: `base`, else `base_1`, `base_2`... */
  unique(base: string): string {
    let name = base;
    for (let k = 1; this.taken.has(name); k++) name = `${base}_${k}`;
    this.taken.add(name);
    return name;
  }

  op(name: string, op: string, inputs: string[], attrs: Record<string, unknown> = {}): string {
    const n = this.unique(name);
    this.nodes.push({ name: n, op, input: inputs, attr: { T: attr.float, ...attrs } });
    return n;
  }

  placeholder(name: string, shape: number[]): string {
    const n = this.unique(name);
    this.nodes.push({
      name: n,
      op: 'Placeholder',
      attr: { dtype: attr.float, shape: { shape: dims([-1, ...shape]) } },
    });
    return n;
  }

  constant(name: string, values: Float32Array | Int32Array, shape: number[]): string {
    const n = this.unique(name);
    const dtype = values instanceof Int32Array ? 'int32' : 'float32';
    const type = dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT';
    this.nodes.push({
      name: n,
      op: 'Const',
      attr: { dtype: { type }, value: { tensor: { dtype: type, tensorShape: dims(shape) } } },
    });
    this.specs.push({ name: n, shape, dtype });
    this.data.push(values.slice().buffer as ArrayBuffer);
    return n;
  }

  /** The model artifacts; `output` is the signature's one output (the model's output node). */
  artifacts(input: Tensor, output: string, generatedBy: string): io.ModelArtifacts {
    const total = this.data.reduce((s, d) => s + d.byteLength, 0);
    const weightData = new Uint8Array(total);
    let off = 0;
    for (const d of this.data) {
      weightData.set(new Uint8Array(d), off);
      off += d.byteLength;
    }
    const tensorShape = dims([-1, ...input.shape]);
    return {
      modelTopology: { node: this.nodes, library: {}, versions: { producer: 1 } },
      weightSpecs: this.specs,
      weightData: weightData.buffer,
      format: 'graph-model',
      generatedBy,
      convertedBy: 'cnnfix layers converter',
      // Keys are the node names: GraphModel.outputNodes reports the keys, and the loaders look the node up by it.
      signature: {
        inputs: { [input.name]: { name: `${input.name}:0`, dtype: 'DT_FLOAT', tensorShape } },
        outputs: { [output]: { name: `${output}:0`, dtype: 'DT_FLOAT' } },
      },
    };
  }
}
