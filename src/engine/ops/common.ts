// What every unravel step gets: the rules, activations by node name, and a sink for the kept input neurons.
import type { Rules, Shape } from '../types.ts';

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
 * WGSL shared by every unravel kernel (the GPU twin of StepContext.keep and of the walker's merging).
 * Per node a weight buffer holds one f32 per output neuron, 0 = not kept. A step runs one invocation per output
 * neuron of its node (`kept`) and adds into the weight buffer of the input node (`next`, f32 bit patterns):
 * merged neurons add up with a compare-exchange loop, or are set to 1 under the rule 'count'.
 * Bindings 0 (params), 1 (kept), 2 (next) are common; kernels add read-only buffers at 3, 4, 5.
 */
export const commonWgsl = /* wgsl */ `
override COUNT: bool = false;
@group(0) @binding(1) var<storage, read> kept: array<f32>;
@group(0) @binding(2) var<storage, read_write> next: array<atomic<u32>>;

fn keep(i: i32, w: f32) {
  if (COUNT) { atomicStore(&next[i], 0x3f800000u); return; }
  var old = atomicLoad(&next[i]);
  loop {
    let r = atomicCompareExchangeWeak(&next[i], old, bitcast<u32>(bitcast<f32>(old) + w));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}

// Flat output-neuron index of this invocation (dispatches wider than 65535 workgroups wrap into y).
fn neuron(gid: vec3<u32>, groups: vec3<u32>) -> i32 {
  return i32(gid.x + gid.y * groups.x * 64u);
}
`;
