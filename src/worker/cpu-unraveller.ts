// The GPU path's CPU unravelling: unravelCpu on activations read back on demand (sparse-unravel.ts), used when the
// WGSL walker cannot be built for a model (its buffers exceed the device's limits) or failed its checks; the
// activation bytes it reads show in the result's readbackBytes.
import type * as tf from '@tensorflow/tfjs-core';
import type { FixationModel } from '../engine/model.ts';
import type { Rules } from '../engine/types.ts';
import { readback } from '../gpu/readback.ts';
import { summaryTop1 } from './frame.ts';
import { SparseActivations } from './sparse-unravel.ts';
import type { Pending, Unravelled, Unraveller } from './unraveller.ts';

export class CpuUnraveller implements Unraveller {
  readonly kind = 'cpu';
  private last: Unravelled | null = null;
  private acts: SparseActivations;
  constructor(fm: FixationModel) {
    this.acts = new SparseActivations(fm.graph);
  }

  async run(tensors: Map<string, tf.Tensor>, classIndex: number | 'top', rules: Rules, summary?: tf.Tensor) {
    const s = summary ? ((await readback(summary.data(), 'the frame summary')) as Float32Array) : undefined;
    const c = classIndex !== 'top' ? classIndex : s ? summaryTop1(s) : null;
    if (c === null) throw new Error("unravelling: class 'top' needs the frame summary");
    const r = await this.acts.unravel(tensors, c, rules);
    this.last = {
      input: r.inputFixations,
      layers: r.layers,
      bytes: this.acts.bytes + (s?.byteLength ?? 0),
      truncated: false,
      classIndex: c,
      ...(s ? { summary: s } : {}),
    };
  }

  async read(layers: 'all' | string[] | null): Promise<Pending<Unravelled>> {
    if (!this.last) throw new Error('unravelling: read() before run()');
    const r = this.last;
    const out = !layers
      ? { ...r, layers: undefined }
      : layers === 'all'
        ? r
        : { ...r, layers: r.layers!.filter((l) => layers.includes(l.name)) };
    return { result: Promise.resolve(out) };
  }

  destroy() {
    this.last = null;
    this.acts.dispose();
  }
}
