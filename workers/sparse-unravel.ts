// The CPU reference unravelling on activations that stay on the inference backend (WebGL, wasm, or WebGPU when the
// WGSL walker cannot be built): instead of reading every captured activation back (12.3 MB a frame on SqueezeNet),
// the walk stops before each step and reads only the activation values that step reads — the windows of its kept
// neurons — with one gather on the backend. The step then runs unchanged (unravelCpu's own rules) on full-size
// arrays holding those values, so the result is the CPU reference's, exactly.
import * as tf from '@tensorflow/tfjs-core';
import { size } from '../src/engine/graph.ts';
import type { Kept } from '../src/engine/ops/common.ts';
import { opOf } from '../src/engine/ops/registry.ts';
import type { Graph, GraphNode, Rules } from '../src/engine/types.ts';
import { readback } from '../src/gpu/readback.ts';
import { unravelWalk, type UnravelResult } from '../src/engine/unravel.ts';

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
        const c = idx % Cout, x = Math.floor(idx / Cout) % Wo, y = Math.floor(idx / Cout / Wo);
        const y0 = y * node.strides[0] - node.pad[0], x0 = x * node.strides[1] - node.pad[1];
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
    case 'pool': case 'gap': {
      const [H, W, C] = shapeOf(node.inputs[0]);
      const global = node.kind === 'gap';
      const [KH, KW] = global ? [H, W] : node.kernel;
      const [sy, sx] = global ? [1, 1] : node.strides;
      const [pt, pl] = global ? [0, 0] : node.pad;
      const Wo = global ? 1 : node.shape[1];
      const out: number[] = [];
      for (const idx of kept.keys()) {
        const c = idx % C, p = Math.floor(idx / C);
        const y0 = Math.floor(p / Wo) * sy - pt, x0 = (p % Wo) * sx - pl;
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

/** Reads activation values on demand into full-size arrays kept from frame to frame (cleared to NaN after use). */
export class SparseActivations {
  private arrays = new Map<string, { values: Float32Array; have: Uint8Array; wrote: number[] | null }>();
  bytes = 0;
  readMs = 0;

  constructor(private graph: Graph) {}

  /** unravelCpu on the activations of `tensors` (this frame's forward pass), reading only what its steps read. */
  async unravel(tensors: Map<string, tf.Tensor>, classIndex: number, rules: Rules): Promise<UnravelResult> {
    this.bytes = 0;
    this.readMs = 0;
    const walk = unravelWalk(this.graph, (n) => this.entry(n).values, classIndex, rules);
    try {
      for (;;) {
        const r = walk.next();
        if (r.done) return r.value;
        for (const [name, want] of readsOf(this.graph, r.value.node, r.value.kept)) await this.fetch(tensors, name, want);
      }
    } finally {
      this.clear();
    }
  }

  private async fetch(tensors: Map<string, tf.Tensor>, name: string, want: Iterable<number> | 'all') {
    const t = tensors.get(name);
    if (!t) throw new Error(`fallback unravelling: activation '${name}' was not captured by the forward pass`);
    const a = this.entry(name);
    const n = a.values.length;
    if (a.wrote === null) return; // read whole this frame
    const missing: number[] = [];
    if (want !== 'all') for (const i of want) if (!a.have[i]) { a.have[i] = 1; missing.push(i); }
    const t0 = performance.now();
    // Past half the tensor a plain read is cheaper than a gather.
    if (want === 'all' || missing.length * 2 > n) {
      a.values.set((await readback(t.data(), `activation '${name}'`)) as Float32Array);
      a.wrote = null;
      this.bytes += n * 4;
    } else if (missing.length) {
      // Index counts rounded up to a power of two (padded with index 0): the backend compiles a gather program per
      // shape (WebGL), so a few sizes keep them cached instead of compiling new ones every frame.
      const padded = new Int32Array(Math.max(64, 2 ** Math.ceil(Math.log2(missing.length))));
      padded.set(missing);
      const g = tf.tidy(() => tf.gather(tf.reshape(t, [-1]), tf.tensor1d(padded, 'int32')));
      try {
        // Synchronous: one small read per step, and an async read on WebGL polls a fence (latency per read).
        const v = g.dataSync() as Float32Array;
        for (let j = 0; j < missing.length; j++) { a.values[missing[j]] = v[j]; a.wrote.push(missing[j]); }
      } finally {
        g.dispose();
      }
      this.bytes += padded.length * 4;
    }
    this.readMs += performance.now() - t0;
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

  /** Back to NaN everywhere, so that a value a step reads without asking for it shows as NaN, never as stale. */
  private clear() {
    for (const a of this.arrays.values()) {
      if (a.wrote === null) { a.values.fill(NaN); a.have.fill(0); }
      else for (const i of a.wrote) { a.values[i] = NaN; a.have[i] = 0; }
      a.wrote = [];
    }
  }
}
