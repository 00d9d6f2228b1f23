// The shape of an op module (see registry.ts), what every unravel step gets (the rules, activations by node name,
// a sink for the kept input neurons), and the WGSL every kernel shares.
import type { GraphNode, Rules, Shape } from '../types.ts';
import type { TfParse } from './tf.ts';

/** Everything one kind of graph node brings: its CPU rule, its GPU twin, and how it is read from a TF.js graph. */
export interface OpModule<N extends GraphNode = GraphNode> {
  kind: N['kind'];
  /** Activations the rule reads: captured in the forward pass, bound to the GPU kernel. */
  reads(node: N): string[];
  /** The CPU reference rule: for each kept output neuron, keep input neurons (ctx.keep). */
  cpu(node: N, kept: Kept, ctx: StepContext): void;
  /** The GPU twin (absent for the input node). */
  gpu?: GpuOp<N>;
  /** TF.js graph-model ops this module converts. */
  tf?: TfParse;
}

/** A WGSL kernel and how to drive it. */
export interface GpuOp<N extends GraphNode = GraphNode> {
  /** Appended to commonWgsl: the uniform struct at binding 0 (uniformStruct), bindings 5.., and fn visit(o, w). */
  wgsl: string;
  /** Override constants chosen by the rules (COUNT, from rules.weights, is set for every kernel). */
  constants?(rules: Rules): Record<string, number>;
  /** One-to-one op: shares its input's buffers (no dispatch) when it is that input's only consumer. */
  oneToOne?: boolean;
  /** The dispatches of one node, each writing one input node; `shape` gives any node's output shape. */
  dispatches(node: N, shape: (name: string) => Shape): GpuDispatch[];
}

export interface GpuDispatch {
  /** The input node this dispatch keeps neurons of. */
  input: string;
  /** Uniform contents (the op's uniformStruct(...).pack), or none. */
  params?: Int32Array;
  /** Activations bound from binding 5 on, per frame. */
  acts: string[];
  /**
   * Read-only buffers bound after the activations, uploaded once per model (weights, scales). `constant`: the graph
   * constant (model weight) that `data` is, unchanged, so that the model's own GPU copy can be bound instead.
   */
  fixed?: { label: string; data: Float32Array; constant?: string }[];
}

/**
 * A kernel's uniform struct (i32 fields, bound as `p` at binding 0) and its packing, made from one field list so
 * that the order on both sides cannot differ. pack() pads to 16 bytes.
 */
export function uniformStruct<K extends string>(name: string, fields: readonly K[]) {
  return {
    wgsl: `struct ${name} { ${fields.map((f) => `${f}: i32`).join(', ')} }\n@group(0) @binding(0) var<uniform> p: ${name};\n`,
    pack(v: Record<K, number>): Int32Array {
      const out = new Int32Array(Math.ceil(fields.length / 4) * 4);
      fields.forEach((f, i) => {
        if (!Number.isInteger(v[f])) throw new Error(`uniform ${name}.${f} = ${v[f]} is not an integer`);
        out[i] = v[f];
      });
      return out;
    },
  };
}

export interface StepContext {
  rules: Rules;
  /** Activations (NHWC, batch dropped) of a captured node. */
  act(name: string): Float32Array;
  /** Output shape of a node (batch dropped). */
  shape(name: string): Shape;
  /** Keep input neuron `index` of node `target` with weight `w` (merging is the walker's business). */
  keep(target: string, index: number, w: number): void;
}
export type Kept = Map<number, number>;

/**
 * Fan-out: keep every candidate with its share of the total contribution (the rule 'contribution'), or
 * weight 1 each under 'count' (the walker sets it). No positive candidate keeps the single best one.
 */
export function fanOut(ctx: StepContext, target: string, w: number, idx: ArrayLike<number>, contrib: ArrayLike<number>) {
  let total = 0;
  let best = 0;
  for (let i = 0; i < contrib.length; i++) {
    if (contrib[i] > 0) total += contrib[i];
    if (contrib[i] > contrib[best]) best = i;
  }
  if (total <= 0) return ctx.keep(target, idx[best], w);
  for (let i = 0; i < contrib.length; i++) if (contrib[i] > 0) ctx.keep(target, idx[i], (w * contrib[i]) / total);
}

/**
 * WGSL shared by every unravel kernel: the GPU twin of StepContext.keep, of the walker's merging, and of its loop
 * over a node's kept neurons. Per node a dense weight buffer (one f32 per output neuron, 0 = not kept) and a list of
 * its kept neurons: [count, workgroups x, 1, 1, indices...], the header doubling as indirect dispatch arguments.
 * A step runs one invocation per kept neuron of its node (`visit`, defined by the kernel) and keeps input neurons:
 * merged neurons add up (compare-exchange on the f32 bits) or are set to 1 under 'count'; the first keep of a
 * neuron appends it to the input's list, so every kept neuron is listed once.
 * Bindings: 0 params, 1-2 this node (weights, list), 3-4 the input node (weights, list), 5.. the kernel's.
 */
export const commonWgsl = /* wgsl */ `
override COUNT: bool = false;
struct KeptList { count: u32, groups: u32, gy: u32, gz: u32, index: array<u32> }
struct NextList { count: atomic<u32>, groups: atomic<u32>, gy: u32, gz: u32, index: array<u32> }
@group(0) @binding(1) var<storage, read> kept: array<f32>;
@group(0) @binding(2) var<storage, read> keptList: KeptList;
@group(0) @binding(3) var<storage, read_write> next: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> nextList: NextList;

fn keep(i: i32, w: f32) {
  var first = false;
  if (COUNT) {
    first = atomicExchange(&next[i], 0x3f800000u) == 0u;
  } else {
    var old = atomicLoad(&next[i]);
    loop {
      let sum = bitcast<u32>(bitcast<f32>(old) + w);
      let r = atomicCompareExchangeWeak(&next[i], old, sum);
      if (r.exchanged) { first = old == 0u && sum != 0u; break; }
      old = r.old_value;
    }
  }
  if (first) {
    let slot = atomicAdd(&nextList.count, 1u);
    nextList.index[slot] = u32(i);
    // Enough workgroups of 64 for the list; past the per-dimension limit the loop in main strides.
    atomicMax(&nextList.groups, min(slot / 64u + 1u, 65535u));
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // max(.., 1u): a driver that reports num_workgroups as 0 under an indirect dispatch (older wgpu on DX12) must not
  // make this loop spin forever.
  for (var t = gid.x; t < keptList.count; t += max(groups.x, 1u) * 64u) {
    let o = keptList.index[t];
    visit(i32(o), kept[o]);
  }
}
`;
