// The GPU path's unravelling behind one seam: the WGSL walker (src/gpu/unravel.ts) reading the activations in
// place, or the CPU reference (unravelCpu) when the WGSL walker cannot be built for a model (its buffers exceed
// the device's limits) — then the activation values it reads are read back, which the result's readbackBytes shows.
import type * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { size } from '../src/engine/graph.ts';
import type { FixationModel } from '../src/engine/model.ts';
import type { InputFixation, KeptLayer, Rules } from '../src/engine/types.ts';
import { flushTf, tensorBuffer } from '../src/gpu/device.ts';
import { modelConstants } from '../src/gpu/activations.ts';
import { readback } from '../src/gpu/readback.ts';
import { GpuUnraveller } from '../src/gpu/unravel.ts';
import { summaryTop1 } from './frame.ts';
import { SparseActivations } from './sparse-unravel.ts';

export interface Unravelled {
  input: InputFixation[];
  layers?: KeptLayer[];
  bytes: number;
  truncated: boolean;
  /** The class unravelled ('top' resolved). */
  classIndex: number;
  /** The frame summary's values, when a summary tensor was given to run(). */
  summary?: Float32Array;
}

/** Work submitted to the GPU whose result is still on its way back (its readback is mapped asynchronously). */
export interface Pending<T> { result: Promise<T> }

export interface UnravelSeam {
  readonly kind: 'gpu' | 'cpu';
  /**
   * Start the unravelling of one class ('top': the argmax of the logits) on this frame's captured activations
   * (the 'unravel' stage). `summary` (the frame's top-5 tensor) comes back with the result of read().
   */
  run(tensors: Map<string, tf.Tensor>, classIndex: number | 'top', rules: Rules, summary?: tf.Tensor): Promise<void>;
  /**
   * The result of the last run (the 'readback' stage); per-layer kept sets only when asked: all, or named ones.
   * Resolves once the readback is submitted, so that the next frame may be encoded; `result` settles with the map.
   */
  read(layers: 'all' | string[] | null): Promise<Pending<Unravelled>>;
  destroy(): void;
}

export class GpuUnravelSeam implements UnravelSeam {
  readonly kind = 'gpu';
  private summary: tf.Tensor | undefined;
  private constructor(private backend: WebGPUBackend, private unraveller: GpuUnraveller) {}

  static create(backend: WebGPUBackend, fm: FixationModel): GpuUnravelSeam {
    return new GpuUnravelSeam(backend, GpuUnraveller.create(backend.device, fm.graph, modelConstants(backend, fm)));
  }

  /** The last run's compact fixation list, on the GPU (the overlay's post reads it in place: src/gpu/post.ts). */
  get fixationList(): GPUBuffer { return this.unraveller.fixationList; }

  /** Compile the WGSL kernels for `rules` now (model load), not at the first frame's encode. */
  compile(rules: Rules): Promise<void> { return this.unraveller.compile(rules); }

  async run(tensors: Map<string, tf.Tensor>, classIndex: number | 'top', rules: Rules, summary?: tf.Tensor) {
    const device = this.backend.device;
    const encoder = device.createCommandEncoder({ label: 'unravel' });
    this.unraveller.encode(encoder, (name) => {
      const t = tensors.get(name);
      if (!t) throw new Error(`activation '${name}' was not captured by the forward pass`);
      return tensorBuffer(this.backend, t);
    }, classIndex, rules);
    // tfjs may still hold the forward pass (or an upload of a CPU-resident tensor) in its own encoder.
    flushTf(this.backend);
    device.queue.submit([encoder.finish()]);
    this.summary = summary;
  }

  async read(layers: 'all' | string[] | null): Promise<Pending<Unravelled>> {
    const s = this.summary;
    this.summary = undefined;
    const extra = s ? [{ buffer: tensorBuffer(this.backend, s), bytes: s.size * 4 }] : [];
    const pending = await this.unraveller.beginReadInputFixations(extra);
    const result = pending.result.then((list): Unravelled => ({
      input: list.fixations, bytes: list.bytes, truncated: list.truncated, classIndex: list.classIndex,
      ...(s ? { summary: new Float32Array(list.extras[0]) } : {}),
    }));
    if (!layers) return { result };
    // The kept sets are read now, before another encode() overwrites them.
    const out = await result;
    out.layers = await this.unraveller.readLayers(layers === 'all' ? undefined : layers);
    // Dense weights, 4 bytes per neuron (an upper bound: one-to-one ops share their input's buffer).
    out.bytes += out.layers.reduce((n, l) => n + size(l.shape) * 4, 0);
    return { result: Promise.resolve(out) };
  }

  destroy() { this.unraveller.destroy(); }
}

export class CpuUnravelSeam implements UnravelSeam {
  readonly kind = 'cpu';
  private last: Unravelled | null = null;
  private acts: SparseActivations;
  constructor(fm: FixationModel) {
    this.acts = new SparseActivations(fm.graph);
  }

  async run(tensors: Map<string, tf.Tensor>, classIndex: number | 'top', rules: Rules, summary?: tf.Tensor) {
    const s = summary ? (await readback(summary.data(), 'the frame summary')) as Float32Array : undefined;
    const c = classIndex !== 'top' ? classIndex : s ? summaryTop1(s) : null;
    if (c === null) throw new Error('unravelling: class \'top\' needs the frame summary');
    const r = await this.acts.unravel(tensors, c, rules);
    this.last = {
      input: r.inputFixations, layers: r.layers, bytes: this.acts.bytes + (s?.byteLength ?? 0), truncated: false, classIndex: c,
      ...(s ? { summary: s } : {}),
    };
  }

  async read(layers: 'all' | string[] | null): Promise<Pending<Unravelled>> {
    if (!this.last) throw new Error('unravelling: read() before run()');
    const r = this.last;
    const out = !layers ? { ...r, layers: undefined } : layers === 'all' ? r : { ...r, layers: r.layers!.filter((l) => layers.includes(l.name)) };
    return { result: Promise.resolve(out) };
  }

  destroy() { this.last = null; this.acts.dispose(); }
}
