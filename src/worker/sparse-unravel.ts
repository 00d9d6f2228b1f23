// The CPU reference unravelling on activations that stay on the inference backend (WebGL, wasm, or WebGPU when the
// WGSL walker cannot be built): instead of reading every captured activation back (megabytes a frame; the
// bench reports the bytes actually read), the walk stops before each step and reads only the activation values that step can use,
// with gathers on the backend, one backend read per step at most (usually; see fetch()):
// * the windows of the kept neurons (readsOf), and the addends of a residual add below at the same indices;
// * a 1x1 conv (most of MobileNet's reads: every kept position's Cin channels) reads only its few candidate channels
//   per kept neuron, chosen on the backend with a wide margin and settled on the CPU (pointwise()), and with them the
//   windows of the depthwise conv below, whose step then reads nothing.
// The step then runs unchanged (unravelCpu's own rules) on full-size arrays holding those exact values, NaN elsewhere
// (which no rule picks or keeps), so the result is the CPU reference's, bit for bit.
import * as tf from '@tensorflow/tfjs-core';
import { size } from '../engine/graph.ts';
import type { Kept } from '../engine/ops/common.ts';
import type { ConvNode } from '../engine/ops/conv.ts';
import { opOf } from '../engine/ops/registry.ts';
import type { Graph, GraphNode, Rules } from '../engine/types.ts';
import { readback } from '../gpu/readback.ts';
import { unravelWalk, type UnravelResult } from '../engine/unravel.ts';
import { picksWebgl, WEBGL_PICKS, webglPicks } from './sparse-picks-webgl.ts';

/**
 * Flat indices of each input activation that the step of `node` reads for these kept neurons (a superset is fine,
 * a missing index is not: the array would hold NaN there). 'all' where the step reads the whole input.
 */
export function readsOf(graph: Graph, node: GraphNode, kept: Kept): [string, Iterable<number> | 'all'][] {
  // The op's own list of the activations its rule reads (none for ops that only route indices).
  const names = opOf(node).reads(node);
  if (names.length === 0 || kept.size === 0) return [];
  const shapeOf = (n: string) => graph.byName.get(n)!.shape;
  switch (node.kind) {
    case 'conv': {
      const [H, W, Cin] = shapeOf(node.inputs[0]);
      const [, Wo, Cout] = node.shape;
      const mult = node.depthwise ? Cout / Cin : 1;
      const out: number[] = [];
      for (const idx of kept.keys()) {
        const c = idx % Cout,
          x = Math.floor(idx / Cout) % Wo,
          y = Math.floor(idx / Cout / Wo);
        const y0 = y * node.strides[0] - node.pad[0],
          x0 = x * node.strides[1] - node.pad[1];
        const [k0, k1] = node.depthwise ? [Math.floor(c / mult), Math.floor(c / mult) + 1] : [0, Cin];
        for (let u = 0; u < node.kernel[0]; u++) {
          const iy = y0 + u * node.dilations[0];
          if (iy < 0 || iy >= H) continue;
          for (let v = 0; v < node.kernel[1]; v++) {
            const ix = x0 + v * node.dilations[1];
            if (ix < 0 || ix >= W) continue;
            for (let k = k0; k < k1; k++) out.push((iy * W + ix) * Cin + k);
          }
        }
      }
      return [[node.inputs[0], out]];
    }
    case 'pool':
    case 'gap': {
      const [H, W, C] = shapeOf(node.inputs[0]);
      const global = node.kind === 'gap';
      const [KH, KW] = global ? [H, W] : node.kernel;
      const [sy, sx] = global ? [1, 1] : node.strides;
      const [pt, pl] = global ? [0, 0] : node.pad;
      const Wo = global ? 1 : node.shape[1];
      const out: number[] = [];
      for (const idx of kept.keys()) {
        const c = idx % C,
          p = Math.floor(idx / C);
        const y0 = Math.floor(p / Wo) * sy - pt,
          x0 = (p % Wo) * sx - pl;
        for (let y = Math.max(y0, 0); y < Math.min(y0 + KH, H); y++) {
          for (let x = Math.max(x0, 0); x < Math.min(x0 + KW, W); x++) out.push((y * W + x) * C + c);
        }
      }
      return [[node.inputs[0], out]];
    }
    case 'add':
      return node.inputs.map((i) => [i, kept.keys()]);
    default:
      // matmul (every input is compared) and any op this switch does not know: whole activations.
      return names.map((n) => [n, 'all']);
  }
}

/** Picks per kept neuron of a 1x1 conv (see pointwise()): 1-4 channels settle 99.9% of them on the catalog models. */
const PICKS = WEBGL_PICKS;
/**
 * Slack of the picks' threshold, relative: far above the rounding of a product on any float backend (f32: 1e-7,
 * half-float WebGL textures: 1e-3), so that the backend's products, not exact, can only add picks, never miss one.
 */
const MARGIN = 0.02;
/** Absolute slack: products in the denormal range, which a GPU may flush to zero. */
const TINY = 1e-30;
/** Subtracted from a picked product so that the next argmax skips it (finite in f32; inf where textures are f16). */
const MASKED = 1e38;
/**
 * Most bytes a 1x1 conv's read spends on the windows of the depthwise conv below, read ahead for every pick (about
 * 1.1 of the 4 are kept): past it (many kept neurons) the depthwise step reads its own windows.
 */
const WINDOWS_AHEAD_MAX = 16 << 10;
/** Below this many input channels a 1x1 conv reads its kept positions whole (cheaper than 2·PICKS+2 per neuron). */
const POINTWISE_MIN_CIN = 32;
const f32 = Math.fround;

/** The node that computes `name`'s values, through one-to-one nodes (the same flat indices). */
function below(graph: Graph, name: string): GraphNode {
  let n = graph.byName.get(name)!;
  while (n.kind === 'identity') n = graph.byName.get(n.inputs[0])!;
  return n;
}

/** A 1x1 conv (not depthwise) wide enough to read through pointwise() picks. */
function isPointwise(graph: Graph, node: GraphNode): node is ConvNode {
  return (
    node.kind === 'conv' &&
    !node.depthwise &&
    node.kernel[0] === 1 &&
    node.kernel[1] === 1 &&
    graph.byName.get(node.inputs[0])!.shape[2] >= POINTWISE_MIN_CIN
  );
}

/**
 * Gathers are padded to a few sizes (with index 0, or rows of neuron 0): the backend compiles a program per shape
 * (WebGL), so a few sizes keep them cached instead of compiling new ones every frame. Eight sizes per octave (8..15
 * times a power of two): at most 12.5% padding (powers of two padded 30% on average).
 */
function bucket(n: number) {
  if (n <= 16) return n <= 8 ? 8 : 16;
  const step = 2 ** (Math.floor(Math.log2(n)) - 3);
  return Math.ceil(n / step) * step;
}

/** Reads activation values on demand into full-size arrays kept from frame to frame (cleared to NaN after use). */
export class SparseActivations {
  private arrays = new Map<string, { values: Float32Array; have: Uint8Array; wrote: number[] | null }>();
  /** Per 1x1 conv: its weights as [Cout, Cin] rows times the BN sign, on the backend (picks' products, see pointwise). */
  private rows = new Map<string, tf.Tensor2D>();
  private along = new Map<string, string[]>();
  /** Bytes and backend reads of the last unravel(); kept neurons of 1x1 convs whose picks did not settle them. */
  bytes = 0;
  reads = 0;
  unsettled = 0;
  readMs = 0;

  constructor(private graph: Graph) {}

  /** unravelCpu on the activations of `tensors` (this frame's forward pass), reading only what its steps read. */
  async unravel(tensors: Map<string, tf.Tensor>, classIndex: number, rules: Rules): Promise<UnravelResult> {
    this.bytes = 0;
    this.reads = 0;
    this.unsettled = 0;
    this.readMs = 0;
    const walk = unravelWalk(this.graph, (n) => this.entry(n).values, classIndex, rules);
    try {
      for (;;) {
        const r = walk.next();
        if (r.done) return r.value;
        const { node, kept } = r.value;
        if (kept.size === 0) continue;
        // A 1x1 conv reads its picks, then only the rows they did not settle; any other step what readsOf() lists.
        const rest = isPointwise(this.graph, node) ? await this.pointwise(tensors, node, kept, rules) : null;
        await this.fetch(tensors, rest ?? readsOf(this.graph, node, kept));
      }
    } finally {
      this.clear();
    }
  }

  /** The 1x1 weight rows of `node` on the backend (made on first use, kept until dispose()). */
  private rowsOf(node: ConvNode) {
    let t = this.rows.get(node.name);
    if (!t) {
      const Cin = node.weights.length / node.shape[2],
        Cout = node.shape[2];
      const w = new Float32Array(Cout * Cin);
      for (let k = 0; k < Cin; k++)
        for (let c = 0; c < Cout; c++) w[c * Cin + k] = node.weights[k * Cout + c] * (node.scale ? node.scale[c] : 1);
      this.rows.set(node.name, (t = tf.keep(tf.tensor2d(w, [Cout, Cin]))));
    }
    return t;
  }

  /**
   * A 1x1 conv keeps, per kept neuron, the input channels whose single product a·w·sign is the largest or close to
   * it (channelRatio): of its Cin values only a few can matter. The backend computes the products of every kept
   * neuron, picks the PICKS largest (argmax, masked, again) and returns, in one read, their channels, their exact
   * activation values, the largest product and the largest product left after the picks. Where that one is below the
   * threshold (the ratio's cut with a MARGIN far above any float backend's rounding), every channel the rule can keep
   * or choose is among the picks: the other channels stay NaN, which the rule never picks (NaN compares false) — the
   * result is the same, bit for bit, as with every value, because the rule runs on the CPU on the exact values. A row
   * whose picks do not settle it (more close channels, or a backend product far from the exact one) is read whole:
   * returned for fetch().
   */
  private async pointwise(
    tensors: Map<string, tf.Tensor>,
    node: ConvNode,
    kept: Kept,
    rules: Rules,
  ): Promise<[string, number[]][] | null> {
    const name = node.inputs[0];
    const a = this.entry(name);
    if (a.wrote === null) return null; // read whole this frame
    const t = this.tensor(tensors, name);
    const [H, W, Cin] = this.graph.byName.get(name)!.shape;
    const [, Wo, Cout] = node.shape;
    const K = kept.size,
      Kp = bucket(K),
      P = PICKS;
    const pos = new Int32Array(Kp),
      cs = new Int32Array(Kp);
    let i = 0;
    for (const idx of kept.keys()) {
      const c = idx % Cout,
        x = Math.floor(idx / Cout) % Wo,
        y = Math.floor(idx / Cout / Wo);
      const iy = y * node.strides[0] - node.pad[0],
        ix = x * node.strides[1] - node.pad[1];
      if (iy < 0 || iy >= H || ix < 0 || ix >= W) return readsOf(this.graph, node, kept) as [string, number[]][]; // a padded window: the plain way
      pos[i] = iy * W + ix;
      cs[i] = c;
      i++;
    }
    // Many kept neurons on few positions: their whole positions are fewer values than the picks.
    if (Kp * (2 * P + 2) >= new Set(pos.subarray(0, K)).size * Cin)
      return readsOf(this.graph, node, kept) as [string, number[]][];
    // Read ahead, at the picks: the addends below (alongside()), and the windows of a depthwise conv below, whose
    // steps come next and then read nothing. Rows' picks the rule does not keep make these a superset.
    const along = this.alongside(name).filter((m) => this.entry(m).wrote !== null);
    const windows = this.windowsBelow(name, pos.subarray(0, K), Kp);
    const dw = windows && Kp * windows.taps * P * 4 <= WINDOWS_AHEAD_MAX ? windows : null;
    const stride = 2 * P + 2 + along.length * P + (dw ? dw.taps * P : 0);
    const t0 = performance.now();
    const out = webglPicks()
      ? tf.tidy(() =>
          picksWebgl(
            tf.reshape(t, [H * W, Cin]),
            this.rowsOf(node),
            pos,
            cs,
            along.map((m) => tf.reshape(this.tensor(tensors, m), [H * W, Cin])),
            dw
              ? { input: tf.reshape(this.tensor(tensors, dw.input), [-1]), base: dw.base, taps: dw.taps, mult: dw.mult }
              : null,
          ),
        )
      : tf.tidy(() => {
          const acts = tf.reshape(t, [H * W, Cin]);
          let s: tf.Tensor = tf.mul(tf.gather(acts, pos), tf.gather(this.rowsOf(node), cs)); // [Kp, Cin]
          const best = tf.max(s, 1, true);
          const picks: tf.Tensor[] = [];
          for (let j = 0; j < P; j++) {
            const p = tf.argMax(s, 1);
            picks.push(p);
            // Out of the next argmax (and of the max left). (oneHot's own on-value as float32 comes out 0 on tfjs-wasm.)
            s = tf.sub(s, tf.mul(tf.cast(tf.oneHot(p, Cin), 'float32'), MASKED));
          }
          const idx = tf.stack(picks, 1); // [Kp, P]
          const at = tf.add(
            tf.tensor2d(
              Int32Array.from(pos, (q) => q * Cin),
              [Kp, 1],
              'int32',
            ),
            idx,
          );
          // Exact values: a gather copies.
          const parts = [tf.cast(idx, 'float32'), tf.gather(tf.reshape(t, [-1]), at), best, tf.max(s, 1, true)];
          for (const m of along) parts.push(tf.gather(tf.reshape(this.tensor(tensors, m), [-1]), at));
          if (dw) {
            const ch = dw.mult > 1 ? tf.floorDiv(idx, tf.scalar(dw.mult, 'int32')) : idx;
            const flat = tf.add(tf.tensor3d(dw.base, [Kp, dw.taps, 1], 'int32'), tf.expandDims(ch, 1)); // [Kp, taps, P]
            parts.push(
              tf.reshape(tf.gather(tf.reshape(this.tensor(tensors, dw.input), [-1]), flat), [Kp, dw.taps * P]),
            );
          }
          return tf.concat(parts, 1);
        });
    let v: Float32Array;
    try {
      // Never a synchronous read: on WebGPU that drains the queue through a canvas copy (issue 20).
      v = (await readback(out.data(), `the picks of '${node.name}'`)) as Float32Array;
    } finally {
      out.dispose();
    }
    this.reads++;
    this.bytes += Kp * stride * 4;
    this.readMs += performance.now() - t0;
    const ratio = Math.min(rules.channelRatio ?? 0, 1) || 1;
    const whole: number[] = [];
    const put = (e: ReturnType<SparseActivations['entry']>, q: number, value: number) => {
      if (e.wrote && !e.have[q]) {
        e.have[q] = 1;
        e.values[q] = value;
        e.wrote.push(q);
      }
    };
    const alongs = along.map((m) => this.entry(m)),
      win = dw ? this.entry(dw.input) : null;
    for (let r = 0; r < K; r++) {
      const o = r * stride,
        top = v[o + 2 * P],
        next = v[o + 2 * P + 1];
      const at = pos[r] * Cin;
      for (let j = 0; j < P; j++) {
        const k = v[o + j];
        put(a, at + k, v[o + P + j]);
        alongs.forEach((e, m) => put(e, at + k, v[o + 2 * P + 2 + m * P + j]));
        if (dw) {
          for (let u = 0; u < dw.taps; u++) {
            if (dw.valid[r * dw.taps + u])
              put(win!, dw.base[r * dw.taps + u] + Math.floor(k / dw.mult), v[o + stride - dw.taps * P + u * P + j]);
          }
        }
      }
      // Every channel the rule may keep has a product >= ratio · max (or, with max <= 0, is the max).
      const cut = top > 0 ? ratio * top * (1 - MARGIN) - TINY : top * (1 + MARGIN) - TINY;
      const c = cs[r],
        sign = node.scale ? node.scale[c] : 1;
      let exact = -Infinity;
      for (let j = 0; j < P; j++)
        exact = Math.max(exact, f32(f32(v[o + P + j] * node.weights[v[o + j] * Cout + c]) * sign));
      const settled = next < cut && Math.abs(exact - top) <= (MARGIN / 4) * Math.abs(exact) + TINY;
      if (!settled) {
        this.unsettled++;
        for (let k = 0; k < Cin; k++) whole.push(at + k);
      }
    }
    return whole.length ? [[name, whole]] : [];
  }

  /**
   * Activations read at the same flat indices as `name`, ahead of their step: the addends of a residual add below it
   * (through one-to-one nodes), and theirs in turn. The add's step then finds its values read.
   */
  private alongside(name: string): string[] {
    let out = this.along.get(name);
    if (!out) {
      const n = below(this.graph, name);
      out = n.kind === 'add' ? n.inputs.flatMap((i) => [i, ...this.alongside(i)]) : [];
      this.along.set(name, out);
    }
    return out;
  }

  /**
   * Where `name` is a depthwise conv's output (through one-to-one nodes): per row (input position `pos`) and tap, the
   * flat index of the tap's channel 0 in the conv's input (`valid` 0 where the tap falls in the padding), to read its
   * windows at the picked channels ahead of its step.
   */
  private windowsBelow(name: string, pos: Int32Array, Kp: number) {
    const n = below(this.graph, name);
    if (n.kind !== 'conv' || !n.depthwise || size(n.shape) !== size(this.graph.byName.get(name)!.shape)) return null;
    if (this.entry(n.inputs[0]).wrote === null) return null;
    const [H, W, C] = this.graph.byName.get(n.inputs[0])!.shape;
    const [, Wo, Cout] = n.shape;
    const [KH, KW] = n.kernel,
      taps = KH * KW;
    const base = new Int32Array(Kp * taps),
      valid = new Uint8Array(Kp * taps);
    for (let r = 0; r < pos.length; r++) {
      const y0 = Math.floor(pos[r] / Wo) * n.strides[0] - n.pad[0],
        x0 = (pos[r] % Wo) * n.strides[1] - n.pad[1];
      let first = -1;
      for (let u = 0; u < KH; u++) {
        for (let v = 0; v < KW; v++) {
          const iy = y0 + u * n.dilations[0],
            ix = x0 + v * n.dilations[1],
            j = r * taps + u * KW + v;
          if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
          base[j] = (iy * W + ix) * C;
          valid[j] = 1;
          if (first < 0) first = base[j];
        }
      }
      // Taps in the padding gather a valid index (never written back).
      for (let j = r * taps; j < (r + 1) * taps; j++) if (!valid[j]) base[j] = Math.max(first, 0);
    }
    return { input: n.inputs[0], taps, mult: Cout / C, base, valid };
  }

  /**
   * Reads the listed values not read yet this frame: one gather per activation, all of a step's in one backend read
   * (an activation wanted past half, or 'all', is read whole instead).
   */
  private async fetch(tensors: Map<string, tf.Tensor>, asked: [string, Iterable<number> | 'all'][]) {
    // With what is read ahead at the same indices (alongside()).
    const wants: [string, number[] | 'all'][] = [];
    for (const [name, want] of asked) {
      const list: number[] | 'all' = want === 'all' ? 'all' : Array.from(want);
      wants.push([name, list]);
      if (list !== 'all') for (const m of this.alongside(name)) wants.push([m, list]);
    }
    const gathers: { name: string; missing: number[]; padded: Int32Array }[] = [];
    const t0 = performance.now();
    for (const [name, want] of wants) {
      const t = this.tensor(tensors, name);
      const a = this.entry(name);
      if (a.wrote === null) continue; // read whole this frame
      const n = a.values.length;
      const missing: number[] = [];
      if (want !== 'all')
        for (const i of want)
          if (!a.have[i]) {
            a.have[i] = 1;
            missing.push(i);
          }
      // Past half the tensor a plain read is cheaper than a gather.
      if (want === 'all' || missing.length * 2 > n) {
        a.values.set((await readback(t.data(), `activation '${name}'`)) as Float32Array);
        a.wrote = null;
        this.bytes += n * 4;
        this.reads++;
      } else if (missing.length) {
        const padded = new Int32Array(bucket(missing.length));
        padded.set(missing);
        gathers.push({ name, missing, padded });
      }
    }
    if (gathers.length) {
      const g = tf.tidy(() => {
        const parts = gathers.map(({ name, padded }) =>
          tf.gather(tf.reshape(tensors.get(name)!, [-1]), tf.tensor1d(padded, 'int32')),
        );
        return parts.length === 1 ? parts[0] : tf.concat(parts);
      });
      let v: Float32Array;
      try {
        // Asynchronous: a synchronous read on WebGPU drains the queue through a canvas copy (issue 20).
        v = (await readback(g.data(), 'the activations a step reads')) as Float32Array;
      } finally {
        g.dispose();
      }
      let o = 0;
      for (const { name, missing, padded } of gathers) {
        const a = this.entry(name);
        // (Read whole meanwhile, when listed twice: its values are all there.)
        if (a.wrote)
          for (let j = 0; j < missing.length; j++) {
            a.values[missing[j]] = v[o + j];
            a.wrote.push(missing[j]);
          }
        o += padded.length;
      }
      this.bytes += o * 4;
      this.reads++;
    }
    this.readMs += performance.now() - t0;
  }

  private tensor(tensors: Map<string, tf.Tensor>, name: string) {
    const t = tensors.get(name);
    if (!t) throw new Error(`fallback unravelling: activation '${name}' was not captured by the forward pass`);
    return t;
  }

  /** The full-size array of an activation (a step with nothing kept still asks for it, and reads none of it). */
  private entry(name: string) {
    let a = this.arrays.get(name);
    if (!a) {
      const node = this.graph.byName.get(name);
      if (!node) throw new Error(`fallback unravelling: no node '${name}' in the graph`);
      const n = size(node.shape);
      this.arrays.set(name, (a = { values: new Float32Array(n).fill(NaN), have: new Uint8Array(n), wrote: [] }));
    }
    return a;
  }

  /** Frees the weight rows kept on the backend. */
  dispose() {
    for (const t of this.rows.values()) t.dispose();
    this.rows.clear();
  }

  /** Back to NaN everywhere, so that a value a step reads without asking for it shows as NaN, never as stale. */
  private clear() {
    for (const a of this.arrays.values()) {
      if (a.wrote === null) {
        a.values.fill(NaN);
        a.have.fill(0);
      } else
        for (const i of a.wrote) {
          a.values[i] = NaN;
          a.have[i] = 0;
        }
      a.wrote = [];
    }
  }
}
