// The fallback path, for browsers without WebGPU: WebGL (or wasm) inference, the CPU reference unravelling
// (unravelCpu) on the activation values its steps read (read back on demand), the CPU heatmap and colormap, drawn with a 2D context into the same
// OffscreenCanvas. Same requests, same results; path 'fallback'.
import type * as tf from '@tensorflow/tfjs-core';
import { colorize } from '../engine/colormap.ts';
import type { FixationModel } from '../engine/model.ts';
import { classOverlay, DEFAULT_POST, heatmap, peak, type Size } from '../engine/post.ts';
import type { Rect } from '../gpu/overlay.ts';
import { readback } from '../gpu/readback.ts';
import { CLASS_COLORS, type Backend, type OverlayOptions } from './api.ts';
import { Laps, summaryTop1 } from './frame.ts';
import type { FramePath, HeatSource, Unravelled } from './path.ts';
import type { FramePlan } from './plan.ts';
import { SparseActivations } from './sparse-unravel.ts';

export class FallbackPath implements FramePath {
  readonly name = 'fallback' as const;
  private ctx: OffscreenCanvasRenderingContext2D | null = null;
  /** The smoothed heat of each explained class drawn last (overlay.smoothing), as the GPU path's EMA slots. */
  private ema: Float32Array[] = [];
  /** The activations the CPU unravelling reads, read back on demand (not every activation). */
  private acts: SparseActivations;
  readonly note?: string;

  constructor(
    readonly backend: Backend,
    readonly fm: FixationModel,
    readonly canvas: OffscreenCanvas | null,
  ) {
    this.acts = new SparseActivations(fm.graph);
    if (canvas) {
      this.ctx = canvas.getContext('2d');
      // Never a path without its overlay: the worker checks first and asks the page for a fresh canvas.
      if (!this.ctx)
        throw new Error('fallback path: the overlay canvas already has a WebGPU context (a fresh canvas is needed)');
    }
  }

  laps(): Laps {
    return new Laps();
  }

  async unravel(
    tensors: Map<string, tf.Tensor>,
    classIndex: number | 'top',
    plan: FramePlan,
    laps: Laps,
    summary?: tf.Tensor,
  ): Promise<Unravelled> {
    // Reading the summary is the first wait for the forward pass (WebGL has no other): that time is the forward's.
    const s = summary ? ((await readback(summary.data(), 'the frame summary')) as Float32Array) : undefined;
    if (s) laps.mark('forward');
    const c = classIndex !== 'top' ? classIndex : s ? summaryTop1(s) : null;
    if (c === null) throw new Error("unravelling: class 'top' needs the frame summary");
    const r = await this.acts.unravel(tensors, c, plan.rules);
    laps.mark('unravel');
    laps.move('unravel', 'readback', this.acts.readMs);
    return {
      input: r.inputFixations,
      layers: r.layers,
      bytes: this.acts.bytes + (s?.byteLength ?? 0),
      classIndex: c,
      ...(s ? { summary: s } : {}),
    };
  }

  sizes(frame: Size) {
    const overlay =
      this.canvas && this.canvas.width > 0 && this.canvas.height > 0
        ? { width: this.canvas.width, height: this.canvas.height }
        : frame;
    return { overlay, heat: overlay };
  }

  heatmap(srcs: HeatSource[], heat: Size, smoothing: number): ([number, number] | null)[] {
    this.ema.length = srcs.length;
    return srcs.map((src, slot) => {
      // A baseline's map, or the guided map's CPU twin (guidedMap(), made with the result), else the points' heat.
      const map = 'map' in src ? src.map : heatmap(src.points, heat.width, heat.height, DEFAULT_POST.sigma);
      // EMA over frames, per slot as on the GPU: a new size (or smoothing 0) starts over from this frame.
      const s = smoothing,
        ema = this.ema[slot];
      if (s > 0 && ema?.length === map.length)
        for (let i = 0; i < map.length; i++) ema[i] = s * ema[i] + (1 - s) * map[i];
      else this.ema[slot] = map.slice();
      return 'map' in src ? null : peak(map, heat.width);
    });
  }

  draw(rects: Rect[], size: Size, o: OverlayOptions) {
    const ctx = this.ctx;
    if (!ctx) return;
    ctx.clearRect(0, 0, size.width, size.height);
    if (o.heatmap && this.ema.length) {
      // One class through the colormap; several in their hues (classOverlay, the twin of the GPU overlay's pass).
      const rgba =
        this.ema.length > 1
          ? classOverlay(this.ema, CLASS_COLORS, o.opacity)
          : colorize(this.ema[0], o.colormap, o.opacity);
      ctx.putImageData(new ImageData(rgba, size.width, size.height), 0, 0);
    }
    for (const r of rects) {
      ctx.fillStyle = `rgba(${r.color
        .slice(0, 3)
        .map((c) => Math.round(c * 255))
        .join(',')},${r.color[3]})`;
      ctx.fillRect(r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0);
    }
  }

  /** Test path: the canvas as drawn by the last frame, premultiplied RGBA8 (as the GPU path's read-back). */
  async lastOverlayPixels() {
    const c = this.canvas,
      ctx = this.ctx;
    if (!c || !ctx) throw new Error('no overlay canvas on the fallback path');
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    const pixels = new Uint8Array(data.length);
    for (let i = 0; i < data.length; i += 4) {
      const a = data[i + 3];
      for (let k = 0; k < 3; k++) pixels[i + k] = Math.round((data[i + k] * a) / 255);
      pixels[i + 3] = a;
    }
    return { width: c.width, height: c.height, pixels };
  }

  destroy() {
    this.acts.dispose();
    this.ctx?.clearRect(0, 0, this.canvas!.width, this.canvas!.height);
  }
}
