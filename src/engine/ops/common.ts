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
  /** Appended to commonWgsl: the uniform struct at binding 0 (uniformStruct), bindings 5.. (fixed buffers), groups 1.. (activations), and fn visit(o, w). */
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
  /** Activations bound per frame, each as a bind group of its own: acts[j] is @group(1 + j) @binding(0). */
  acts: string[];
  /**
   * Read-only buffers bound in group 0 from binding 5 on, uploaded once per model (weights, scales). `constant`: the graph
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
 * weight 1 each under 'count' (the walker sets it). No positive candidate keeps the single best one. Candidates
 * are compared as given: the callers pass ftz()'d values.
 */
export function fanOut(
  ctx: StepContext,
  target: string,
  w: number,
  idx: ArrayLike<number>,
  contrib: ArrayLike<number>,
) {
  let total = 0;
  let best = 0;
  let positive = false; // by the sign of a candidate, not by the sum being 0
  for (let i = 0; i < contrib.length; i++) {
    if (contrib[i] > 0) {
      total += contrib[i];
      positive = true;
    }
    if (contrib[i] > contrib[best]) best = i;
  }
  if (!positive) return ctx.keep(target, idx[best], w);
  for (let i = 0; i < contrib.length; i++) if (contrib[i] > 0) ctx.keep(target, idx[i], (w * contrib[i]) / total);
}

/**
 * Merged weights are sums in fixed point, so that they do not depend on the order in which the GPU's invocations
 * add them (float adds do: the low bits, and with them the cut at MAX_FIXATIONS, changed from run to run). One keep
 * of weight w adds quanta(w) = floor(f32(w) * 2^48) + 1 units of 2^-48: the +1 makes a kept neuron's weight never 0
 * (a share that underflows or flushes to zero still counts). Exact integer sums are the same in any order. The
 * flow of weight from the class neuron never grows (every rule splits a kept neuron's weight among the inputs it
 * keeps), so a neuron's sum stays <= 1 + its keeps' rounding: far inside the bound of 2^15 (GPU: 31 bits of the
 * high word; CPU: exact f64 integers up to 2^53 units = 32).
 */
export const FIXED_SCALE = 2 ** 48;
const MAX_KEEP_WEIGHT = 32767;
export function quanta(w: number): number {
  return Math.floor(Math.fround(Math.min(Math.max(w, 0), MAX_KEEP_WEIGHT)) * FIXED_SCALE) + 1;
}
/**
 * A fixed-point sum of quanta as the f32 weight the next step reads: units * 2^-48 rounded once to the nearest f32,
 * ties to even (units < 2^53 is exact in a double). fixedWeight() in the WGSL gets the same rounding in integers.
 */
export function fixedWeight(units: number): number {
  return Math.fround(units * 2 ** -48);
}

/**
 * The WGSL twin of fixedWeight(), from a neuron's two words (hi with the kept bit, lo). In integers: WGSL leaves the
 * rounding of f32(u32) above 2^24 to the implementation (either neighbour), so the 24 leading bits are taken and
 * rounded to nearest even by hand, and only exact conversions remain.
 */
export const FIXED_WEIGHT_WGSL = /* wgsl */ `
fn fixedWeight(hiWord: u32, lo: u32) -> f32 {
  let hi = hiWord & 0x7fffffffu;
  if (hi == 0u && lo < 0x1000000u) { return ldexp(f32(lo), -48); }
  let n = select(32u - countLeadingZeros(lo), 64u - countLeadingZeros(hi), hi != 0u); // significant bits, 25..63
  let s = n - 24u; // bits below the 24 kept, 1..39
  var m: u32;
  var up: bool;
  if (s < 32u) {
    m = (hi << (32u - s)) | (lo >> s);
    let rest = lo & ((1u << s) - 1u);
    let half = 1u << (s - 1u);
    up = rest > half || (rest == half && (m & 1u) == 1u);
  } else {
    let t = s - 32u; // 0..7
    m = hi >> t;
    let restHi = hi & ((1u << t) - 1u);
    if (t == 0u) {
      up = lo > 0x80000000u || (lo == 0x80000000u && (m & 1u) == 1u);
    } else {
      let half = 1u << (t - 1u);
      up = restHi > half || (restHi == half && (lo != 0u || (m & 1u) == 1u));
    }
  }
  return ldexp(f32(m + select(0u, 1u, up)), i32(s) - 48); // m + 1 <= 2^24: exact
}
`;
/** The same from the GPU's two words (hi with the kept bit, lo), as readLayers() reads them. */
export function fixedWeightOf(hi: number, lo: number): number {
  return fixedWeight((hi & 0x7fffffff) * 2 ** 32 + lo);
}

/**
 * Picks among computed sums (a conv's channel contributions, its window products) are decided with a relative
 * margin: the first candidate k within PICK_MARGIN * max(M_k, M_best) of the best wins, M being a sum's sum of
 * absolute terms (the scale of its rounding error); among a window's products, the largest magnitude in the window. Any f32 evaluation order (fused multiply-add, reassociation,
 * f64 then round) moves a sum of n terms by at most ~n * 2^-24 * M, far below the margin for n up to 2^10 terms, so
 * mathematical ties (common: quantized weights, saturated ReLU6, zero padding) go to the first candidate in every
 * twin, and the twins differ only where a candidate lies within that rounding of the margin's edge.
 */
export const PICK_MARGIN = 2 ** -12;
/**
 * Test-only: how the CPU twin's conv sums its window (the GPU's order: 'f32', step by step; others as a GPU compiler
 * may: 'f64' then round, 'reverse', 'fma' (each product unrounded)), and the margin (0: the exact-max rule).
 */
export const twinForTest: { order: 'f32' | 'f64' | 'reverse' | 'fma'; margin: number } = {
  order: 'f32',
  margin: PICK_MARGIN,
};

/**
 * Values a rule compares are flushed to zero below the smallest normal f32 in both twins, so that a GPU that
 * flushes subnormals (allowed by WGSL) decides as the CPU does.
 */
export const MIN_NORMAL = 2 ** -126;
export const ftz = (v: number) => (Math.abs(v) < MIN_NORMAL ? 0 : v);
export const FTZ_WGSL = /* wgsl */ `
fn ftz(v: f32) -> f32 { return select(v, 0.0, abs(v) < 1.17549435e-38); }
`;

/**
 * WGSL shared by every unravel kernel: the GPU twin of StepContext.keep, of the walker's merging, and of its loop
 * over a node's kept neurons. Per node a dense weight buffer (two u32 per output neuron: hi, lo of the fixed-point
 * sum above; bit 31 of hi = kept, set by the first keep whatever its weight) and a list of its kept neurons:
 * [count, workgroups x, 1, 1, indices...], the header doubling as indirect dispatch arguments. A step runs one
 * invocation per kept neuron of its node (`visit`, defined by the kernel) and keeps input neurons: merged neurons
 * add up (integer atomics, with the carry from lo to hi) or are set to 1 under 'count'; the first keep of a neuron
 * (the one that set the kept bit) appends it to the input's list, so every kept neuron is listed once.
 * Bindings: 0 params, 1-2 this node (weights, list), 3-4 the input node (weights, list), 5.. the kernel's fixed
 * buffers; its activations are groups 1, 2... (binding 0 each: a bind group per activation buffer, see bind-groups.ts).
 */
export const commonWgsl = /* wgsl */ `
override COUNT: bool = false;
struct KeptList { count: u32, groups: u32, gy: u32, gz: u32, index: array<u32> }
struct NextList { count: atomic<u32>, groups: atomic<u32>, gy: u32, gz: u32, index: array<u32> }
@group(0) @binding(1) var<storage, read> kept: array<u32>;
@group(0) @binding(2) var<storage, read> keptList: KeptList;
@group(0) @binding(3) var<storage, read_write> next: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> nextList: NextList;
${FTZ_WGSL}
const KEPT_BIT = 0x80000000u;
// CPU twins: fixedWeight(), quanta() in src/engine/ops/common.ts.
${FIXED_WEIGHT_WGSL}
fn quanta(w: f32) -> vec2<u32> {
  let x = ldexp(clamp(w, 0.0, ${MAX_KEEP_WEIGHT}.0), 48);
  let hi = u32(floor(ldexp(x, -32)));
  // Exact: below 2^32 x - 0 = x (truncated: floor), above it x is a multiple of 2^9 and so is the remainder.
  return vec2<u32>(hi, u32(x - ldexp(f32(hi), 32)) + 1u);
}

fn keep(i: i32, w: f32) {
  let h = 2u * u32(i);
  var first = false;
  if (COUNT) {
    first = atomicExchange(&next[h], KEPT_BIT | 0x10000u) == 0u; // 1.0 = 2^48 units: hi 2^16, lo 0
  } else {
    let q = quanta(w);
    first = (atomicOr(&next[h], KEPT_BIT) & KEPT_BIT) == 0u;
    let old = atomicAdd(&next[h + 1u], q.y);
    let carry = select(0u, 1u, old + q.y < old);
    if (q.x + carry != 0u) { atomicAdd(&next[h], q.x + carry); }
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
    visit(i32(o), fixedWeight(kept[2u * o], kept[2u * o + 1u]));
  }
}
`;
