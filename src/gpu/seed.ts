// The first step of the GPU unravelling: the class neuron. Given a class index it seeds that one; given TOP it
// takes the argmax of the logits on the GPU, so that the unravelling follows the forward pass in the same
// submission, with no wait for the CPU to read the scores and choose. The chosen index is also written into the
// compact fixation list's header, so it comes back with the fixations in one readback.
// seedClass() is the CPU twin (the argmax rule); tests/node/seed.test.ts runs both on the same vectors.

import type { Binding } from './kernels.ts';

/** Seed uniform value meaning "the argmax of the logits". */
export const TOP = 0xffffffff;

/**
 * Group 0: 0 uniform {index (TOP = argmax), n (logit count)} at a dynamic offset; 1 the logits node's kept
 * weights (fixed point, two u32 per neuron: see commonWgsl); 2 its kept list [count, groups, 1, 1, index...]; 3 the
 * compact fixation list's header [count, class]. Group 1: the logits activation, a bind group of its own per buffer
 * (tfjs's pool gives the logits a different buffer from frame to frame: ActivationGroups in bind-groups.ts).
 */
export const SEED_BINDINGS: Binding[][] = [['uniform-dynamic', 'write', 'write', 'write'], ['read']];
export const seedWgsl = /* wgsl */ `
struct Seed { index: u32, n: u32 }
struct List { count: u32, groups: u32, gy: u32, gz: u32, index: array<u32> }
@group(0) @binding(0) var<uniform> s: Seed;
@group(0) @binding(1) var<storage, read_write> weights: array<u32>;
@group(0) @binding(2) var<storage, read_write> list: List;
@group(0) @binding(3) var<storage, read_write> header: array<u32>;
@group(1) @binding(0) var<storage, read> logits: array<f32>;
@compute @workgroup_size(1)
fn main() {
  var c = s.index;
  if (c == ${TOP}u) {
    // The first maximum (a later equal score does not replace it), as seedClass() and topK's lower-index-first ties.
    c = 0u;
    for (var i = 1u; i < s.n; i++) {
      if (logits[i] > logits[c]) { c = i; }
    }
  }
  weights[2u * c] = 0x80010000u; // kept, weight 1 (2^48 units: hi 2^16)
  weights[2u * c + 1u] = 0u;
  list.count = 1u;
  list.groups = 1u;
  list.index[0] = c;
  header[1] = c;
}
`;

/** CPU twin of seedWgsl's choice: `index`, or for TOP the first maximum of the logits. */
export function seedClass(logits: ArrayLike<number>, index: number = TOP): number {
  if (index !== TOP) return index;
  let c = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[c]) c = i;
  return c;
}
