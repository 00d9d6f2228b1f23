// The GPU path's WGSL unravelling (src/gpu/unravel.ts) reading the activations where tfjs keeps them.
import type * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { size } from '../engine/graph.ts';
import type { FixationModel } from '../engine/model.ts';
import type { Rules } from '../engine/types.ts';
import { flushTf, tensorBuffer } from '../gpu/device.ts';
import { modelConstants } from '../gpu/activations.ts';
import { GpuUnraveller } from '../gpu/unravel.ts';
import type { Pending, Unravelled, Unraveller } from './unraveller.ts';

export class GpuPathUnraveller implements Unraveller {
  readonly kind = 'gpu';
  private summary: tf.Tensor | undefined;
  private constructor(
    private backend: WebGPUBackend,
    private unraveller: GpuUnraveller,
  ) {}

  static create(backend: WebGPUBackend, fm: FixationModel): GpuPathUnraveller {
    return new GpuPathUnraveller(backend, GpuUnraveller.create(backend.device, fm.graph, modelConstants(backend, fm)));
  }

  /** The last run's compact fixation list, on the GPU (the overlay's post reads it in place: src/gpu/post.ts). */
  get fixationList(): GPUBuffer {
    return this.unraveller.fixationList;
  }

  /** Compile the WGSL kernels for `rules` now (model load), not at the first frame's encode. */
  compile(rules: Rules): Promise<void> {
    return this.unraveller.compile(rules);
  }

  async run(tensors: Map<string, tf.Tensor>, classIndex: number | 'top', rules: Rules, summary?: tf.Tensor) {
    this.submit(this.forward(tensors, classIndex), classIndex, rules, summary);
  }

  /**
   * The forward pass's part of a frame: the activations' GPUBuffers (tfjs may upload a CPU-resident tensor) and
   * tfjs's pending commands submitted, so that the unravelling's submission comes after them in queue order.
   */
  forward(tensors: Map<string, tf.Tensor>, classIndex: number | 'top'): Map<string, GPUBuffer> {
    const names = [...this.unraveller.activationNames, ...(classIndex === 'top' ? [this.unraveller.graph.logits] : [])];
    const buffers = new Map<string, GPUBuffer>();
    for (const name of names) {
      const t = tensors.get(name);
      if (!t) throw new Error(`activation '${name}' was not captured by the forward pass`);
      buffers.set(name, tensorBuffer(this.backend, t));
    }
    flushTf(this.backend);
    return buffers;
  }

  /** The unravelling's part: encode and submit its walk on the forward pass's buffers. */
  submit(buffers: Map<string, GPUBuffer>, classIndex: number | 'top', rules: Rules, summary?: tf.Tensor) {
    const device = this.backend.device;
    const encoder = device.createCommandEncoder({ label: 'unravel' });
    this.unraveller.encode(encoder, (name) => buffers.get(name)!, classIndex, rules);
    device.queue.submit([encoder.finish()]);
    this.summary = summary;
  }

  async read(layers: 'all' | string[] | null): Promise<Pending<Unravelled>> {
    const s = this.summary;
    this.summary = undefined;
    const extra = s ? [{ buffer: tensorBuffer(this.backend, s), bytes: s.size * 4 }] : [];
    const pending = await this.unraveller.beginReadInputFixations(extra);
    const result = pending.result.then((list): Unravelled => ({
      input: list.fixations,
      bytes: list.bytes,
      truncated: list.truncated,
      classIndex: list.classIndex,
      ...(s ? { summary: new Float32Array(list.extras[0]) } : {}),
    }));
    if (!layers) return { result };
    // The kept sets are read now, before another encode() overwrites them.
    const out = await result;
    out.layers = await this.unraveller.readLayers(layers === 'all' ? undefined : layers);
    // Dense weights, 8 bytes per neuron (an upper bound: one-to-one ops share their input's buffer).
    out.bytes += out.layers.reduce((n, l) => n + size(l.shape) * 8, 0);
    return { result: Promise.resolve(out) };
  }

  destroy() {
    this.unraveller.destroy();
  }
}
